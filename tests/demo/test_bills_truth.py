"""Bills: billed as contracted, anomalies at the requested rates, and a reconciliation
of the generated bills finds exactly the ground truth (100% precision and recall)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.contracts import contract
from pipelines.rating import rate_shipments
from pipelines.reconciliation.engine import CarrierSettings, PeriodInputs, reconcile
from pipelines.reconciliation.periods import billing_periods
from storage.config import load_carriers, load_rate_cards

from .conftest import END, RATES, START, Generated

CARRIER_COUNT = 5


def test_bill_files_are_written_in_each_carriers_style(generated: Generated) -> None:
    inbox = generated.root / "bills" / "inbox"
    found = {
        "DHL": sorted((inbox / "DHL").glob("*.csv")),
        "FOURPX": sorted((inbox / "FOURPX").glob("*.xml")),
        "YUNEXPRESS": sorted((inbox / "YUNEXPRESS").glob("*.xlsx")),
        "YANWEN": sorted((inbox / "YANWEN").glob("*.pdf")),
        "UPS": sorted((generated.root / "bills" / "api" / "UPS").glob("*.json")),
    }
    for carrier, files in found.items():
        bills = generated.headers.filter(pl.col("carrier") == carrier)["bill_number"]
        assert sorted(f.stem for f in files) == sorted(bills), carrier
        assert files, carrier
    assert sum(len(f) for f in found.values()) == generated.summary.rows["bills"]


def test_stated_totals_foot_and_bills_cover_closed_periods_only(generated: Generated) -> None:
    sums = generated.lines.group_by("bill_number").agg(pl.col("amount").sum())
    both = generated.headers.join(sums, on="bill_number")
    assert (both["stated_total"] == both["amount"]).all()
    assert (generated.headers["bill_date"] <= END).all()
    assert (generated.headers["period_end"] < generated.headers["bill_date"]).all()


def test_anomaly_counts_match_the_requested_rates(generated: Generated) -> None:
    rates = RATES
    truth = generated.truth("bill_anomalies")
    eligible = generated.summary.eligible
    per_shipment = truth.group_by("anomaly").agg(pl.col("tracking_number").n_unique())
    counts = dict(per_shipment.iter_rows())
    summary = generated.summary.anomalies
    assert summary["bill_anomaly_lines"] == truth.height
    assert all(summary[name] == n for name, n in counts.items())
    for name in (
        "DUPLICATE",
        "WEIGHT_DISCREPANCY",
        "RATE_MISMATCH",
        "FUEL_MISMATCH",
        "UNCONTRACTED_CHARGE",
        "UNKNOWN_SHIPMENT",
    ):
        wanted = getattr(rates, name.lower()) * eligible[name]
        # One quota per carrier: each rounds down on its own.
        assert wanted - CARRIER_COUNT <= counts.get(name, 0) <= wanted, name
    unbilled = generated.truth("unbilled").filter(pl.col("reason") == "INJECTED")
    wanted = rates.unbilled * eligible["UNBILLED"]
    assert wanted - CARRIER_COUNT <= unbilled.height <= wanted
    late = generated.summary
    assert late.anomalies["late_documents"] == int(
        rates.late_document * late.eligible["late_documents"]
    )
    assert late.anomalies["snapshot_discrepancies"] == int(
        rates.snapshot_discrepancy * late.eligible["snapshot_discrepancies"]
    )
    assert late.anomalies["negative_stock_receipts"] == int(
        rates.negative_stock_receipt * late.eligible["negative_stock_receipts"]
    )


def test_one_anomaly_per_line_and_per_shipment(generated: Generated) -> None:
    truth = generated.truth("bill_anomalies")
    assert truth.select("bill_number", "line_number").is_unique().all()
    kinds = truth.group_by("carrier", "tracking_number").agg(pl.col("anomaly").n_unique())
    assert (kinds["anomaly"] == 1).all()
    unbilled = generated.truth("unbilled")
    billed = generated.lines.select("carrier", "tracking_number").unique()
    shipments = generated.table("shipments").select("shipment_id", "carrier", "tracking_number")
    never_billed = shipments.join(billed, on=["carrier", "tracking_number"], how="anti")
    assert sorted(never_billed["shipment_id"]) == sorted(unbilled["shipment_id"])


def _canonical(generated: Generated) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The captured bills as parsers would hand them over (BILL_HEADERS / BILL_LINES)."""
    headers = generated.headers.with_columns(
        source_sha256=pl.col("bill_number"),
        source_name=pl.col("bill_number"),
        parsed_total=pl.col("stated_total"),
        line_count=pl.lit(0, dtype=pl.Int64),
        parser=pl.lit("capture"),
        parser_version=pl.lit("1"),
        template_id=pl.lit(None, dtype=pl.String),
    ).select(contract("bill_headers").column_names)
    lines = generated.lines.join(
        headers.select("bill_number", "bill_date", "currency", "source_sha256"), on="bill_number"
    ).with_columns(
        tracking_number_raw=pl.col("tracking_number"),
        billed_weight=pl.col("billed_weight_kg"),
        weight_unit=pl.lit("KG"),
        charge_code=pl.lit(None, dtype=pl.String),
        charge_description=pl.lit(None, dtype=pl.String),
        parser=pl.lit("capture"),
        parser_version=pl.lit("1"),
        template_id=pl.lit(None, dtype=pl.String),
        locator=pl.lit("capture"),
    )
    return headers, lines.select(contract("bill_lines").column_names)


