"""Negative stock: units issued before they were received (DOMAIN.md "Negative stock").

An outbound position met by no earlier inbound is a shortfall. It is costed at once at a
provisional cost P (the reference unit cost x the short units) and carried, positions
[short_a, short_b) of the movement's `short_qty` units, until an inbound serves it; the
serving piece then costs its real slice, and the difference with its cumulative-rounding
share of P is a TRUE_UP. Open shortfalls carry minus their unserved provisional cost in
the valuation.
"""

from __future__ import annotations

import polars as pl

from pipelines.costing.intervals import slice_cost
from pipelines.costing.state import OPEN_SHORTFALLS_SCHEMA, CostingState
from pipelines.pools import POOL

SHORT = ["SERVED", "SHORT"]


def with_unmet(pieces: pl.DataFrame, outb: pl.DataFrame) -> pl.DataFrame:
    """Outbound items + unmet_qty (units no earlier inbound met) and first_short_pos."""
    short = pieces.filter(pl.col("in_seq").is_null() | (pl.col("in_seq") > pl.col("out_seq")))
    agg = short.group_by("out_seq").agg(
        pl.col("pos_start").min().alias("first_short_pos"),
        (pl.col("pos_end") - pl.col("pos_start")).sum().alias("unmet_qty"),
    )
    return outb.join(agg, left_on="seq", right_on="out_seq", how="left").with_columns(
        pl.col("unmet_qty").fill_null(0)
    )


def is_new_shortfall() -> pl.Expr:
    """Outbound movements of this range with a shortfall (they need a provisional cost)."""
    return ~pl.col("carried") & (pl.col("unmet_qty") > 0)


def with_provisional_cost(outb: pl.DataFrame, provisional: pl.DataFrame) -> pl.DataFrame:
    """Outbound items with P, the shortfall's unit count and the pool-to-shortfall shift.

    `provisional`: seq, ref_provisional_cents for this range's shortfalls; a carried one
    keeps its own P, `short_qty` and positions."""
    return outb.join(provisional, on="seq", how="left").with_columns(
        pl.coalesce("provisional_cents", "ref_provisional_cents")
        .fill_null(0)
        .alias("provisional_cents"),
        pl.when(pl.col("carried"))
        .then(pl.col("short_qty"))
        .otherwise(pl.col("unmet_qty"))
        .alias("short_qty"),
        pl.when(pl.col("carried"))
        .then(pl.col("short_a") - pl.col("out_start"))
        .otherwise(-pl.col("first_short_pos"))
        .alias("short_shift"),
    )


def with_shortfall_shares(pieces: pl.DataFrame) -> pl.DataFrame:
    """Served and short pieces + their shortfall positions and share of P; served pieces
    + their TRUE_UP (real cost - provisional share)."""
    short = pl.col("category").is_in(SHORT)
    pieces = pieces.with_columns(
        pl.when(short).then(pl.col("pos_start") + pl.col("short_shift")).alias("short_a"),
        pl.when(short).then(pl.col("pos_end") + pl.col("short_shift")).alias("short_b"),
    )
    pieces = pieces.with_columns(
        pl.when(short)
        .then(
            slice_cost(
                pl.col("provisional_cents"),
                pl.col("short_a"),
                pl.col("short_b"),
                pl.col("short_qty"),
            )
        )
        .alias("provisional_share_cents")
    )
    return pieces.with_columns(
        pl.when(pl.col("category") == "SERVED")
        .then(pl.col("cost_cents") - pl.col("provisional_share_cents"))
        .alias("true_up_cents")
    )


def unserved_provisional() -> pl.Expr:
    """The provisional cost still carried on positions [short_a, short_b)."""
    return slice_cost(
        pl.col("provisional_cents"), pl.col("short_a"), pl.col("short_b"), pl.col("short_qty")
    )


def open_shortfalls(state: CostingState) -> pl.DataFrame:
    """Open shortfalls with the provisional cost still carried on their unserved units."""
    shorts = state.open_shortfalls
    return shorts.with_columns(
        (pl.col("short_b") - pl.col("short_a")).alias("quantity"),
        unserved_provisional().alias("unserved_provisional_cents"),
    )


def carried_shortfalls(pieces: pl.DataFrame, outs: pl.DataFrame) -> pl.DataFrame:
    """The SHORT pieces as the next range's open shortfalls (positions renumbered there)."""
    times = outs.select(pl.col("seq").alias("out_seq"), "occurred_at")
    return (
        pieces.filter(pl.col("category") == "SHORT")
        .join(times, on="out_seq", how="left")
        .select(
            *POOL,
            pl.col("pos_start").alias("position"),
            pl.col("out_movement_id").alias("movement_id"),
            pl.col("out_type").alias("movement_type"),
            "occurred_at",
            "short_a",
            "short_b",
            "short_qty",
            "provisional_cents",
        )
        .cast(OPEN_SHORTFALLS_SCHEMA)
    )


def provisional_flags(outs: pl.DataFrame) -> pl.DataFrame:
    """One NEGATIVE_STOCK_PROVISIONAL flag per outbound movement of the range with a shortfall."""
    return outs.filter(is_new_shortfall()).select(
        "movement_id",
        pl.lit("NEGATIVE_STOCK_PROVISIONAL").alias("flag"),
        pl.format("{} units short, costed provisionally", pl.col("unmet_qty")).alias("detail"),
    )
