"""A correction to a closed period: the shadow recost whose difference the first open day posts.

DOMAIN.md, "Late (backdated), corrected or removed documents": in a closed period, "post
the difference in the first open day". A document of a closed day that was costed and is
then corrected or removed (or an FX rate of a closed day that changed) cannot be recosted
where it happened: the closed days' figures stay as first written and exported. Instead,
when a run costs the first open day again, it recosts the closed days from the checkpoint
before the earliest such change up to the close with the data as it is now, as those days
would be costed today (what was loaded before the close; nothing re-dated), storing
nothing of it. The corrected state at the close is where the open days start from, and the
difference to what the closed days posted is posted on the first open day
(pipelines/costing/closed_period.py).

The earliest closed day corrected is remembered per closed period
(`costing_closed_corrections`), so that a later recost of the first open day (a late
document of an open day, a second correction) posts the whole difference again, and not
only its own. The closed days' documents are then recorded as seen, so the same correction
is not detected twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta

import duckdb
import polars as pl

from pipelines.contracts.restatements import COSTING_CLOSED_CORRECTIONS
from pipelines.costing import CostingPolicy, CostingState, cost_range
from pipelines.costing.closed_period import ClosedDifference, ClosedFigures, closed_difference
from pipelines.costing.valuation import opening
from pipelines.money import cents_to_money
from runs.costing_checkpoints import latest_checkpoint_before, load_checkpoint
from runs.costing_inputs import engine_inputs, first_movement_day
from runs.restatements import DocumentChanges, record_documents
from storage.warehouse import read_table, replace_slice, table_exists

CORRECTIONS = COSTING_CLOSED_CORRECTIONS.name

IssueCosts = Callable[
    [duckdb.DuckDBPyConnection, CostingState | None, pl.DataFrame, date], CostingState
]
"""Supplies a chunk's state with the costs of the earlier issues its returns name."""


@dataclass(frozen=True)
class ClosedCorrection:
    """The corrected state at the close, the difference to post on the first open day and
    the closed days recosted to get them."""

    state: CostingState
    difference: ClosedDifference
    recosted: tuple[date, date]
    corrected_from: date


def _corrected_from(con: duckdb.DuckDBPyConnection, closed: date) -> date | None:
    if not table_exists(con, CORRECTIONS):
        return None
    found = read_table(con, CORRECTIONS, '"closed_before" = ?', [closed])
    value = found["corrected_from"].min() if found.height else None
    return value if isinstance(value, date) else None


def forget_corrections(con: duckdb.DuckDBPyConnection, closed: date) -> None:
    """The closed days are being costed afresh from the data as it is now: nothing of an
    earlier correction remains to post."""
    if table_exists(con, CORRECTIONS):
        nothing = pl.DataFrame(schema=COSTING_CLOSED_CORRECTIONS.schema)
        replace_slice(con, CORRECTIONS, nothing, {"closed_before": closed})


def _closing(state: CostingState | None) -> pl.DataFrame:
    """Each pool's closing quantity and value (Decimal) in a carried state."""
    carried = opening(state or CostingState.empty())
    return carried.select(
        "company",
        "warehouse",
        "sku",
        pl.col("opening_qty").cast(pl.Int64).alias("closing_qty"),
        cents_to_money("opening_value_cents").alias("closing_value"),
    )


def _posted(con: duckdb.DuckDBPyConnection, first: date, last: date) -> ClosedFigures:
    """What the closed days [first, last] posted: their stored rows and the checkpoint at
    the close (the state the open days were first costed from)."""
    between = '"posting_date" BETWEEN ? AND ?'
    return ClosedFigures(
        cogs=read_table(con, "costing_cogs", between, [first, last]),
        journal_lines=read_table(con, "costing_journal_lines", between, [first, last]),
        closing=_closing(load_checkpoint(con, last)),
    )


def closed_correction(
    con: duckdb.DuckDBPyConnection,
    policy: CostingPolicy,
    changes: DocumentChanges,
    known_by: date,
    chunk_days: int,
    issue_costs: IssueCosts,
) -> ClosedCorrection | None:
    """Recost the closed days from the earliest correction (this run's or an earlier one's)
    with the data known by `known_by`, without storing them; None when nothing in the
    closed period was ever corrected."""
    closed = policy.closed_before
    if closed is None:
        return None
    stored = _corrected_from(con, closed)
    corrected_from = min((d for d in (changes.closed_from, stored) if d is not None), default=None)
    if corrected_from is None:
        return None
    close = closed - timedelta(days=1)
    checkpoint = latest_checkpoint_before(con, corrected_from)
    if checkpoint is None:
        start = min(corrected_from, first_movement_day(con) or corrected_from)
        state: CostingState | None = None
    else:
        start = checkpoint + timedelta(days=1)
        state = load_checkpoint(con, checkpoint)
    open_policy = replace(policy, closed_before=None)
    cogs, lines = [], []
    chunk_start = start
    while chunk_start <= close:
        chunk_end = min(close, chunk_start + timedelta(days=chunk_days - 1))
        inputs = engine_inputs(con, chunk_start, chunk_end, policy, known_by=known_by)
        state = issue_costs(con, state, inputs["movements"], chunk_start)
        result = cost_range(inputs, state, chunk_start, chunk_end, open_policy)
        cogs.append(result.cogs)
        lines.append(result.journal_lines)
        state = result.end_state
        chunk_start = chunk_end + timedelta(days=1)
    corrected = ClosedFigures(
        pl.concat(cogs, how="vertical_relaxed"),
        pl.concat(lines, how="vertical_relaxed"),
        _closing(state),
    )
    difference = closed_difference(_posted(con, start, close), corrected, closed)
    carried = state or CostingState.empty()
    return ClosedCorrection(carried, difference, (start, close), corrected_from)


def record_correction(con: duckdb.DuckDBPyConnection, closed: date, done: ClosedCorrection) -> None:
    """After the first open day holds the difference: remember where the correction starts
    (when it posts anything) and record the closed days' documents as now seen."""
    if not done.difference.is_empty or _corrected_from(con, closed) is not None:
        row = pl.DataFrame({"closed_before": [closed], "corrected_from": [done.corrected_from]})
        replace_slice(con, CORRECTIONS, row, {"closed_before": closed})
    record_documents(con, *done.recosted)