def test_reconciliation_finds_exactly_the_ground_truth(generated: Generated) -> None:
    root = generated.root
    cards = load_rate_cards(root / "rate_cards")
    carriers = load_carriers(root / "carriers.yaml")
    read = {
        name: pl.read_csv(root / name / f"{name}.csv", schema=contract(name).schema)
        for name in ("fx_rates", "companies")
    }
    rating = rate_shipments(
        generated.table("shipments"), cards, read["fx_rates"], read["companies"]
    )
    assert rating.unrated.height == 0
    headers, lines = _canonical(generated)
    findings, accrued = [], []
    for config in carriers.carriers:
        for period in billing_periods(config, START, END):
            own = headers.filter(
                (pl.col("carrier") == config.carrier) & (pl.col("period_start") == period.start)
            )
            if not own.height:
                continue
            inputs = PeriodInputs(
                lines.filter(pl.col("carrier") == config.carrier),
                headers.filter(pl.col("carrier") == config.carrier),
                rating,
                period,
            )
            result = reconcile(inputs, CarrierSettings(cards, carriers))
            findings.append(result.findings)
            accrued.append(result.unbilled.select("shipment_id"))
    flagged = (
        pl.concat(findings, how="diagonal_relaxed")
        .filter(pl.col("finding") != "OK")
        .select("carrier", "bill_number", "line_number", pl.col("finding").alias("anomaly"))
        .sort("bill_number", "line_number")
    )
    truth = (
        generated.truth("bill_anomalies").select(flagged.columns).sort("bill_number", "line_number")
    )
    assert truth.height > 0
    assert flagged.equals(truth)
    injected = generated.truth("unbilled").filter(pl.col("reason") == "INJECTED")
    assert sorted(pl.concat(accrued)["shipment_id"]) == sorted(injected["shipment_id"])


@pytest.mark.parametrize("carrier", ["DHL", "YUNEXPRESS"])
def test_weight_discrepancies_bill_more_weight_than_we_shipped(
    generated: Generated, carrier: str
) -> None:
    truth = generated.truth("bill_anomalies").filter(
        (pl.col("anomaly") == "WEIGHT_DISCREPANCY") & (pl.col("carrier") == carrier)
    )
    assert truth.height > 0
    root = generated.root
    cards = load_rate_cards(root / "rate_cards")
    fx = pl.read_csv(root / "fx_rates" / "fx_rates.csv", schema=contract("fx_rates").schema)
    companies = pl.read_csv(
        root / "companies" / "companies.csv", schema=contract("companies").schema
    )
    ours = rate_shipments(generated.table("shipments"), cards, fx, companies).shipment_ratings
    billed = generated.lines.join(
        truth.select("bill_number", "line_number"), on=["bill_number", "line_number"]
    ).join(ours.select("tracking_number", "chargeable_weight_kg"), on="tracking_number")
    extra = billed["billed_weight_kg"] - billed["chargeable_weight_kg"]
    assert (extra >= pl.Series([0.5]).cast(pl.Decimal(12, 3))[0]).all()


def test_generation_is_deterministic_and_seeded(tmp_path) -> None:
    from demo.generate import generate

    span = {"start": date(2026, 1, 1), "end": date(2026, 1, 20)}
    first = generate(tmp_path / "a", seed=3, **span)
    second = generate(tmp_path / "b", seed=3, **span)
    other = generate(tmp_path / "c", seed=4, **span)
    files_a = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    files_b = sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    assert files_a == files_b and len(files_a) == first.files
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert first.rows == second.rows
    assert other.rows != first.rows or any(
        (tmp_path / "a" / rel).read_bytes() != (tmp_path / "c" / rel).read_bytes()
        for rel in files_a
        if (tmp_path / "c" / rel).exists()
    )
    movements = "movements/2026-01-05.parquet"
    assert (tmp_path / "a" / movements).read_bytes() != (tmp_path / "c" / movements).read_bytes()
