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
from pipelines.pools import POOL


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
