"""The movement ledger, snapshots and landed costs the generator writes behave like a real business.

Every check reads the written files back (the same files the loaders read),
and compares them with the ground truth the generator wrote beside them.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from demo.world import WAREHOUSES
from pipelines.contracts.inputs import OUTBOUND_TYPES

from .conftest import END, START, Generated


def _running_balances(movements: pl.DataFrame) -> pl.DataFrame:
    signed = (
        pl.when(pl.col("movement_type").is_in(OUTBOUND_TYPES))
        .then(-pl.col("quantity"))
        .otherwise(pl.col("quantity"))
    )
    return movements.sort("warehouse", "sku", "occurred_at", "movement_id").with_columns(
        balance=signed.cum_sum().over("warehouse", "sku", order_by=None)
    )


def test_stock_is_never_negative_except_at_injected_points(generated: Generated) -> None:
    balances = _running_balances(generated.table("movements"))
    negative = balances.filter(
        pl.col("movement_type").is_in(OUTBOUND_TYPES) & (pl.col("balance") < 0)
    )
    truth = generated.truth("negative_stock")
    assert truth.height > 0, "the demo must contain negative stock to exercise the costing rule"
    assert sorted(negative["movement_id"]) == sorted(truth["movement_id"])
    # Each negative pool-day is cured the same evening by a receipt recorded after the sales.
    cured = (
        balances.with_columns(day=pl.col("occurred_at").dt.date())
        .group_by("warehouse", "sku", "day")
        .agg(pl.col("balance").last().alias("end_balance"))
    )
    negative_days = negative.with_columns(day=pl.col("occurred_at").dt.date()).join(
        cured, on=["warehouse", "sku", "day"]
    )
    assert (negative_days["end_balance"] >= 0).all()
    late_receipts = balances.filter(
        (pl.col("movement_type") == "RECEIPT") & (pl.col("occurred_at").dt.hour() == 23)
    )
    assert late_receipts.height == generated.summary.anomalies["negative_stock_receipts"]


def test_snapshots_equal_true_stock_except_listed_discrepancies(generated: Generated) -> None:
    movements = generated.table("movements").with_columns(day=pl.col("occurred_at").dt.date())
    snapshots = generated.table("snapshots")
    days = snapshots.select("snapshot_date").unique()
    signed = (
        pl.when(pl.col("movement_type").is_in(OUTBOUND_TYPES))
        .then(-pl.col("quantity"))
        .otherwise(pl.col("quantity"))
    )
    daily = movements.group_by("warehouse", "sku", "day").agg(signed.sum().alias("net"))
    grid = (
        daily.select("warehouse", "sku")
        .unique()
        .join(days.rename({"snapshot_date": "day"}), how="cross")
    )
    true_stock = (
        grid.join(daily, on=["warehouse", "sku", "day"], how="left")
        .with_columns(pl.col("net").fill_null(0))
        .sort("day")
        .with_columns(true_quantity=pl.col("net").cum_sum().over("warehouse", "sku"))
        .filter(pl.col("true_quantity") != 0)
        .rename({"day": "snapshot_date"})
        .select("snapshot_date", "warehouse", "sku", "true_quantity")
    )
    compared = true_stock.join(
        snapshots, on=["snapshot_date", "warehouse", "sku"], how="full", coalesce=True
    ).with_columns(pl.col("true_quantity", "quantity").fill_null(0))
    differing = compared.filter(pl.col("true_quantity") != pl.col("quantity")).sort(
        "snapshot_date", "warehouse", "sku"
    )
    truth = generated.truth("snapshot_discrepancies").sort("snapshot_date", "warehouse", "sku")
    assert truth.height > 0
    assert differing.select(
        "snapshot_date",
        "warehouse",
        "sku",
        "true_quantity",
        pl.col("quantity").alias("wms_quantity"),
    ).equals(truth)
    assert set(snapshots["warehouse"]) <= {w.code for w in WAREHOUSES}


def test_late_documents_are_exactly_those_filed_after_their_day(generated: Generated) -> None:
    folder = generated.root / "movements"
    loaded = pl.concat(
        pl.read_parquet(f).select(
            "movement_id", "occurred_at", pl.lit(f.stem).str.to_date().alias("load_date")
        )
        for f in sorted(folder.iterdir())
    )
    late = loaded.filter(pl.col("occurred_at").dt.date() < pl.col("load_date")).sort("movement_id")
    assert late.equals(generated.truth("late_documents"))
    assert (loaded["occurred_at"].dt.date() <= loaded["load_date"]).all(), (
        "no document from the future"
    )
    assert late.height > 0


def test_every_day_has_its_files(generated: Generated) -> None:
    days = (END - START).days + 1
    for table, suffix in (
        ("movements", ".parquet"),
        ("shipments", ".csv"),
        ("landed_costs", ".csv"),
        ("snapshots", ".parquet"),
    ):
        names = sorted(p.name for p in (generated.root / table).iterdir())
        assert names == [f"{START + timedelta(days=i)}{suffix}" for i in range(days)], table


def test_cross_references_hold(generated: Generated) -> None:
    movements = generated.table("movements")
    issues = movements.filter(pl.col("movement_type") == "ISSUE")
    returns = movements.filter(pl.col("movement_type") == "RETURN")
    joined = returns.join(
        issues.select(
            "movement_id",
            "warehouse",
            "sku",
            pl.col("quantity").alias("sold"),
            pl.col("occurred_at").alias("sold_at"),
        ),
        left_on="reference",
        right_on="movement_id",
        how="left",
    )
    assert joined["sold"].null_count() == 0, "every RETURN references an issue"
    assert (joined["warehouse"] == joined["warehouse_right"]).all()
    assert (joined["sku"] == joined["sku_right"]).all()
    assert (joined["quantity"] <= joined["sold"]).all()
    assert (joined["occurred_at"] > joined["sold_at"]).all()

    legs = movements.filter(pl.col("movement_type").is_in(["TRANSFER_OUT", "TRANSFER_IN"]))
    pairs = legs.filter(pl.col("movement_type") == "TRANSFER_IN").join(
        legs.filter(pl.col("movement_type") == "TRANSFER_OUT"), on="reference", suffix="_out"
    )
    ins = legs.filter(pl.col("movement_type") == "TRANSFER_IN").height
    assert ins > 0 and pairs.height == ins, "every arrival has exactly one dispatch"
    assert (pairs["company"] == pairs["company_out"]).all()
    assert (pairs["warehouse"] != pairs["warehouse_out"]).all()
    assert (pairs["quantity"] == pairs["quantity_out"]).all()
    assert (pairs["occurred_at"].dt.date() > pairs["occurred_at_out"].dt.date()).all()

    receipts = movements.filter(pl.col("movement_type") == "RECEIPT")
    assert receipts["unit_cost"].null_count() == 0
    assert set(receipts["currency"]) == {"CNY", "USD"}
    landed = generated.table("landed_costs")
    assert landed.height > 0
    owners = receipts.select("reference", "company", "warehouse").unique()
    assert owners.select("reference").is_unique().all(), "a purchase document has one warehouse"
    matched = landed.join(owners, left_on="receipt_reference", right_on="reference", how="left")
    assert matched.filter(pl.col("company_right").is_null()).height == 0
    assert (matched["company"] == matched["company_right"]).all()
    billed_in = {w.code: w.landed_cost_currency for w in WAREHOUSES}
    assert (matched["currency"] == matched["warehouse"].replace_strict(billed_in)).all()

    gains = movements.filter(pl.col("movement_type") == "ADJUST_GAIN")
    assert 0 < gains["unit_cost"].null_count() < gains.height, "gains with and without a cost"


def test_one_shipment_per_order_we_deliver(generated: Generated) -> None:
    movements = generated.table("movements")
    shipments = generated.table("shipments")
    delivering = [w.code for w in WAREHOUSES if w.carriers]
    orders = (
        movements.filter(
            (pl.col("movement_type") == "ISSUE") & pl.col("warehouse").is_in(delivering)
        )
        .select("reference")
        .unique()
    )
    assert orders.height == shipments.height
    assert set(orders["reference"]) == set(shipments["order_id"])
    assert shipments["tracking_number"].n_unique() == shipments.height
    assert set(shipments["carrier"]) == {"DHL", "UPS", "FOURPX", "YUNEXPRESS", "YANWEN"}
    marketplace = movements.filter(
        (pl.col("movement_type") == "ISSUE") & ~pl.col("warehouse").is_in(delivering)
    )
    assert marketplace.height > 0
    assert not set(marketplace["reference"]) & set(shipments["order_id"])


def test_sales_follow_the_weekly_pattern(generated: Generated) -> None:
    orders = (
        generated.table("movements")
        .filter(pl.col("movement_type") == "ISSUE")
        .group_by(pl.col("occurred_at").dt.date().alias("day"))
        .agg(pl.col("reference").n_unique().alias("orders"))
        .group_by(pl.col("day").dt.weekday().alias("weekday"))
        .agg(pl.col("orders").mean())
    )
    mean = dict(orders.iter_rows())
    assert mean[1] > mean[6] * 1.1, "Mondays sell clearly more than Saturdays"


def test_summary_reads_well_in_a_terminal(generated: Generated) -> None:
    text = str(generated.summary)
    assert text.splitlines()[0] == f"demo data in {generated.root}"
    for needle in ("movements", "shipments", "late_documents", "WEIGHT_DISCREPANCY", "UNBILLED"):
        assert needle in text
