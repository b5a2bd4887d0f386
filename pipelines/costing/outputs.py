"""From the FIFO overlay to the figures finance reads, and the state for tomorrow.

The inventory `postings` frame is the single ledger of value movements per pool: every
other figure (valuation, journals, roll-forward) is a sum of it, so they cannot disagree.
Signed: +qty/+value enters the pool, -qty/-value leaves it. A negative position (units
issued before they were received) carries minus its unserved provisional cost, so
closing value = open layers - open shortfalls (DOMAIN.md "Negative stock").
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from pipelines.costing.fifo import Fifo
from pipelines.costing.intervals import slice_cost
from pipelines.costing.landed import landed_extra
from pipelines.costing.state import (
    ISSUE_COSTS_SCHEMA,
    LANDED_COMPONENTS_SCHEMA,
    OPEN_LAYERS_SCHEMA,
    OPEN_SHORTFALLS_SCHEMA,
    POOL,
    POOL_REFS_SCHEMA,
    CostingState,
    transit_warehouse,
)

POSTING_COLUMNS = [
    *POOL,
    "posting_date",
    "movement_id",
    "movement_type",
    "category",
    "qty",
    "value_cents",
]


def annotate_pieces(fifo: Fifo) -> pl.DataFrame:
    """Pieces with their outbound and inbound movements, shortfall shares and true-ups."""
    outs = fifo.outs.select(
        pl.col("seq").alias("oseq"),
        pl.col("movement_id").alias("out_movement_id"),
        pl.col("movement_type").alias("out_type"),
        pl.col("day").alias("out_day"),
        "short_shift",
        "short_qty",
        "provisional_cents",
    )
    inb = fifo.inb.select(
        pl.col("seq").alias("iseq"),
        pl.col("movement_id").alias("in_movement_id"),
        pl.col("day").alias("in_day"),
    )
    p = fifo.pieces.join(outs, on="oseq", how="left").join(inb, on="iseq", how="left")
    p = p.join(
        fifo.origins.select("origin_id", "receipt_date", "origin_kind"), on="origin_id", how="left"
    )
    short = pl.col("category").is_in(["SERVED", "SHORT"])
    p = p.with_columns(
        (pl.col("x_b") - pl.col("x_a")).alias("quantity"),
        pl.when(short).then(pl.col("x_a") + pl.col("short_shift")).alias("short_a"),
        pl.when(short).then(pl.col("x_b") + pl.col("short_shift")).alias("short_b"),
    )
    p = p.with_columns(
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
    return p.with_columns(
        pl.when(pl.col("category") == "SERVED")
        .then(pl.col("cost_cents") - pl.col("provisional_share_cents"))
        .alias("true_up_cents"),
        pl.when(pl.col("category") == "SERVED")
        .then(pl.col("in_day"))
        .otherwise(pl.col("out_day"))
        .alias("posting_date"),
    )


def transfer_content(
    fifo: Fifo, moves: pl.DataFrame, state: CostingState, components: pl.DataFrame
) -> pl.DataFrame:
    """Every transfer's slices with source company/sku, departure and arrival, and value on
    arrival (landed cost capitalised in transit included)."""
    c = fifo.content.join(
        fifo.origins.select(
            "origin_id", "origin_qty", "origin_value_cents", "receipt_date", "origin_kind"
        ),
        on="origin_id",
        how="left",
    ).with_columns(
        (pl.col("c_b") - pl.col("c_a")).alias("quantity"),
        pl.col("origin_a").alias("a"),
        (pl.col("origin_a") + pl.col("c_b") - pl.col("c_a")).alias("origin_b"),
    )
    outs = moves.filter(pl.col("movement_type") == "TRANSFER_OUT").select(
        pl.col("reference").alias("key"),
        "company",
        "sku",
        pl.col("day").alias("depart_day"),
        pl.col("occurred_at").alias("depart_at"),
        pl.col("movement_id").alias("transfer_out_id"),
    )
    carried = (
        state.open_layers.filter(pl.col("transfer_id").is_not_null())
        .group_by("transfer_id")
        .agg(pl.col("company").first(), pl.col("sku").first(), pl.col("transfer_out_id").first())
        .select(
            pl.col("transfer_id").alias("key"),
            "company",
            "sku",
            pl.lit(None, pl.Date).alias("depart_day"),
            pl.lit(None, pl.Datetime("us")).alias("depart_at"),
            "transfer_out_id",
        )
    )
    ins = moves.filter(
        pl.col("movement_type") == "TRANSFER_IN",
        pl.col("transfer_kind").is_in(["TRANSFER", "INTERCOMPANY"]),
    ).select(
        pl.col("reference").alias("key"),
        pl.col("day").alias("arrive_day"),
        pl.col("occurred_at").alias("arrive_at"),
        pl.col("transfer_kind"),
        pl.col("movement_id").alias("transfer_in_id"),
    )
    c = c.join(pl.concat([outs, carried]), on="key", how="left").join(ins, on="key", how="left")
    c = landed_extra(c.rename({"origin_b": "b"}), components, "arrive_at").rename({"b": "origin_b"})
    return c.with_columns(
        (
            slice_cost(
                pl.col("origin_value_cents"),
                pl.col("origin_a"),
                pl.col("origin_b"),
                pl.col("origin_qty"),
            )
            + pl.col("lc_cents")
        ).alias("value_cents")
    ).drop("a")


def build_postings(
    fifo: Fifo, pieces: pl.DataFrame, content: pl.DataFrame, moves: pl.DataFrame
) -> pl.DataFrame:
    origins = fifo.origins.select("origin_id", "origin_value_cents")
    ins = moves.filter(pl.col("is_in"))
    direct = ins.filter(pl.col("kind") != "TRANSFER").join(
        origins, left_on="movement_id", right_on="origin_id"
    )
    tin_cat = (
        pl.when(pl.col("transfer_kind") == "INTERCOMPANY")
        .then(pl.lit("TRANSFER_IN_INTERCOMPANY"))
        .otherwise(pl.lit("TRANSFER_IN_UNMATCHED"))
    )
    direct_p = direct.select(
        *POOL,
        pl.col("day").alias("posting_date"),
        "movement_id",
        "movement_type",
        pl.when(pl.col("movement_type") == "TRANSFER_IN")
        .then(tin_cat)
        .otherwise(pl.col("movement_type"))
        .alias("category"),
        pl.col("quantity").alias("qty"),
        pl.col("origin_value_cents").alias("value_cents"),
    )
    cval = content.group_by("key").agg(pl.col("value_cents").sum().alias("content_cents"))
    arrivals = ins.filter(pl.col("transfer_kind").is_in(["TRANSFER", "INTERCOMPANY"])).join(
        cval, left_on="reference", right_on="key"
    )
    intra_in = arrivals.filter(pl.col("kind") == "TRANSFER").select(
        *POOL,
        pl.col("day").alias("posting_date"),
        "movement_id",
        "movement_type",
        pl.lit("TRANSFER_IN").alias("category"),
        pl.col("quantity").alias("qty"),
        pl.col("content_cents").alias("value_cents"),
    )
    transit_out = arrivals.select(
        pl.col("src_company").alias("company"),
        transit_warehouse(pl.col("src_company")).alias("warehouse"),
        "sku",
        pl.col("day").alias("posting_date"),
        "movement_id",
        "movement_type",
        pl.when(pl.col("transfer_kind") == "INTERCOMPANY")
        .then(pl.lit("TRANSFER_OUT_INTERCOMPANY"))
        .otherwise(pl.lit("TRANSIT_OUT"))
        .alias("category"),
        (-pl.col("quantity")).alias("qty"),
        (-pl.col("content_cents")).alias("value_cents"),
    )
    consumed = (
        pieces.filter(pl.col("category") == "CONSUMED")
        .group_by("oseq")
        .agg(pl.col("cost_cents").sum().alias("consumed_cents"))
    )
    outs = (
        fifo.outs.filter(~pl.col("carried"))
        .join(consumed, left_on="seq", right_on="oseq", how="left")
        .with_columns(
            (pl.col("consumed_cents").fill_null(0) + pl.col("provisional_cents")).alias("out_cents")
        )
    )
    out_p = outs.select(
        *POOL,
        pl.col("day").alias("posting_date"),
        "movement_id",
        "movement_type",
        pl.col("movement_type").alias("category"),
        (-pl.col("qty")).alias("qty"),
        (-pl.col("out_cents")).alias("value_cents"),
    )
    transit_in = outs.filter(pl.col("movement_type") == "TRANSFER_OUT").select(
        "company",
        transit_warehouse(pl.col("company")).alias("warehouse"),
        "sku",
        pl.col("day").alias("posting_date"),
        "movement_id",
        "movement_type",
        pl.lit("TRANSIT_IN").alias("category"),
        "qty",
        pl.col("out_cents").alias("value_cents"),
    )
    true_up = (
        pieces.filter(pl.col("category") == "SERVED")
        .group_by([*POOL, "posting_date", "out_movement_id", "out_type"])
        .agg(pl.col("true_up_cents").sum())
        .select(
            *POOL,
            "posting_date",
            pl.col("out_movement_id").alias("movement_id"),
            pl.col("out_type").alias("movement_type"),
            pl.lit("TRUE_UP").alias("category"),
            pl.lit(0, pl.Int64).alias("qty"),
            (-pl.col("true_up_cents")).alias("value_cents"),
        )
    )
    frames = [direct_p, intra_in, transit_out, out_p, transit_in, true_up]
    return pl.concat([f.select(POSTING_COLUMNS) for f in frames]).sort(
        [*POOL, "posting_date", "movement_id", "category"]
    )


def end_state(
    fifo: Fifo,
    pieces: pl.DataFrame,
    content: pl.DataFrame,
    state: CostingState,
    components: pl.DataFrame,
    since: datetime,
) -> CostingState:
    cols = list(OPEN_LAYERS_SCHEMA)
    open_pool = pieces.filter(pl.col("category") == "OPEN").select(
        *POOL,
        pl.col("x_a").alias("position"),
        pl.lit(None, pl.String).alias("transfer_id"),
        pl.lit(None, pl.String).alias("transfer_out_id"),
        "origin_id",
        "origin_kind",
        "receipt_date",
        "origin_qty",
        "origin_value_cents",
        pl.col("a").alias("origin_a"),
        pl.col("b").alias("origin_b"),
        "quantity",
        pl.col("cost_cents").alias("value_cents"),
    )
    transit = content.filter(pl.col("arrive_day").is_null()).select(
        "company",
        transit_warehouse(pl.col("company")).alias("warehouse"),
        "sku",
        pl.col("c_a").alias("position"),
        pl.col("key").alias("transfer_id"),
        "transfer_out_id",
        "origin_id",
        "origin_kind",
        "receipt_date",
        "origin_qty",
        "origin_value_cents",
        "origin_a",
        "origin_b",
        "quantity",
        "value_cents",
    )
    open_layers = pl.concat([open_pool.select(cols), transit.select(cols)]).cast(
        dict(OPEN_LAYERS_SCHEMA)
    )
    outs = fifo.outs.select(pl.col("seq").alias("oseq"), "occurred_at")
    shorts = (
        pieces.filter(pl.col("category") == "SHORT")
        .join(outs, on="oseq", how="left")
        .select(
            *POOL,
            pl.col("x_a").alias("position"),
            pl.col("out_movement_id").alias("movement_id"),
            pl.col("out_type").alias("movement_type"),
            "occurred_at",
            "short_a",
            "short_b",
            "short_qty",
            "provisional_cents",
        )
        .cast(dict(OPEN_SHORTFALLS_SCHEMA))
    )
    refs = _pool_refs(fifo, state, components, since)
    consumed = (
        pieces.filter(pl.col("category") == "CONSUMED")
        .group_by("oseq")
        .agg(pl.col("cost_cents").sum().alias("c"))
    )
    issues = fifo.outs.filter(pl.col("movement_type") == "ISSUE", ~pl.col("carried")).join(
        consumed, left_on="seq", right_on="oseq", how="left"
    )
    issues = issues.select(
        "movement_id",
        "company",
        "sku",
        pl.col("qty").alias("quantity"),
        (pl.col("c").fill_null(0) + pl.col("provisional_cents")).alias("cost_cents"),
    )
    issue_costs = pl.concat([state.issue_costs, issues.cast(dict(ISSUE_COSTS_SCHEMA))])
    open_layers = _coalesce(open_layers)
    rank = pl.int_range(pl.len(), dtype=pl.Int64)
    open_layers = open_layers.sort(
        [*POOL, "transfer_id", "position"], nulls_last=False
    ).with_columns(rank.over([*POOL, "transfer_id"]).alias("position"))
    shorts = shorts.sort([*POOL, "position"]).with_columns(rank.over(POOL).alias("position"))
    live = open_layers.get_column("origin_id").unique().implode()
    landed = components.filter(pl.col("origin_id").is_in(live)).sort("origin_id", "landed_cost_id")
    return CostingState(
        landed_components=landed.cast(dict(LANDED_COMPONENTS_SCHEMA)),
        open_layers=open_layers,
        open_shortfalls=shorts.sort([*POOL, "position"]),
        pool_refs=refs.sort(POOL),
        issue_costs=issue_costs,
    )


def _pool_refs(
    fifo: Fifo, state: CostingState, components: pl.DataFrame, since: datetime
) -> pl.DataFrame:
    """Per pool, the layer that most recently entered it, with its landed cost so far.

    A pool touched in this range takes its last segment's origin and every landed share
    on that origin (all in effect by the end of the range); an untouched pool keeps its
    carried reference plus the shares on it that took effect in this range.
    """
    lc = components.group_by("origin_id").agg(
        pl.col("share_cents").sum().alias("all_lc"),
        pl.col("share_cents").filter(pl.col("effective_at") >= since).sum().alias("new_lc"),
    )
    last = (
        fifo.segments.sort("l_end")
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
        .join(lc, on="origin_id", how="left")
        .select(
            *POOL,
            pl.col("origin_id").alias("ref_origin_id"),
            "ref_value_cents",
            "ref_qty",
            pl.col("all_lc").fill_null(0).alias("ref_landed_cents"),
        )
    )
    kept = (
        state.pool_refs.join(last.select(POOL), on=POOL, how="anti")
        .join(lc, left_on="ref_origin_id", right_on="origin_id", how="left")
        .with_columns(
            (pl.col("ref_landed_cents") + pl.col("new_lc").fill_null(0)).alias("ref_landed_cents")
        )
        .select(list(POOL_REFS_SCHEMA))
    )
    return pl.concat([kept, last]).cast(dict(POOL_REFS_SCHEMA))


def residencies(pieces: pl.DataFrame, content: pl.DataFrame, start: date) -> pl.DataFrame:
    """Slices present in a pool over [enter, exit) (null enter: before `start`; null exit:
    still there), valued as they leave (or at the end of the range)."""
    before = pl.lit(start) - pl.duration(days=1)
    stock = pieces.filter(pl.col("category").is_in(["CONSUMED", "OPEN"])).select(
        *POOL,
        "origin_id",
        "a",
        "b",
        "receipt_date",
        "quantity",
        pl.col("cost_cents").alias("value_cents"),
        pl.col("in_at").alias("enter_at"),
        pl.col("exit_at"),
        pl.col("in_day").fill_null(before).alias("enter_day"),
        pl.when(pl.col("category") == "CONSUMED").then(pl.col("out_day")).alias("exit_day"),
    )
    transit = content.select(
        "company",
        transit_warehouse(pl.col("company")).alias("warehouse"),
        "sku",
        "origin_id",
        pl.col("origin_a").alias("a"),
        pl.col("origin_b").alias("b"),
        "receipt_date",
        "quantity",
        "value_cents",
        pl.col("depart_at").alias("enter_at"),
        pl.col("arrive_at").alias("exit_at"),
        pl.col("depart_day").fill_null(before).alias("enter_day"),
        pl.col("arrive_day").alias("exit_day"),
    )
    return pl.concat([stock, transit]).with_row_index("res_id")


def ageing_residencies(
    res: pl.DataFrame, correction: pl.DataFrame, steps: pl.DataFrame
) -> pl.DataFrame:
    """Residencies valued on entry, plus the landed cost capitalised while they sat there."""
    base = res.join(correction, on="res_id", how="left").with_columns(
        (pl.col("value_cents") - pl.col("lc_in_residency_cents").fill_null(0)).alias("value_cents")
    )
    cols = [*POOL, "receipt_date", "quantity", "value_cents", "enter_day", "exit_day"]
    both = pl.concat([base.select(cols), steps.select(cols)])
    return both.filter(pl.col("exit_day").is_null() | (pl.col("exit_day") > pl.col("enter_day")))


def _coalesce(layers: pl.DataFrame) -> pl.DataFrame:
    """Merge adjacent slices of one origin (the overlay cuts at every boundary it saw).

    Sorted by pool and position, a run breaks where the pool (or transfer), the origin, or
    the positions change; whole-frame shifts, not windows over the string pool keys.
    """
    key = [*POOL, "transfer_id"]
    layers = layers.sort([*key, "position"], nulls_last=False)
    brk = pl.any_horizontal(
        *(pl.col(c).ne_missing(pl.col(c).shift(1)) for c in (*key, "origin_id")),
        (pl.col("origin_a") != pl.col("origin_b").shift(1)).fill_null(True),
    )
    layers = layers.with_columns(brk.cum_sum().alias("run"))
    merged = layers.group_by("run", maintain_order=True).agg(
        *(
            pl.col(c).first()
            for c in OPEN_LAYERS_SCHEMA
            if c not in ("origin_b", "quantity", "value_cents")
        ),
        pl.col("origin_b").last(),
        pl.col("quantity").sum(),
        pl.col("value_cents").sum(),
    )
    return merged.select(list(OPEN_LAYERS_SCHEMA))
