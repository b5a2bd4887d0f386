"""Cost of goods sold per outbound movement, and the receipt slices behind every cent.

DOMAIN.md "Issue": an outbound costs the slices it consumed plus, for units short, the
provisional cost P; a shortfall served later adds a TRUE_UP, and landed cost on units
already gone a LANDED_COST adjustment. The consumption detail traces each of those cents
to the origin layer slices it came from.
"""

from __future__ import annotations

import polars as pl

from pipelines.costing.fifo import Fifo
from pipelines.pools import POOL

COGS_COLUMNS = [
    "posting_date",
    *POOL,
    "movement_id",
    "movement_type",
    "kind",
    "landed_cost_id",
    "quantity",
    "consumed_cents",
    "provisional_qty",
    "provisional_cents",
    "amount_cents",
]
ADDED_UP = ("origin_b", "quantity", "amount_cents", "provisional_share_cents", "true_up_cents")
"""Consumption columns summed when adjacent slices merge (the others are the same)."""


def outbound_costs(fifo: Fifo) -> pl.DataFrame:
    """This range's outbound movements + consumed_cents (their consumed pieces) and
    cost_cents (consumed + provisional): what leaves the pool on their day."""
    consumed = (
        fifo.pieces.filter(pl.col("category") == "CONSUMED")
        .group_by("out_seq")
        .agg(pl.col("cost_cents").sum().alias("consumed_cents"))
    )
    outs = fifo.outs.filter(~pl.col("carried")).join(
        consumed, left_on="seq", right_on="out_seq", how="left"
    )
    return outs.with_columns(pl.col("consumed_cents").fill_null(0)).with_columns(
        (pl.col("consumed_cents") + pl.col("provisional_cents")).alias("cost_cents")
    )


def _true_ups(pieces: pl.DataFrame) -> pl.DataFrame:
    return (
        pieces.filter(pl.col("category") == "SERVED")
        .group_by("posting_date", *POOL, "out_movement_id", "out_type")
        .agg(
            pl.col("quantity").sum(),
            pl.col("cost_cents").sum().alias("consumed_cents"),
            pl.col("provisional_share_cents").sum().alias("provisional_cents"),
            pl.col("true_up_cents").sum().alias("amount_cents"),
        )
        .select(
            "posting_date",
            *POOL,
            pl.col("out_movement_id").alias("movement_id"),
            pl.col("out_type").alias("movement_type"),
            pl.lit("TRUE_UP").alias("kind"),
            pl.lit(None, pl.String).alias("landed_cost_id"),
            "quantity",
            "consumed_cents",
            pl.lit(0, pl.Int64).alias("provisional_qty"),
            "provisional_cents",
            "amount_cents",
        )
    )


def cogs(outs: pl.DataFrame, pieces: pl.DataFrame, expensed: pl.DataFrame) -> pl.DataFrame:
    """Cost per outbound movement (kind COST), plus TRUE_UP and LANDED_COST adjustments.

    `outs`: `outbound_costs`; `expensed`: landed cost on units already gone."""
    cost = outs.select(
        pl.col("day").alias("posting_date"),
        *POOL,
        "movement_id",
        "movement_type",
        pl.lit("COST").alias("kind"),
        pl.lit(None, pl.String).alias("landed_cost_id"),
        pl.col("qty").alias("quantity"),
        "consumed_cents",
        pl.col("unmet_qty").alias("provisional_qty"),
        "provisional_cents",
        pl.col("cost_cents").alias("amount_cents"),
    )
    landed = expensed.select(
        "posting_date",
        *POOL,
        "movement_id",
        "movement_type",
        pl.lit("LANDED_COST").alias("kind"),
        "landed_cost_id",
        pl.lit(0, pl.Int64).alias("quantity"),
        pl.lit(0, pl.Int64).alias("consumed_cents"),
        pl.lit(0, pl.Int64).alias("provisional_qty"),
        pl.lit(0, pl.Int64).alias("provisional_cents"),
        "amount_cents",
    )
    out = pl.concat([cost, _true_ups(pieces), landed.select(COGS_COLUMNS)])
    return out.with_columns(
        (pl.col("provisional_qty") > 0).alias("is_provisional"),
        (pl.col("kind") == "TRUE_UP").alias("is_true_up"),
    ).sort("posting_date", *POOL, "movement_id", "kind", "landed_cost_id")


def _merge_adjacent(rows: pl.DataFrame) -> pl.DataFrame:
    """Merge adjacent slices of one origin consumed by one movement on one day.

    The overlay cuts slices at every boundary it saw; merged, the detail does not depend
    on the range run."""
    cols = rows.columns
    key = ["movement_id", "posting_date", "served_by", "origin_id"]
    rows = rows.sort([*key, "origin_a"], nulls_last=True)
    same = pl.all_horizontal(
        *(pl.col(k).eq_missing(pl.col(k).shift(1)) for k in key),
        pl.col("origin_a") == pl.col("origin_b").shift(1),
    )
    rows = rows.with_columns((~same.fill_null(False)).cum_sum().alias("run"))
    merged = rows.group_by("run").agg(
        *(pl.col(c).first() for c in cols if c not in ADDED_UP),
        pl.col("origin_b").last(),
        pl.col("quantity").sum(),
        pl.col("amount_cents").sum(),
        pl.col("provisional_share_cents").fill_null(0).sum(),
        pl.col("true_up_cents").fill_null(0).sum(),
    )
    return merged.with_columns(
        pl.when(pl.col("served_shortfall")).then(pl.col(c)).alias(c)
        for c in ("provisional_share_cents", "true_up_cents")
    ).select(cols)


def consumption(pieces: pl.DataFrame) -> pl.DataFrame:
    """Traceability: every COGS cent to the receipt slices behind it (DOMAIN.md "Issue")."""
    served = pl.col("category") == "SERVED"
    rows = pieces.filter(pl.col("category").is_in(["CONSUMED", "SERVED"])).select(
        "posting_date",
        *POOL,
        pl.col("out_movement_id").alias("movement_id"),
        pl.col("out_type").alias("movement_type"),
        "origin_id",
        "origin_kind",
        "receipt_date",
        "origin_a",
        "origin_b",
        "quantity",
        pl.col("cost_cents").alias("amount_cents"),
        served.alias("served_shortfall"),
        pl.when(served).then(pl.col("in_movement_id")).alias("served_by"),
        "provisional_share_cents",
        "true_up_cents",
    )
    return _merge_adjacent(rows).sort("posting_date", *POOL, "movement_id", "origin_a")
