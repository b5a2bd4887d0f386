"""On generated demo data, every injected anomaly is found and nothing else is flagged.

End to end through the real components: demo.generate writes shipments, rate
cards and the carriers' bills in their own formats; the UPS bills are fetched
from the demo carrier API; every bill is parsed by the parser registry; the
shipments are rated; every billing period of every carrier is reconciled; and
the findings are compared with ground_truth/ (precision and recall both 100%).
Bill lines are compared as multisets of (carrier, bill number, tracking number,
charge type, finding), so a duplicate and its original are told apart by the
finding; unbilled shipments as (carrier, billing period, shipment).
"""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.contracts.inputs import COMPANIES, FX_RATES, SHIPMENTS
from pipelines.rating import rate_shipments
from pipelines.reconciliation import (
    CarrierSettings,
    PeriodInputs,
    billed_not_split,
    billing_periods,
    lines_without_one_finding,
    reconcile,
    rollforward_breaks,
    rollforward_chain_breaks,
)
from storage.config import load_carriers, load_rate_cards
from storage.layout import DataLayout
from storage.parts import ParquetFindingsSink

START, END = date(2026, 1, 1), date(2026, 3, 31)
TOKEN = "ground-truth-test-token"
NEEDED = ("demo.generate", "demo.carrier_api", "parsers.ingest", "parsers.connectors.http_api")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(importlib.util.find_spec(m) is None for m in NEEDED),
        reason=f"needs the demo generator and the bill parsers ({', '.join(NEEDED)})",
    ),
]


def _bills(layout: DataLayout) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    from demo.carrier_api import serve
    from parsers.connectors.http_api import ApiSource, BearerToken, fetch_bills
    from parsers.ingest import ingest_many

    with serve(layout, TOKEN) as url:
        fetch_bills(ApiSource(url, "UPS", BearerToken(TOKEN)), layout)
    files = sorted(p for p in layout.bills_inbox.rglob("*") if p.is_file())
    outcomes = ingest_many(
        [(p, p.parent.name) for p in files], layout.raw_store, layout.quarantine_dir, workers=1
    )
    quarantined = [o for o in outcomes if o.status == "quarantined"]
    assert not quarantined, [(o.source_name, o.reason) for o in quarantined]
    headers = pl.concat(
        [o.headers for o in outcomes if o.headers is not None], how="vertical_relaxed"
    )
    lines = pl.concat([o.lines for o in outcomes if o.lines is not None], how="vertical_relaxed")
    return headers, lines, len(quarantined)


