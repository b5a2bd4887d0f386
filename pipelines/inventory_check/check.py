"""Computed end-of-day quantity against the WMS's own snapshot, per warehouse and sku.

Issue 3, item 3: every discrepancy listed, and accuracy (the share of rows that match)
per warehouse. A row is a (warehouse, sku) present on either side with a non-zero
quantity; a side without the row counts zero, so stock the WMS does not know of and
stock the ledger does not know of are both discrepancies, never silently ignored.
In-transit pools have no WMS counterpart and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from pipelines.pools import is_transit


@dataclass(frozen=True)
class SnapshotCheck:
    discrepancies: pl.DataFrame
    """snapshot_date, warehouse, sku, computed_qty, snapshot_qty, difference."""
    accuracy: pl.DataFrame
    """snapshot_date, warehouse, rows, matching, accuracy (0..1)."""


def check_snapshot(balances: pl.DataFrame, snapshots: pl.DataFrame, day: date) -> SnapshotCheck:
    """Compare `balances` (warehouse, sku, closing_qty: e.g. CostingResult.valuation_on(day))
    with the `snapshots` contract rows of `day`."""
    computed = (
        balances.filter(~is_transit(pl.col("warehouse")))
        .group_by("warehouse", "sku")
        .agg(pl.col("closing_qty").sum().alias("computed_qty"))
    )
    snap = (
        snapshots.filter(pl.col("snapshot_date") == day)
        .group_by("warehouse", "sku")
        .agg(pl.col("quantity").sum().alias("snapshot_qty"))
    )
    rows = computed.join(snap, on=["warehouse", "sku"], how="full", coalesce=True).with_columns(
        pl.col("computed_qty").fill_null(0), pl.col("snapshot_qty").fill_null(0)
    )
    rows = rows.filter((pl.col("computed_qty") != 0) | (pl.col("snapshot_qty") != 0)).with_columns(
        pl.lit(day).alias("snapshot_date"),
        (pl.col("computed_qty") - pl.col("snapshot_qty")).alias("difference"),
    )
    accuracy = (
        rows.group_by("snapshot_date", "warehouse")
        .agg(pl.len().alias("rows"), (pl.col("difference") == 0).sum().alias("matching"))
        .with_columns((pl.col("matching") / pl.col("rows")).alias("accuracy"))
        .sort("warehouse")
    )
    discrepancies = rows.filter(pl.col("difference") != 0).select(
        "snapshot_date", "warehouse", "sku", "computed_qty", "snapshot_qty", "difference"
    )
    return SnapshotCheck(discrepancies.sort("warehouse", "sku"), accuracy)
