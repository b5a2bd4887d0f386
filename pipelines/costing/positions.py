"""Step 1 of the FIFO overlay: every item's interval of cumulative positions in its pool.

Inbound items are the carried open slices (before the range, negative `seq`) and the
range's inbound movements; outbound items the carried open shortfalls and the range's
outbound movements, all in the pool order of DOMAIN.md (pipelines.costing.prepare gives
`seq`). FIFO is then the overlay of the two interval sets (pipelines.costing.intervals):
the k-th unit in is the k-th unit out, negative stock included.
"""

from __future__ import annotations

import polars as pl

from pipelines.costing.state import POOL, CostingState


def position_items(moves: pl.DataFrame, state: CostingState) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Inbound items (l_start, l_end) and outbound items (r_start, r_end) per pool, by seq."""
    layers = state.open_layers.filter(pl.col("transfer_id").is_null()).sort([*POOL, "position"])
    n_layers = layers.height
    state_in = layers.with_row_index("i").select(
        *POOL,
        (pl.col("i").cast(pl.Int64) - n_layers).alias("seq"),
        pl.col("quantity").alias("qty"),
        pl.lit("STATE").alias("kind"),
        pl.lit(None, pl.String).alias("movement_id"),
        pl.lit(None, pl.String).alias("movement_type"),
        pl.lit(None, pl.Datetime("us")).alias("occurred_at"),
        pl.lit(None, pl.Date).alias("day"),
        "origin_id",
        pl.col("origin_a").alias("origin_base"),
        pl.lit(None, pl.String).alias("content_key"),
    )
    range_in = moves.filter(pl.col("is_in")).select(
        *POOL,
        "seq",
        pl.col("quantity").alias("qty"),
        "kind",
        "movement_id",
        "movement_type",
        "occurred_at",
        "day",
        pl.when(pl.col("kind") != "TRANSFER").then(pl.col("movement_id")).alias("origin_id"),
        pl.lit(0, pl.Int64).alias("origin_base"),
        pl.when(pl.col("kind") == "TRANSFER").then(pl.col("reference")).alias("content_key"),
    )
    inb = pl.concat([state_in, range_in]).sort([*POOL, "seq"])
    inb = inb.with_columns(pl.col("qty").cum_sum().over(POOL).alias("l_end")).with_columns(
        (pl.col("l_end") - pl.col("qty")).alias("l_start")
    )
    shorts = state.open_shortfalls.sort([*POOL, "position"])
    n_shorts = shorts.height
    state_out = shorts.with_row_index("i").select(
        *POOL,
        (pl.col("i").cast(pl.Int64) - n_shorts).alias("seq"),
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
    range_out = moves.filter(~pl.col("is_in")).select(
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
    outb = pl.concat([state_out, range_out]).sort([*POOL, "seq"])
    outb = outb.with_columns(pl.col("qty").cum_sum().over(POOL).alias("r_end")).with_columns(
        (pl.col("r_end") - pl.col("qty")).alias("r_start")
    )
    return inb, outb


def last_before(left: pl.DataFrame, right: pl.DataFrame, col: str, name: str) -> pl.DataFrame:
    """For each `left` row, `col` of the last `right` row of its pool with a smaller seq."""
    r = right.select(*POOL, pl.col("seq").alias("rseq"), pl.col(col).alias(name)).sort(
        [*POOL, "rseq"]
    )
    out = left.sort([*POOL, "seq"]).join_asof(
        r,
        left_on="seq",
        right_on="rseq",
        by=POOL,
        check_sortedness=False,
        allow_exact_matches=False,
    )
    return out.with_columns(pl.col(name).fill_null(0)).drop("rseq")


def shortfall_info(pieces: pl.DataFrame, outb: pl.DataFrame) -> pl.DataFrame:
    """Per outbound item: shortfall quantity and the first shortfall position."""
    short = pieces.filter(pl.col("iseq").is_null() | (pl.col("iseq") > pl.col("oseq")))
    agg = short.group_by("oseq").agg(
        pl.col("x_a").min().alias("short_base"), (pl.col("x_b") - pl.col("x_a")).sum().alias("s")
    )
    return outb.join(agg, left_on="seq", right_on="oseq", how="left").with_columns(
        pl.col("s").fill_null(0)
    )
