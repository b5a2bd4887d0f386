"""cost_range: cost the movement ledger over [start, end] from a carried state.

One call over a three-year range and a thousand calls of one day each, carrying the
state, give the same figures to the cent (tests/costing/test_incremental.py): every rule
is defined per movement in pool order and the state holds all a later day can see of
an earlier one. A nightly call touches only that day's movements and the open layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time

import polars as pl

from pipelines.ageing.ageing import ageing_changes, ageing_on
from pipelines.as_of import valuation_on
from pipelines.costing.fifo import Fifo, run_fifo
from pipelines.costing.intervals import slice_cost
from pipelines.costing.landed import Allocation, allocate, landed_postings
from pipelines.costing.outputs import (
    ageing_residencies,
    annotate_pieces,
    build_postings,
    end_state,
    residencies,
    transfer_content,
)
from pipelines.costing.policy import CostingPolicy
from pipelines.costing.prepare import prepare
from pipelines.costing.state import POOL, CostingState
from pipelines.journals.journals import journal_lines, journals
from pipelines.money import cents_to_money

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


@dataclass(frozen=True)
class CostingResult:
    """Everything one costing range produces; money columns are Decimal(18, 2).

    Per-day figures that would be huge as full daily snapshots (valuation, ageing) are
    change rows: a pool's figures hold from `day` until its next row; `valuation_on` and
    `ageing_on` give the full report of one day.
    """

    start: date
    end: date
    cogs: pl.DataFrame
    consumption: pl.DataFrame
    open_layers: pl.DataFrame
    open_shortfalls: pl.DataFrame
    postings: pl.DataFrame
    valuation: pl.DataFrame
    opening: pl.DataFrame
    ageing: pl.DataFrame
    landed_cost_allocations: pl.DataFrame
    landed_cost_expensed: pl.DataFrame
    journal_lines: pl.DataFrame
    journals: pl.DataFrame
    flags: pl.DataFrame
    late: pl.DataFrame
    end_state: CostingState

    def valuation_on(self, day: date) -> pl.DataFrame:
        """Closing quantity and value of every pool with stock at the end of `day`."""
        return valuation_on(self.valuation, self.opening, day)

    def ageing_on(self, day: date) -> pl.DataFrame:
        """Quantity and value per bucket of every pool with stock at the end of `day`."""
        return ageing_on(self.ageing, day)


def _money(frame: pl.DataFrame) -> pl.DataFrame:
    """Rename every `*_cents` column to its Decimal money name."""
    cents = [c for c in frame.columns if c.endswith("_cents")]
    return frame.with_columns(
        cents_to_money(c).alias(c.removesuffix("_cents")) for c in cents
    ).drop(cents)


def _opening(state: CostingState) -> pl.DataFrame:
    layers = state.open_layers.group_by(POOL).agg(
        pl.col("quantity").sum().alias("q"), pl.col("value_cents").sum().alias("v")
    )
    s = (
        state.open_shortfalls.with_columns(
            slice_cost(
                pl.col("provisional_cents"),
                pl.col("short_a"),
                pl.col("short_b"),
                pl.col("short_qty"),
            ).alias("v"),
            (pl.col("short_b") - pl.col("short_a")).alias("q"),
        )
        .group_by(POOL)
        .agg((-pl.col("q").sum()).alias("q"), (-pl.col("v").sum()).alias("v"))
    )
    both = pl.concat([layers, s]).group_by(POOL).agg(pl.col("q").sum(), pl.col("v").sum())
    return both.select(
        *POOL, pl.col("q").alias("opening_qty"), pl.col("v").alias("opening_value_cents")
    )


def _valuation(postings: pl.DataFrame, opening: pl.DataFrame) -> pl.DataFrame:
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
        (pl.col("in_qty") - pl.col("out_qty")).cum_sum().over(POOL).alias("dq"),
        (pl.col("in_value_cents") - pl.col("out_value_cents")).cum_sum().over(POOL).alias("dv"),
    )
    day = day.with_columns(
        (pl.col("opening_qty") + pl.col("dq")).alias("closing_qty"),
        (pl.col("opening_value_cents") + pl.col("dv")).alias("closing_value_cents"),
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
        "closing_value_cents",
    )


def cost_range(
    inputs: Mapping[str, pl.DataFrame],
    state: CostingState | None,
    start: date,
    end: date,
    policy: CostingPolicy | None = None,
    *,
    allocation: Allocation | None = None,
) -> CostingResult:
    """Cost days [start, end] from `state` (the end of start - 1; None = no history).

    `inputs`: the contract frames `movements`, `fx_rates`, `companies`, and optionally
    `landed_costs` and `skus` (needed for WEIGHT/VOLUME allocation). A `load_date` column
    on movements marks late documents (DOMAIN.md). Rows dated after `end` are ignored;
    rows dated before `start` are ignored unless `policy.closed_before` re-dates them.
    `allocation`: landed costs already allocated (pipelines.costing.chunked passes each
    chunk its part of one allocation over all lines).
    """
    policy = policy or CostingPolicy()
    state = state or CostingState.empty()
    prep = prepare(
        inputs["movements"], inputs["fx_rates"], inputs["companies"], state, start, end, policy
    )
    moves = prep.moves
    alloc = allocation if allocation is not None else allocate(inputs, start, end, policy)
    components = pl.concat([state.landed_components, alloc.components])
    since = datetime.combine(start, time())
    fifo = run_fifo(moves, state, components, since)
    pieces = annotate_pieces(fifo)
    content = transfer_content(fifo, moves, state, components)
    res = residencies(pieces, content, start)
    lc = landed_postings(res, alloc)
    postings = pl.concat([build_postings(fifo, pieces, content, moves), lc.capitalised])
    opening = _opening(state)
    valuation = _valuation(postings, opening)
    aged = ageing_residencies(res, lc.entry_correction, lc.ageing_steps)
    ageing = ageing_changes(aged, start, end, policy)
    lines = journal_lines(postings, lc.expensed)
    flags = pl.concat(
        [prep.flags, fifo.flags, alloc.flags, _provisional_flags(fifo), _late_flags(prep.late)]
    )
    new_state = end_state(fifo, pieces, content, state, components, since)
    return CostingResult(
        start=start,
        end=end,
        cogs=_money(_cogs(fifo, pieces, lc.expensed)),
        consumption=_money(_consumption(pieces)),
        open_layers=_money(new_state.open_layers),
        open_shortfalls=_money(_open_shortfalls(new_state)),
        postings=_money(postings),
        valuation=_money(valuation),
        opening=_money(opening),
        ageing=_money(ageing),
        landed_cost_allocations=_money(alloc.allocations),
        landed_cost_expensed=_money(lc.expensed),
        journal_lines=_money(lines),
        journals=journals(lines),
        flags=flags.sort("movement_id", "flag"),
        late=prep.late,
        end_state=new_state,
    )


def _open_shortfalls(state: CostingState) -> pl.DataFrame:
    """Open shortfalls with the provisional cost still carried on their unserved units."""
    s = state.open_shortfalls
    return s.with_columns(
        (pl.col("short_b") - pl.col("short_a")).alias("quantity"),
        slice_cost(
            pl.col("provisional_cents"), pl.col("short_a"), pl.col("short_b"), pl.col("short_qty")
        ).alias("unserved_provisional_cents"),
    )


def _cogs(fifo: Fifo, pieces: pl.DataFrame, expensed: pl.DataFrame) -> pl.DataFrame:
    """Cost per outbound movement (kind COST), plus TRUE_UP and LANDED_COST adjustments."""
    consumed = (
        pieces.filter(pl.col("category") == "CONSUMED")
        .group_by("oseq")
        .agg(pl.col("cost_cents").sum().alias("consumed_cents"))
    )
    outs = fifo.outs.filter(~pl.col("carried")).join(
        consumed, left_on="seq", right_on="oseq", how="left"
    )
    cost = outs.select(
        pl.col("day").alias("posting_date"),
        *POOL,
        "movement_id",
        "movement_type",
        pl.lit("COST").alias("kind"),
        pl.col("qty").alias("quantity"),
        pl.col("consumed_cents").fill_null(0).alias("consumed_cents"),
        pl.col("s").alias("provisional_qty"),
        pl.col("provisional_cents"),
        (pl.col("consumed_cents").fill_null(0) + pl.col("provisional_cents")).alias("amount_cents"),
    )
    true_up = (
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
            "quantity",
            "consumed_cents",
            pl.lit(0, pl.Int64).alias("provisional_qty"),
            "provisional_cents",
            "amount_cents",
        )
    )
    lc = expensed.select(
        "posting_date",
        *POOL,
        "movement_id",
        "movement_type",
        pl.lit("LANDED_COST").alias("kind"),
        pl.lit(0, pl.Int64).alias("quantity"),
        pl.lit(0, pl.Int64).alias("consumed_cents"),
        pl.lit(0, pl.Int64).alias("provisional_qty"),
        pl.lit(0, pl.Int64).alias("provisional_cents"),
        "amount_cents",
    )
    out = pl.concat([cost, true_up, lc.select(cost.columns)])
    return out.with_columns(
        (pl.col("provisional_qty") > 0).alias("is_provisional"),
        (pl.col("kind") == "TRUE_UP").alias("is_true_up"),
    ).sort("posting_date", *POOL, "movement_id", "kind")


def _consumption(pieces: pl.DataFrame) -> pl.DataFrame:
    """Traceability: every COGS cent to the receipt slices behind it (DOMAIN.md "Issue")."""
    c = pieces.filter(pl.col("category").is_in(["CONSUMED", "SERVED"]))
    rows = c.select(
        "posting_date",
        *POOL,
        pl.col("out_movement_id").alias("movement_id"),
        pl.col("out_type").alias("movement_type"),
        "origin_id",
        "origin_kind",
        "receipt_date",
        pl.col("a").alias("origin_a"),
        pl.col("b").alias("origin_b"),
        "quantity",
        pl.col("cost_cents").alias("amount_cents"),
        (pl.col("category") == "SERVED").alias("served_shortfall"),
        pl.when(pl.col("category") == "SERVED").then(pl.col("in_movement_id")).alias("served_by"),
        "provisional_share_cents",
        "true_up_cents",
    )
    cols = rows.columns
    # The overlay cuts slices at every boundary it saw; merge adjacent slices of one origin
    # consumed by one movement on one day, so the detail does not depend on the range run.
    key = ["movement_id", "posting_date", "served_by", "origin_id"]
    rows = rows.sort([*key, "origin_a"], nulls_last=True)
    same = pl.all_horizontal(
        *(pl.col(k).eq_missing(pl.col(k).shift(1)) for k in key),
        pl.col("origin_a") == pl.col("origin_b").shift(1),
    )
    rows = rows.with_columns((~same.fill_null(False)).cum_sum().alias("run"))
    first = [
        c
        for c in cols
        if c
        not in ("origin_b", "quantity", "amount_cents", "provisional_share_cents", "true_up_cents")
    ]
    merged = rows.group_by("run").agg(
        *(pl.col(c).first() for c in first),
        pl.col("origin_b").last(),
        pl.col("quantity").sum(),
        pl.col("amount_cents").sum(),
        pl.col("provisional_share_cents").fill_null(0).sum(),
        pl.col("true_up_cents").fill_null(0).sum(),
    )
    merged = merged.with_columns(
        pl.when(pl.col("served_shortfall")).then(pl.col(c)).alias(c)
        for c in ("provisional_share_cents", "true_up_cents")
    )
    return merged.select(cols).sort("posting_date", *POOL, "movement_id", "origin_a")


def _provisional_flags(fifo: Fifo) -> pl.DataFrame:
    return fifo.outs.filter(~pl.col("carried") & (pl.col("s") > 0)).select(
        "movement_id",
        pl.lit("NEGATIVE_STOCK_PROVISIONAL").alias("flag"),
        pl.format("{} units short, costed provisionally", pl.col("s")).alias("detail"),
    )


def _late_flags(late: pl.DataFrame) -> pl.DataFrame:
    return late.select(
        "movement_id",
        pl.lit("LATE_DOCUMENT").alias("flag"),
        pl.when(pl.col("redated"))
        .then(pl.lit("dated in a closed period; posted on the first open day"))
        .otherwise(pl.lit("loaded after its date"))
        .alias("detail"),
    )
