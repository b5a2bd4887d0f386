"""Carrier billing periods (DOMAIN.md: "reconciliation happens in bursts, on each
carrier's billing cycle"): weekly (ISO, Monday-Sunday), semi-monthly (1st-15th,
16th-end of month) or monthly, from carriers.yaml.

A bill belongs to the period that contains its `period_end` when the bill
states one, else its `bill_date`: a January bill printed on 3 February belongs
to January, and a bill with no stated period belongs to the period it was issued in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from pipelines.reconciliation.config import BillingCycle, CarrierConfig


@dataclass(frozen=True, order=True)
class BillingPeriod:
    carrier: str
    start: date
    end: date
    """Inclusive."""

    @property
    def key(self) -> str:
        """Partition key: the period's first day (unique per carrier and cycle)."""
        return self.start.isoformat()


def _month_end(day: date) -> date:
    nxt = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def period_bounds(day: date, cycle: BillingCycle) -> tuple[date, date]:
    """The (start, end) of the billing period of `cycle` containing `day`."""
    if cycle is BillingCycle.WEEKLY:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if cycle is BillingCycle.SEMI_MONTHLY:
        if day.day <= 15:
            return day.replace(day=1), day.replace(day=15)
        return day.replace(day=16), _month_end(day)
    return day.replace(day=1), _month_end(day)


def billing_periods(carrier: CarrierConfig, start: date, end: date) -> list[BillingPeriod]:
    """Every period of the carrier's cycle overlapping [start, end], in order."""
    out: list[BillingPeriod] = []
    day = start
    while day <= end:
        s, e = period_bounds(day, carrier.billing_cycle)
        out.append(BillingPeriod(carrier.carrier, s, e))
        day = e + timedelta(days=1)
    return out


def period_start_expr(day: pl.Expr, cycle: BillingCycle) -> pl.Expr:
    """The Polars twin of `period_bounds(...)[0]` for a date column."""
    if cycle is BillingCycle.WEEKLY:
        return day - pl.duration(days=day.dt.weekday() - 1)
    if cycle is BillingCycle.SEMI_MONTHLY:
        month = day.dt.month_start()
        return pl.when(day.dt.day() <= 15).then(month).otherwise(month.dt.offset_by("15d"))
    return day.dt.month_start()


def bill_periods(bill_headers: pl.DataFrame, carrier: CarrierConfig) -> pl.DataFrame:
    """bill_number, source_sha256 and the `period_start` each bill of `carrier` belongs to."""
    anchor = pl.coalesce("period_end", "bill_date")
    return bill_headers.filter(pl.col("carrier") == carrier.carrier).select(
        "source_sha256",
        "bill_number",
        period_start=period_start_expr(anchor, carrier.billing_cycle),
    )
