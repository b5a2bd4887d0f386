"""Step 1 of the FIFO overlay: every item's interval of cumulative positions in its pool.

Inbound items are the carried open slices (before the range, negative `seq`) and the
range's inbound movements; outbound items the carried open shortfalls and the range's
outbound movements, all in the pool order of DOMAIN.md (pipelines.costing.ledger gives
`seq`). FIFO is then the overlay of the two interval sets (pipelines.costing.intervals):
the k-th unit in is the k-th unit out, negative stock included.
"""

from __future__ import annotations

import polars as pl

from pipelines.costing.state import CostingState
from pipelines.pools import POOL


def _carried_seq(frame: pl.DataFrame) -> pl.Expr:
    """Negative seqs -n..-1 for `frame`'s n carried rows (already in pool order)."""
    return pl.int_range(pl.len(), dtype=pl.Int64) - frame.height


def _with_span(items: pl.DataFrame, start: str, end: str) -> pl.DataFrame:
    items = items.sort([*POOL, "seq"])
    return items.with_columns(pl.col("qty").cum_sum().over(POOL).alias(end)).with_columns(
        (pl.col(end) - pl.col("qty")).alias(start)
    )


def inbound_items(moves: pl.DataFrame, state: CostingState) -> pl.DataFrame:
    """Carried open slices and inbound movements with their span [in_start, in_end).

    `origin_a` is the item's first position in its origin layer; `carries_transfer` the
    transfer whose content a TRANSFER_IN brings (pipelines.costing.transfers)."""
    layers = state.open_layers.filter(pl.col("transfer_id").is_null()).sort([*POOL, "position"])
    carried = layers.select(
        *POOL,
        _carried_seq(layers).alias("seq"),
        pl.col("quantity").alias("qty"),
        pl.lit("STATE").alias("kind"),
        pl.lit(None, pl.String).alias("movement_id"),
        pl.lit(None, pl.String).alias("movement_type"),
        pl.lit(None, pl.Datetime("us")).alias("occurred_at"),
        pl.lit(None, pl.Date).alias("day"),
        "origin_id",
        "origin_a",
        pl.lit(None, pl.String).alias("carries_transfer"),
    )
    in_range = moves.filter(pl.col("is_in")).select(
        *POOL,
        "seq",
        pl.col("quantity").alias("qty"),
        "kind",
        "movement_id",
        "movement_type",
        "occurred_at",
        "day",
        pl.when(pl.col("kind") != "TRANSFER").then(pl.col("movement_id")).alias("origin_id"),
        pl.lit(0, pl.Int64).alias("origin_a"),
        pl.when(pl.col("kind") == "TRANSFER").then(pl.col("reference")).alias("carries_transfer"),
    )
    return _with_span(pl.concat([carried, in_range]), "in_start", "in_end")


def outbound_items(moves: pl.DataFrame, state: CostingState) -> pl.DataFrame:
    """Carried open shortfalls and outbound movements with their span [out_start, out_end)."""
    shorts = state.open_shortfalls.sort([*POOL, "position"])
    carried = shorts.select(
        *POOL,
        _carried_seq(shorts).alias("seq"),
        (pl.col("short_b") - pl.col("short_a")).alias("qty"),
        "movement_id",
        "movement_type",
        "occurred_at",
        pl.col("occurred_at").dt.date().alias("day"),
        pl.lit(None, pl.String).alias("reference"),
        pl.lit(True).alias("carried"),
        "short_a",
        "short_qty",
        "provisional_cents",
    )
    in_range = moves.filter(~pl.col("is_in")).select(
        *POOL,
        "seq",
        pl.col("quantity").alias("qty"),
        "movement_id",
        "movement_type",
        "occurred_at",
        "day",
        "reference",
        pl.lit(False).alias("carried"),
        pl.lit(None, pl.Int64).alias("short_a"),
        pl.lit(None, pl.Int64).alias("short_qty"),
        pl.lit(None, pl.Int64).alias("provisional_cents"),
    )
    return _with_span(pl.concat([carried, in_range]), "out_start", "out_end")


def last_before(left: pl.DataFrame, right: pl.DataFrame, col: str, name: str) -> pl.DataFrame:
    """For each `left` row, `col` of the last `right` row of its pool with a smaller seq."""
    r = right.select(*POOL, pl.col("seq").alias("right_seq"), pl.col(col).alias(name)).sort(
        [*POOL, "right_seq"]
    )
    out = left.sort([*POOL, "seq"]).join_asof(
        r,
        left_on="seq",
        right_on="right_seq",
        by=POOL,
        check_sortedness=False,
        allow_exact_matches=False,
    )
    return out.with_columns(pl.col(name).fill_null(0)).drop("right_seq")
