"""Partitions: the business day.

History starts at RECKON_START_DATE (default three years before the demo
range, the go-live initialisation DOMAIN.md asks for); a deployment sets it to
its own go-live history.
"""

from __future__ import annotations

import os
from datetime import date

import dagster as dg

START_DATE = os.environ.get("RECKON_START_DATE", "2023-01-01")

daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE)


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The days a run covers: one for a nightly run, many for a single-run backfill."""
    window = context.partition_time_window
    first = window.start.date()
    last = window.end.date()
    return [date.fromordinal(d) for d in range(first.toordinal(), last.toordinal())]
