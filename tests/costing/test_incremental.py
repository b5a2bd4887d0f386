"""Costing [D1..Dn] in one call equals costing day by day carrying the state (issue 3).

Every output is compared to the cent: COGS and true-ups, consumption detail, postings,
journals, the valuation and ageing of every day, flags, and the final state. Rerunning a
day from the same state changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from polars.testing import assert_frame_equal

from pipelines.costing import CostingState, cost_range
from tests.costing.ledgers import DAYS, END, LANDED_REFERENCE_KINDS, START, frames, ledgers

# Each example costs the range once and every day twice: tens of seconds per test.
pytestmark = pytest.mark.slow

SORTS = {
    "cogs": ["posting_date", "movement_id", "kind"],
    "consumption": ["posting_date", "movement_id", "origin_id", "origin_a"],
    "postings": ["posting_date", "company", "warehouse", "sku", "movement_id", "category"],
    "journals": ["posting_date", "company", "category", "account"],
    "flags": ["movement_id", "flag"],
}


def _same(a: pl.DataFrame, b: pl.DataFrame, by: list[str]) -> None:
    assert_frame_equal(
        a.sort(by, nulls_last=True), b.sort(by, nulls_last=True), check_row_order=True
    )


def _state_equal(a: CostingState, b: CostingState) -> None:
    for name, frame in a.frames().items():
        other = b.frames()[name]
        cols = frame.columns
        _same(frame, other.select(cols), cols)


def check_incremental(rows: list[dict]) -> None:
    inputs = frames(rows)
    whole = cost_range(inputs, None, START, END)
    state = None
    daily = []
    for d in range(DAYS):
        day = START + timedelta(days=d)
        r = cost_range(inputs, state, day, day)
        again = cost_range(inputs, state, day, day)
        _state_equal(r.end_state, again.end_state)
        daily.append(r)
        state = r.end_state
        assert_frame_equal(r.valuation_on(day), whole.valuation_on(day))
        assert_frame_equal(r.ageing_on(day), whole.ageing_on(day))
    for name, by in SORTS.items():
        _same(pl.concat([getattr(r, name) for r in daily]), getattr(whole, name), by)
    _state_equal(state, whole.end_state)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(max_events=18))
def test_day_by_day_equals_one_call(rows: list[dict]) -> None:
    check_incremental(rows)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(max_events=18, kinds_pool=LANDED_REFERENCE_KINDS, skus=["S1"]))
def test_day_by_day_equals_one_call_with_reference_cost_after_landed_cost(
    rows: list[dict],
) -> None:
    """A pool's carried reference layer takes landed costs posted on later days."""
    check_incremental(rows)
