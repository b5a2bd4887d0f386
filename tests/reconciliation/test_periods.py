"""Billing periods per cycle and the period a bill belongs to."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from pipelines.reconciliation.config import BillingCycle
from pipelines.reconciliation.periods import bill_periods, period_bounds, period_start_expr
from tests.rating import builders as b
from tests.rating.builders import line


def test_period_bounds_worked_examples() -> None:
    thu = date(2026, 1, 1)  # a Thursday: its ISO week starts Monday 29 Dec 2025
    assert period_bounds(thu, BillingCycle.WEEKLY) == (date(2025, 12, 29), date(2026, 1, 4))
    assert period_bounds(date(2026, 2, 15), BillingCycle.SEMI_MONTHLY) == (
        date(2026, 2, 1),
        date(2026, 2, 15),
    )
    assert period_bounds(date(2026, 2, 16), BillingCycle.SEMI_MONTHLY) == (
        date(2026, 2, 16),
        date(2026, 2, 28),
    )
    assert period_bounds(date(2028, 2, 29), BillingCycle.MONTHLY) == (
        date(2028, 2, 1),
        date(2028, 2, 29),
    )
    assert period_bounds(date(2026, 12, 31), BillingCycle.MONTHLY)[1] == date(2026, 12, 31)


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    st.sampled_from(list(BillingCycle)),
)
def test_periods_tile_the_calendar_and_the_expression_agrees(
    day: date, cycle: BillingCycle
) -> None:
    start, end = period_bounds(day, cycle)
    assert start <= day <= end
    assert period_bounds(end + timedelta(days=1), cycle)[0] == end + timedelta(days=1)
    got = pl.DataFrame({"d": [day]}).select(period_start_expr(pl.col("d"), cycle))["d"][0]
    assert got == start


def test_a_bill_belongs_to_its_stated_period_end_else_its_bill_date() -> None:
    lines = b.bill_lines(
        line("JAN", 1, "T1", "FREIGHT", "1.00", bill_date=date(2026, 2, 3)),
        line("FEB", 1, "T2", "FREIGHT", "1.00", bill_date=date(2026, 2, 3)),
    )
    headers = b.headers_for(lines).with_columns(
        period_end=pl.when(pl.col("bill_number") == "JAN").then(pl.lit(date(2026, 1, 31)))
    )
    got = dict(
        bill_periods(headers, b.carriers().get("EXPR"))
        .select("bill_number", "period_start")
        .iter_rows()
    )
    assert got == {"JAN": date(2026, 1, 1), "FEB": date(2026, 2, 1)}
