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
from pipelines.costing.cogs import cogs, consumption, outbound_costs
from pipelines.costing.end_state import end_state
from pipelines.costing.fifo import Fifo, run_fifo
from pipelines.costing.landed import LandedPostings, landed_postings
from pipelines.costing.landed_allocation import Allocation, allocate
from pipelines.costing.late import late_flags
from pipelines.costing.ledger import Ledger, prepare_ledger
from pipelines.costing.policy import CostingPolicy
from pipelines.costing.postings import inventory_postings
from pipelines.costing.refusals import refuse_uncostable
from pipelines.costing.residency import ageing_residencies, residencies
from pipelines.costing.shortfalls import open_shortfalls, provisional_flags
from pipelines.costing.state import CostingState
from pipelines.costing.transfers import valued_content
from pipelines.costing.valuation import daily_valuation, opening
from pipelines.journals.journals import journal_lines, journals
from pipelines.money import cents_to_money


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
    refused: pl.DataFrame
    """Rows that could not be costed, left out of the range (pipelines.costing.refusals)."""

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
    Rows that cannot be costed (no FX rate, transfer legs that disagree) are left out and
    returned in `refused` with their reason; the rest is costed.
    `allocation`: landed costs already allocated (pipelines.costing.shards passes each
    chunk its part of one allocation over all lines).
    """
    policy = policy or CostingPolicy()
    state = state or CostingState.empty()
    inputs, refused = refuse_uncostable(inputs, state, start, end, policy)
    ledger = prepare_ledger(
        inputs["movements"], inputs["fx_rates"], inputs["companies"], state, (start, end), policy
    )
    alloc = allocation if allocation is not None else allocate(inputs, start, end, policy)
    components = pl.concat([state.landed_components, alloc.components])
    since = datetime.combine(start, time())
    fifo = run_fifo(ledger.moves, state, components, since)
    outs = outbound_costs(fifo)
    content = valued_content(fifo.content, fifo.origins, ledger.moves, state, components)
    stays = residencies(fifo.pieces, content, start)
    landed = landed_postings(stays, alloc)
    postings = _postings(ledger, fifo, content, outs, landed)
    carried = opening(state)
    # before the other outputs: its peak is the range's largest
    ageing = ageing_changes(_aged(stays, landed), start, end, policy.age_buckets)
    lines = journal_lines(postings, landed.expensed)
    new_state = end_state(fifo, content, state, outs, (components, since))
    return CostingResult(
        start=start,
        end=end,
        cogs=_money(cogs(outs, fifo.pieces, landed.expensed)),
        consumption=_money(consumption(fifo.pieces)),
        open_layers=_money(new_state.open_layers),
        open_shortfalls=_money(open_shortfalls(new_state)),
        postings=_money(postings),
        valuation=_money(daily_valuation(postings, carried)),
        opening=_money(carried),
        ageing=_money(ageing),
        landed_cost_allocations=_money(alloc.allocations),
        landed_cost_expensed=_money(landed.expensed),
        journal_lines=_money(lines),
        journals=journals(lines),
        flags=_flags(ledger, fifo, alloc, outs),
        late=ledger.late,
        end_state=new_state,
        refused=refused,
    )


def _postings(
    ledger: Ledger, fifo: Fifo, content: pl.DataFrame, outs: pl.DataFrame, landed: LandedPostings
) -> pl.DataFrame:
    """Every inventory posting of the range: the movements' own (receipts, issues, transfers
    and their content, true-ups) and the landed cost capitalised on units still held."""
    moved = inventory_postings(ledger.moves, fifo.origins, content, outs, fifo.pieces)
    return pl.concat([moved, landed.capitalised])


def _aged(stays: pl.DataFrame, landed: LandedPostings) -> pl.DataFrame:
    """The slice stays as ageing weighs them: landed cost capitalised during a stay is
    taken out of its entry value and added from the day it was posted."""
    return ageing_residencies(stays, landed.entry_correction, landed.ageing_steps)


def _flags(ledger: Ledger, fifo: Fifo, alloc: Allocation, outs: pl.DataFrame) -> pl.DataFrame:
    """Every movement of the range costed by a fallback rule, provisionally or late, with
    why: the ledger's, the overlay's, the landed-cost allocation's, the shortfalls' and the
    late documents' flags, by movement and flag."""
    found = [
        ledger.flags,
        fifo.flags,
        alloc.flags,
        provisional_flags(outs),
        late_flags(ledger.late),
    ]
    return pl.concat(found).sort("movement_id", "flag")
