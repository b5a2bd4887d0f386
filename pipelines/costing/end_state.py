"""The state at the end of a range, for the next one (pipelines.costing.state).

Open pieces and slices still in transit become the open layers (adjacent slices of one
origin merged, positions renumbered), SHORT pieces the open shortfalls, and each pool
keeps the layer that last entered it as its reference; the range's issues are added to
the issue costs, and landed components are kept while their origin has open units.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from pipelines.costing.fifo import Fifo
from pipelines.costing.shortfalls import carried_shortfalls
from pipelines.costing.state import (
    ISSUE_COSTS_SCHEMA,
    LANDED_COMPONENTS_SCHEMA,
    OPEN_LAYERS_SCHEMA,
    POOL_REFS_SCHEMA,
    CostingState,
)
from pipelines.pools import POOL, transit_warehouse

LAYER_COLUMNS = list(OPEN_LAYERS_SCHEMA)
SLICE_COLUMNS = (
    "origin_id",
    "origin_kind",
    "receipt_date",
    "origin_qty",
    "origin_value_cents",
    "origin_a",
    "origin_b",
    "quantity",
)
"""What an open layer row says of its slice: which receipt layer, which units of it."""
MERGED = ("origin_b", "quantity", "value_cents")
"""Open layer columns added up (origin_b: the last) when adjacent slices merge."""


def _open_layers(pieces: pl.DataFrame, content: pl.DataFrame) -> pl.DataFrame:
    """OPEN pieces and slices of transfers not yet arrived, as open layer rows."""
    in_pools = pieces.filter(pl.col("category") == "OPEN").select(
        *POOL,
        pl.col("pos_start").alias("position"),
        pl.lit(None, pl.String).alias("transfer_id"),
        pl.lit(None, pl.String).alias("transfer_out_id"),
        *SLICE_COLUMNS,
        pl.col("cost_cents").alias("value_cents"),
    )
    in_transit = content.filter(pl.col("arrive_day").is_null()).select(
        "company",
        transit_warehouse(pl.col("company")).alias("warehouse"),
        "sku",
        pl.col("content_a").alias("position"),
        "transfer_id",
        "transfer_out_id",
        *SLICE_COLUMNS,
        "value_cents",
    )
    layers = pl.concat([in_pools.select(LAYER_COLUMNS), in_transit.select(LAYER_COLUMNS)])
    return _coalesce(layers.cast(OPEN_LAYERS_SCHEMA))


def _coalesce(layers: pl.DataFrame) -> pl.DataFrame:
    """Merge adjacent slices of one origin (the overlay cuts at every boundary it saw).

    Sorted by pool and position, a run breaks where the pool (or transfer), the origin, or
    the positions change; whole-frame shifts, not windows over the string pool keys.
    """
    key = [*POOL, "transfer_id"]
    layers = layers.sort([*key, "position"], nulls_last=False)
    new_run = pl.any_horizontal(
        *(pl.col(c).ne_missing(pl.col(c).shift(1)) for c in (*key, "origin_id")),
        (pl.col("origin_a") != pl.col("origin_b").shift(1)).fill_null(True),
    )
    layers = layers.with_columns(new_run.cum_sum().alias("run"))
    merged = layers.group_by("run", maintain_order=True).agg(
        *(pl.col(c).first() for c in LAYER_COLUMNS if c not in MERGED),
        pl.col("origin_b").last(),
        pl.col("quantity").sum(),
        pl.col("value_cents").sum(),
    )
    return merged.select(LAYER_COLUMNS)


def _landed_by_origin(components: pl.DataFrame, since: datetime) -> pl.DataFrame:
    """Per origin layer, every landed share on it (`all_landed_cents`) and the part that
    took effect in this range (`new_landed_cents`): a pool's reference carries the first
    when it changes, and adds the second when it is carried over."""
    return components.group_by("origin_id").agg(
        pl.col("share_cents").sum().alias("all_landed_cents"),
        pl.col("share_cents")
        .filter(pl.col("effective_at") >= since)
        .sum()
        .alias("new_landed_cents"),
    )


def _entered_last(fifo: Fifo, landed: pl.DataFrame) -> pl.DataFrame:
    """Per pool touched in this range, its last segment's origin layer with that layer's
    value, quantity and every landed share on it."""
    return (
        fifo.segments.sort("in_end")
        .group_by(POOL)
        .agg(pl.col("origin_id").last())
        .join(
            fifo.origins.select(
                "origin_id",
                pl.col("origin_value_cents").alias("ref_value_cents"),
                pl.col("origin_qty").alias("ref_qty"),
            ),
            on="origin_id",
        )
        .join(landed, on="origin_id", how="left")
        .select(
            *POOL,
            pl.col("origin_id").alias("ref_origin_id"),
            "ref_value_cents",
            "ref_qty",
            pl.col("all_landed_cents").fill_null(0).alias("ref_landed_cents"),
        )
    )


def _with_last_inbound(refs: pl.DataFrame, fifo: Fifo, state: CostingState) -> pl.DataFrame:
    """`refs` with when and by which movement each pool's last inbound came: this range's
    last, else the carried one (the other warehouses' reference for a pool with none)."""
    last_in = (
        fifo.ins.filter(pl.col("movement_id").is_not_null())
        .sort("seq")
        .group_by(POOL)
        .agg(
            pl.col("occurred_at").last().alias("last_in_at"),
            pl.col("movement_id").last().alias("last_in_id"),
        )
    )
    carried_in = state.pool_refs.select(*POOL, "last_in_at", "last_in_id")
    return (
        refs.join(last_in, on=POOL, how="left")
        .join(carried_in, on=POOL, how="left", suffix="_carried")
        .with_columns(
            pl.coalesce("last_in_at", "last_in_at_carried").alias("last_in_at"),
            pl.coalesce("last_in_id", "last_in_id_carried").alias("last_in_id"),
        )
        .select(list(POOL_REFS_SCHEMA))
    )


def _pool_refs(
    fifo: Fifo, state: CostingState, components: pl.DataFrame, since: datetime
) -> pl.DataFrame:
    """Per pool, the layer that most recently entered it, with its landed cost so far.

    A pool touched in this range takes its last segment's origin and every landed share
    on that origin (all in effect by the end of the range); an untouched pool keeps its
    carried reference plus the shares on it that took effect in this range.
    """
    landed = _landed_by_origin(components, since)
    touched = _with_last_inbound(_entered_last(fifo, landed), fifo, state)
    untouched = (
        state.pool_refs.join(touched.select(POOL), on=POOL, how="anti")
        .join(landed, left_on="ref_origin_id", right_on="origin_id", how="left")
        .with_columns(
            (pl.col("ref_landed_cents") + pl.col("new_landed_cents").fill_null(0)).alias(
                "ref_landed_cents"
            )
        )
        .select(list(POOL_REFS_SCHEMA))
    )
    return pl.concat([untouched, touched]).cast(POOL_REFS_SCHEMA)


def _issue_costs(state: CostingState, outs: pl.DataFrame) -> pl.DataFrame:
    """The carried issue costs + this range's ISSUEs as booked (for later RETURNs)."""
    issues = outs.filter(pl.col("movement_type") == "ISSUE").select(
        "movement_id",
        "company",
        "sku",
        pl.col("qty").alias("quantity"),
        "cost_cents",
    )
    return pl.concat([state.issue_costs, issues.cast(ISSUE_COSTS_SCHEMA)])


def end_state(
    fifo: Fifo,
    content: pl.DataFrame,
    state: CostingState,
    outs: pl.DataFrame,
    landed: tuple[pl.DataFrame, datetime],
) -> CostingState:
    """The state after the range. `content`: valued transfer content; `outs`: outbound
    costs (pipelines.costing.cogs); `landed`: every landed component and the range start."""
    components, since = landed
    rank = pl.int_range(pl.len(), dtype=pl.Int64)
    open_layers = (
        _open_layers(fifo.pieces, content)
        .sort([*POOL, "transfer_id", "position"], nulls_last=False)
        .with_columns(rank.over([*POOL, "transfer_id"]).alias("position"))
    )
    shorts = (
        carried_shortfalls(fifo.pieces, fifo.outs)
        .sort([*POOL, "position"])
        .with_columns(rank.over(POOL).alias("position"))
    )
    live = open_layers.get_column("origin_id").unique().implode()
    kept_components = components.filter(pl.col("origin_id").is_in(live)).sort(
        "origin_id", "landed_cost_id"
    )
    return CostingState(
        landed_components=kept_components.cast(LANDED_COMPONENTS_SCHEMA),
        open_layers=open_layers,
        open_shortfalls=shorts.sort([*POOL, "position"]),
        pool_refs=_pool_refs(fifo, state, components, since).sort(POOL),
        issue_costs=_issue_costs(state, outs),
    )
