"""Inventory valuation per pool and day, summed from the postings.

DOMAIN.md "Invariants": opening value + receipts - consumption = closing value, so the
valuation is nothing but the postings added up (pipelines.costing.invariants checks it).

Opening at the start of the range: the carried open layers less the provisional cost
still carried by open shortfalls. Each day with postings is a change row: opening, in,
out and closing quantity and value; a pool's figures hold until its next row.
"""

from __future__ import annotations

import polars as pl

from pipelines.costing.shortfalls import unserved_provisional
from pipelines.costing.state import CostingState
from pipelines.pools import POOL

INBOUND_CATEGORIES = [
    "RECEIPT",
    "RETURN",
    "ADJUST_GAIN",
    "TRANSFER_IN",
    "TRANSFER_IN_INTERCOMPANY",
    "TRANSFER_IN_UNMATCHED",
    "TRANSIT_IN",
    "LANDED_COST_CAPITALISED",
]
"""Posting categories counted as `in` (the others are `out`, sign reversed)."""


def opening(state: CostingState) -> pl.DataFrame:
    """pool, opening_qty, opening_value_cents: the carried layers net of open shortfalls."""
    layers = state.open_layers.group_by(POOL).agg(
        pl.col("quantity").sum().alias("opening_qty"),
        pl.col("value_cents").sum().alias("opening_value_cents"),
    )
    shortfalls = (
        state.open_shortfalls.with_columns(
            unserved_provisional().alias("opening_value_cents"),
            (pl.col("short_b") - pl.col("short_a")).alias("opening_qty"),
        )
        .group_by(POOL)
        .agg(
            (-pl.col("opening_qty").sum()).alias("opening_qty"),
            (-pl.col("opening_value_cents").sum()).alias("opening_value_cents"),
        )
    )
    return (
        pl.concat([layers, shortfalls])
        .group_by(POOL)
        .agg(pl.col("opening_qty").sum(), pl.col("opening_value_cents").sum())
    )


def daily_valuation(postings: pl.DataFrame, opening: pl.DataFrame) -> pl.DataFrame:
    """Change rows per pool and posting day: opening, in, out, closing (qty, value_cents).

    The adjustment is 0: only the warehouse runner posts one, a corrected closed period's
    difference on its first open day (pipelines/costing/closed_period.py)."""
    inbound = pl.col("category").is_in(INBOUND_CATEGORIES)
    day = postings.group_by([*POOL, "posting_date"]).agg(
        pl.col("qty").filter(inbound).sum().alias("in_qty"),
        pl.col("value_cents").filter(inbound).sum().alias("in_value_cents"),
        (-pl.col("qty").filter(~inbound)).sum().alias("out_qty"),
        (-pl.col("value_cents").filter(~inbound)).sum().alias("out_value_cents"),
    )
    day = day.join(opening, on=POOL, how="left").with_columns(
        pl.col("opening_qty").fill_null(0), pl.col("opening_value_cents").fill_null(0)
    )
    day = day.sort([*POOL, "posting_date"]).with_columns(
        (pl.col("in_qty") - pl.col("out_qty")).cum_sum().over(POOL).alias("net_qty"),
        (pl.col("in_value_cents") - pl.col("out_value_cents"))
        .cum_sum()
        .over(POOL)
        .alias("net_value_cents"),
    )
    day = day.with_columns(
        (pl.col("opening_qty") + pl.col("net_qty")).alias("closing_qty"),
        (pl.col("opening_value_cents") + pl.col("net_value_cents")).alias("closing_value_cents"),
    ).with_columns(
        (pl.col("closing_qty") - pl.col("in_qty") + pl.col("out_qty")).alias("opening_qty"),
        (
            pl.col("closing_value_cents") - pl.col("in_value_cents") + pl.col("out_value_cents")
        ).alias("opening_value_cents"),
    )
    return day.select(
        *POOL,
        pl.col("posting_date").alias("day"),
        "opening_qty",
        "opening_value_cents",
        "in_qty",
        "in_value_cents",
        "out_qty",
        "out_value_cents",
        "closing_qty",
        pl.lit(0, pl.Int64).alias("adjustment_qty"),
        "closing_value_cents",
        pl.lit(0, pl.Int64).alias("adjustment_value_cents"),
    )