@pytest.fixture(scope="module")
def reconciled(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from demo.generate import generate

    root: Path = tmp_path_factory.mktemp("demo")
    generate(root, scale=1, seed=11, start=START, end=END)
    layout = DataLayout(root)
    headers, lines, _ = _bills(layout)
    shipments = pl.concat(
        [pl.read_csv(p, schema=SHIPMENTS.schema) for p in layout.reference_files("shipments")]
    )
    fx = pl.concat(
        [pl.read_csv(p, schema=FX_RATES.schema) for p in layout.reference_files("fx_rates")]
    )
    companies = pl.concat(
        [pl.read_csv(p, schema=COMPANIES.schema) for p in layout.reference_files("companies")]
    )
    cards = load_rate_cards(layout.rate_cards_dir)
    carriers = load_carriers(layout.carriers_file)
    rating = rate_shipments(shipments, cards, fx, companies)
    results = []
    for cfg in carriers.carriers:
        for period in billing_periods(cfg, START, END):
            inputs = PeriodInputs(lines, headers, rating, period)
            results.append((period, reconcile(inputs, CarrierSettings(cards, carriers))))
    return {
        "layout": layout,
        "results": results,
        "lines": lines,
        "headers": headers,
        "rating": rating,
    }


def _multiset(frame: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    return frame.group_by(cols).len().sort(cols)


def test_every_injected_bill_anomaly_is_found_and_nothing_else(reconciled: dict) -> None:
    truth = pl.read_parquet(reconciled["layout"].ground_truth_dir / "bill_anomalies.parquet")
    findings = pl.concat([r.findings for _, r in reconciled["results"]])
    flagged = findings.filter(pl.col("finding") != "OK").rename({"finding": "anomaly"})
    cols = ["carrier", "bill_number", "tracking_number", "charge_type", "anomaly"]
    got, want = _multiset(flagged, cols), _multiset(truth, cols)
    missed = want.join(got, on=cols, how="anti")
    extra = got.join(want, on=cols, how="anti")
    assert missed.is_empty(), f"recall < 100%: {missed.height} missed, e.g. {missed.head(5).rows()}"
    assert extra.is_empty(), f"precision < 100%: {extra.height} extra, e.g. {extra.head(5).rows()}"
    assert got.equals(want)
    assert truth.height > 0


def test_every_unbilled_shipment_is_accrued_in_its_period_and_nothing_else(
    reconciled: dict,
) -> None:
    truth = pl.read_parquet(reconciled["layout"].ground_truth_dir / "unbilled.parquet")
    accrued = pl.concat([r.unbilled for _, r in reconciled["results"]])
    cols = ["carrier", "period_start", "shipment_id"]
    want = truth.select("carrier", pl.col("period").alias("period_start"), "shipment_id").sort(cols)
    got = accrued.select(cols).sort(cols)
    assert got.equals(want), (
        f"missed {want.join(got, on=cols, how='anti').head(5).rows()}, "
        f"extra {got.join(want, on=cols, how='anti').head(5).rows()}"
    )


def test_invariants_hold_on_every_period(reconciled: dict) -> None:
    lines, headers = reconciled["lines"], reconciled["headers"]
    previous: dict[str, pl.DataFrame] = {}
    for period, result in reconciled["results"]:
        bills = result.payable_vouchers.select("source_sha256", "bill_number")
        period_lines = lines.join(bills, on=["source_sha256", "bill_number"])
        assert lines_without_one_finding(period_lines, result.findings).is_empty()
        assert billed_not_split(result.findings).is_empty()
        assert rollforward_breaks(result.accrual_rollforward).is_empty()
        if period.carrier in previous:
            assert rollforward_chain_breaks(
                previous[period.carrier], result.accrual_rollforward
            ).is_empty()
        previous[period.carrier] = result.accrual_rollforward
    assert headers.height == sum(r.payable_vouchers.height for _, r in reconciled["results"])


def test_findings_streamed_in_small_buckets_equal_the_in_memory_ones(
    reconciled: dict, tmp_path: Path
) -> None:
    """The second period of every carrier (it has earlier bills: duplicates across
    periods, releases) again with a sink and 8+ buckets: the same findings, summary,
    vouchers, disputes and accruals as the in-memory run. (Every period with ~20
    buckets each: also equal, but 140 s.)"""
    lines, headers, rating = reconciled["lines"], reconciled["headers"], reconciled["rating"]
    layout: DataLayout = reconciled["layout"]
    cards = load_rate_cards(layout.rate_cards_dir)
    carriers = load_carriers(layout.carriers_file)
    seen: dict[str, int] = {}
    checked = 0
    for period, whole in reconciled["results"]:
        seen[period.carrier] = seen.get(period.carrier, 0) + 1
        if seen[period.carrier] != 2:
            continue
        size = max(3, -(-whole.findings.height // 8))
        sink = tmp_path / f"{period.carrier}_{period.key}"
        streamed = reconcile(
            PeriodInputs(lines, headers, rating, period),
            CarrierSettings(cards, carriers),
            ParquetFindingsSink(sink),
            bucket_lines=size,
        )
        assert len(streamed.finding_parts) >= 8  # buckets count earlier bills too
        for name in ("findings", "period_summary", "payable_vouchers", "disputes", "accruals"):
            assert getattr(streamed, name).equals(getattr(whole, name)), (period, name)
        checked += 1
    assert checked == len(carriers.carriers)
