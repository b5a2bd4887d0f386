"""From the generated bill files to findings: the UPS bills fetched through the demo carrier
API and the HTTP connector, every bill parsed by the parser registry, reconciled against
the rating of our shipments; the findings must be exactly the ground truth."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from pipelines.contracts import contract
from pipelines.rating import rate_shipments
from pipelines.reconciliation.engine import CarrierSettings, PeriodInputs, reconcile
from pipelines.reconciliation.periods import billing_periods
from storage.config import load_carriers, load_rate_cards
from storage.layout import DataLayout

from .conftest import END, START, Generated

ingest = pytest.importorskip("parsers.ingest", reason="the bill parsers are not available")
carrier_api = pytest.importorskip(
    "demo.carrier_api", reason="the demo carrier API is not available"
)


def _parse_all(layout: DataLayout) -> tuple[pl.DataFrame, pl.DataFrame]:
    headers, lines, failed = [], [], []
    for path in sorted(p for p in layout.bills_inbox.rglob("*") if p.is_file()):
        outcome = ingest.ingest_file(
            path, layout.raw_store, layout.quarantine_dir, path.parent.name
        )
        if outcome.status != "parsed":
            failed.append(f"{path.name}: {outcome.status} {outcome.reason}")
            continue
        headers.append(outcome.headers)
        lines.append(outcome.lines)
    assert not failed, failed
    return pl.concat(headers, how="diagonal_relaxed"), pl.concat(lines, how="diagonal_relaxed")


def test_parsed_bills_reconcile_to_exactly_the_ground_truth(
    generated: Generated, tmp_path: Path
) -> None:
    root = tmp_path / "data"
    shutil.copytree(generated.root, root)
    layout = DataLayout(root)
    fetched = carrier_api.fetch_demo_bills(layout)
    assert fetched.paths["UPS"], "the UPS bills come through the API"
    headers, lines = _parse_all(layout)
    assert headers.height == generated.summary.rows["bills"]
    assert lines.height == generated.summary.rows["bill_lines"]

    cards = load_rate_cards(root / "rate_cards")
    carriers = load_carriers(root / "carriers.yaml")
    fx = pl.read_csv(root / "fx_rates" / "fx_rates.csv", schema=contract("fx_rates").schema)
    companies = pl.read_csv(
        root / "companies" / "companies.csv", schema=contract("companies").schema
    )
    rating = rate_shipments(generated.table("shipments"), cards, fx, companies)
    findings, accrued = [], []
    for config in carriers.carriers:
        own_lines = lines.filter(pl.col("carrier") == config.carrier)
        own_headers = headers.filter(pl.col("carrier") == config.carrier)
        for period in billing_periods(config, START, END):
            if own_headers.filter(pl.col("period_start") == period.start).height:
                inputs = PeriodInputs(own_lines, own_headers, rating, period)
                result = reconcile(inputs, CarrierSettings(cards, carriers))
                findings.append(result.findings)
                accrued.append(result.unbilled.select("shipment_id"))
    flagged = (
        pl.concat(findings, how="diagonal_relaxed")
        .filter(pl.col("finding") != "OK")
        .select("carrier", "bill_number", "line_number", pl.col("finding").alias("anomaly"))
        .sort("bill_number", "line_number")
    )
    truth = generated.truth("bill_anomalies").select(flagged.columns)
    assert flagged.equals(truth.sort("bill_number", "line_number"))
    injected = generated.truth("unbilled").filter(pl.col("reason") == "INJECTED")
    assert sorted(pl.concat(accrued)["shipment_id"]) == sorted(injected["shipment_id"])


def test_costing_flags_and_snapshot_check_match_the_ground_truth(generated: Generated) -> None:
    costing = pytest.importorskip("pipelines.costing", reason="the costing engine is not available")
    check = pytest.importorskip("pipelines.inventory_check", reason="no T-1 snapshot check")

    def with_load_date(name: str) -> pl.DataFrame:
        schema = contract(name).schema
        parts = [
            (
                pl.read_csv(f, schema=schema) if f.suffix == ".csv" else pl.read_parquet(f)
            ).with_columns(load_date=pl.lit(f.stem).str.to_date())
            for f in sorted((generated.root / name).iterdir())
        ]
        return pl.concat(parts)

    inputs = {
        "movements": with_load_date("movements"),
        "landed_costs": with_load_date("landed_costs"),
        **{n: generated.table(n) for n in ("fx_rates", "companies", "skus")},
    }
    result = costing.cost_range(inputs, None, START, END)
    flags = result.flags
    negative = flags.filter(pl.col("flag") == "NEGATIVE_STOCK_PROVISIONAL")["movement_id"]
    late = flags.filter(pl.col("flag") == "LATE_DOCUMENT")["movement_id"]
    assert sorted(negative) == sorted(generated.truth("negative_stock")["movement_id"])
    assert sorted(late) == sorted(generated.truth("late_documents")["movement_id"])

    snapshots = generated.table("snapshots")
    truth = generated.truth("snapshot_discrepancies")
    for day in sorted(set(truth["snapshot_date"]))[:5]:
        found = check.check_snapshot(result.valuation_on(day), snapshots, day).discrepancies
        expected = truth.filter(pl.col("snapshot_date") == day)
        assert (
            found.select("warehouse", "sku", "computed_qty", "snapshot_qty")
            .sort("warehouse", "sku")
            .rows()
            == expected.select("warehouse", "sku", "true_quantity", "wms_quantity")
            .sort("warehouse", "sku")
            .rows()
        )
