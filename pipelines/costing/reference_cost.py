"""The pool's reference unit cost at a movement (issue 3, "Rules").

"The pool's reference unit cost is V/Q of its oldest open layer; when none is open, of
the layer that most recently entered the pool; zero, flagged, when none ever did." It
values gains without a stated cost, returns of an unknown issue, unmatched transfers in,
and the provisional cost P of a shortfall. V includes the landed cost in effect on the
layer at that moment (DOMAIN.md "Landed cost" raises a layer's value).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from pipelines.costing.intervals import share
from pipelines.costing.state import CostingState
from pipelines.pools import POOL, is_transit


def reference_origin(
    points: pl.DataFrame,
    segments: pl.DataFrame,
    state: CostingState,
    components: pl.DataFrame,
    since: datetime,
) -> pl.DataFrame:
    """Reference unit cost source at `ref_pos` (null: none entered in range) per point.

    DOMAIN.md: V/Q of the oldest open layer, else of the layer that most recently entered,
    else zero (flagged). Returns the point with ref_origin_id (found in range) or the
    carried ref_value_cents/ref_qty, and `ref_landed_cents_at`: the landed cost on that
    layer in effect at the point's `occurred_at` (see `_reference_landed`).
    """
    seg = segments.select(*POOL, "in_start", "origin_id").sort([*POOL, "in_start"])
    found = points.filter(pl.col("ref_pos").is_not_null()).sort([*POOL, "ref_pos"])
    found = found.join_asof(
        seg, left_on="ref_pos", right_on="in_start", by=POOL, check_sortedness=False
    )
    found = found.rename({"origin_id": "ref_origin_id"}).drop("in_start")
    carried = state.pool_refs.rename({"ref_origin_id": "carried_ref_id"})
    rest = points.filter(pl.col("ref_pos").is_null()).join(carried, on=POOL, how="left")
    found = found.with_columns(
        pl.lit(None, pl.Int64).alias("ref_value_cents"),
        pl.lit(None, pl.Int64).alias("ref_qty"),
        pl.lit(None, pl.String).alias("carried_ref_id"),
        pl.lit(None, pl.Int64).alias("ref_landed_cents"),
    )
    rest = rest.with_columns(pl.lit(None, pl.String).alias("ref_origin_id"))
    both = pl.concat([found, rest.select(found.columns)])
    return _reference_landed(both, components, since)


def _reference_landed(
    points: pl.DataFrame, components: pl.DataFrame, since: datetime
) -> pl.DataFrame:
    """Add `ref_landed_cents_at`: landed cost raising the reference layer's V at `occurred_at`.

    Issue 3: the reference unit cost is V/Q of a layer, and a landed cost on units still
    on hand raises that layer's value. A layer is its whole origin (Q units, value V), so
    every landed share S allocated to the origin and in effect strictly before the point
    (the order of DOMAIN.md: a landed cost posted at the same instant comes after the
    movements of that instant) counts in full: the layer's units are carried at (V+S)/Q
    whether some were issued before (their part of S was expensed) or not. A share that
    takes effect after the movement does not count. A reference carried from an earlier
    range brings its landed cost up to the range start (`ref_landed_cents`); components
    of this range (effective from `since`) are added to it.
    """
    keyed = points.with_row_index("_pt").with_columns(
        pl.coalesce("ref_origin_id", "carried_ref_id").alias("_ref_key")
    )
    hit = (
        keyed.filter(pl.col("_ref_key").is_not_null())
        .select("_pt", "_ref_key", "carried_ref_id", "occurred_at")
        .join(
            components.select(pl.col("origin_id").alias("_ref_key"), "share_cents", "effective_at"),
            on="_ref_key",
        )
        .filter(
            pl.col("effective_at") < pl.col("occurred_at"),
            pl.col("carried_ref_id").is_null() | (pl.col("effective_at") >= since),
        )
        .group_by("_pt")
        .agg(pl.col("share_cents").sum().alias("_landed"))
    )
    return (
        keyed.join(hit, on="_pt", how="left")
        .with_columns(
            (pl.col("_landed").fill_null(0) + pl.col("ref_landed_cents").fill_null(0)).alias(
                "ref_landed_cents_at"
            )
        )
        .sort("_pt")
        .drop("_pt", "_ref_key", "_landed")
    )


def reference_value(refs: pl.DataFrame, known: pl.DataFrame, qty: str) -> pl.DataFrame:
    """round_half_up(qty x V/Q of the reference) where the reference's value is known; V
    includes the landed cost in effect on it (`ref_landed_cents_at`)."""
    r = refs.join(
        known.select(
            pl.col("origin_id").alias("ref_origin_id"),
            pl.col("origin_qty").alias("ref_layer_qty"),
            pl.col("origin_value_cents").alias("ref_layer_cents"),
        ),
        on="ref_origin_id",
        how="left",
    ).with_columns(
        pl.coalesce("ref_layer_cents", "ref_value_cents").alias("ref_layer_cents"),
        pl.coalesce("ref_layer_qty", "ref_qty").alias("ref_layer_qty"),
        (pl.col("ref_origin_id").is_null() & pl.col("ref_value_cents").is_null()).alias("no_ref"),
    )
    return r.with_columns(
        pl.when(pl.col("no_ref"))
        .then(pl.lit(0, pl.Int64))
        .when(pl.col("ref_layer_cents").is_not_null())
        .then(
            share(
                pl.col("ref_layer_cents") + pl.col("ref_landed_cents_at"),
                pl.col(qty),
                pl.col("ref_layer_qty"),
            )
        )
        .alias("ref_cents")
    )


EARLIEST = datetime(1, 1, 1)
"""Where carried items (before the range) sit in time."""


def _last_inbound_before(cand: pl.DataFrame, inb: pl.DataFrame) -> pl.DataFrame:
    """`cand` (a point in another pool) + in_end_before (the pool's inbound positions entered
    by the point's time: an inbound at the same instant comes first, DOMAIN.md order) and
    that pool's last inbound in the range so far (last_in_at, last_in_id; null if none)."""
    entered = (
        inb.with_columns(pl.col("occurred_at").fill_null(EARLIEST).alias("in_at"))
        .group_by(*POOL, "in_at")
        .agg(
            pl.col("in_end").max().alias("in_end_before"),
            pl.col("movement_id").max().alias("last_in_id"),  # null: carried slices only
        )
        .sort("in_at")
    )
    found = cand.sort("occurred_at").join_asof(
        entered, left_on="occurred_at", right_on="in_at", by=POOL, check_sortedness=False
    )
    real = pl.col("last_in_id").is_not_null()
    return found.with_columns(pl.when(real).then(pl.col("in_at")).alias("last_in_at")).drop("in_at")


def _last_outbound_before(cand: pl.DataFrame, outb: pl.DataFrame) -> pl.DataFrame:
    """`cand` + out_end_before: the other pool's outbound positions gone before the point
    (outbounds in time order, ties by movement_id, as the ledger orders them)."""
    carried = outb.filter(pl.col("carried")).with_columns(pl.lit(-1, pl.Int64).alias("rank"))
    in_range = (
        outb.filter(~pl.col("carried"))
        .sort("occurred_at", "movement_id")
        .with_row_index("rank")
        .with_columns(pl.col("rank").cast(pl.Int64))
    )
    ranked = pl.concat([carried, in_range.select(carried.columns)])
    gone = (
        ranked.group_by(*POOL, "rank").agg(pl.col("out_end").max().alias("out_end_before"))
    ).sort("rank")
    point_rank = ranked.select("seq", pl.col("rank").alias("point_rank"))
    return (
        cand.join(point_rank, on="seq")
        .sort("point_rank")
        .join_asof(
            gone,
            left_on="point_rank",
            right_on="rank",
            by=POOL,
            allow_exact_matches=False,
            check_sortedness=False,
        )
        .drop("point_rank", "rank")
    )


def other_warehouse_points(
    points: pl.DataFrame, inb: pl.DataFrame, outb: pl.DataFrame, state: CostingState
) -> pl.DataFrame:
    """Shortfall points whose own pool has no history, moved to where their reference is.

    DOMAIN.md "Negative stock": where the pool has no history, the reference unit cost, at
    that moment, of the same company's pool of that SKU (another warehouse) whose last
    inbound is the latest. `points` (pool, seq, occurred_at, ...) are outbound items of
    `outb`; each comes back in that other pool with its `ref_pos` there (the oldest open
    position if it holds stock, else the last entered; null: the layer carried in
    `state.pool_refs`) and `home_warehouse`, its own. A point with no such pool is left out.
    """
    pools = (
        pl.concat([inb.select(POOL), outb.select(POOL), state.pool_refs.select(POOL)])
        .unique()
        .filter(~is_transit(pl.col("warehouse")))
    )
    cand = (
        points.rename({"warehouse": "home_warehouse"})
        .join(outb.select("seq", "movement_id"), on="seq")
        .join(pools, on=["company", "sku"])
        .filter(pl.col("warehouse") != pl.col("home_warehouse"))
    )
    cand = _last_inbound_before(cand, inb)
    cand = _last_outbound_before(cand, outb).join(
        state.pool_refs.select(*POOL, "last_in_at", "last_in_id"), on=POOL, how="left", suffix="_c"
    )
    cand = cand.with_columns(
        pl.coalesce("last_in_at", "last_in_at_c").alias("last_in_at"),
        pl.coalesce("last_in_id", "last_in_id_c").alias("last_in_id"),
        pl.col("in_end_before").fill_null(0),
        pl.col("out_end_before").fill_null(0),
    ).filter(pl.col("last_in_at").is_not_null())
    chosen = cand.sort("seq", "last_in_at", "last_in_id").group_by("seq").last()
    before_in, before_out = pl.col("in_end_before"), pl.col("out_end_before")
    return chosen.with_columns(
        pl.when(before_out < before_in)
        .then(before_out)
        .when(before_in > 0)
        .then(before_in - 1)
        .alias("ref_pos")
    ).select(*points.columns, "ref_pos", "home_warehouse")
