"""A day's full report from change rows: the one home of the as-of rule.

Valuation and stock ageing (DOMAIN.md, "Stock ageing") are kept as change rows: the
figures of a key (a pool, or a pool and age bucket) hold from the row's `day` until
the key's next row, so three years of history cost rows per change, not per day. The
report of a day is, for every key, its last change row on or before that day, leaving
out the keys without stock. The costing result, the ageing engine and the costing
runs' chunk ageing read their reports through `as_of`; the warehouse reports
(runs/costing.py `valuation_on_days`, `ageing_on_days`) state the same rule as a DuckDB
ASOF join, which keeps years of change rows out of memory (tests/costing compares the
two).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from pipelines.pools import POOL


def as_of(
    changes: pl.DataFrame,
    day: date,
    key: Sequence[str],
    values: Sequence[str],
    nonzero: Sequence[str],
) -> pl.DataFrame:
    """`values` of every `key` at the end of `day`, from change rows (`day`, `key`,
    `values`), keeping the rows where any of `nonzero` is not zero; columns day, `key`,
    `values`, ordered by key."""
    key, values = list(key), list(values)
    latest = changes.filter(pl.col("day") <= day).sort("day").group_by(key).last()
    has_stock = pl.any_horizontal(pl.col(c) != 0 for c in nonzero)
    return latest.filter(has_stock).select(pl.lit(day).alias("day"), *key, *values).sort(key)


def valuation_on(valuation: pl.DataFrame, opening: pl.DataFrame, day: date) -> pl.DataFrame:
    """Closing quantity and value of every pool with stock at the end of `day`, from a
    costing range's valuation change rows and the pools' `opening` figures (which hold
    from before the range's first change row)."""
    before = opening.select(
        pl.lit(date.min).alias("day"),
        *POOL,
        pl.col("opening_qty").alias("closing_qty"),
        pl.col("opening_value").alias("closing_value"),
    )
    rows = pl.concat([valuation.select(before.columns), before])
    figures = ["closing_qty", "closing_value"]
    return as_of(rows, day, POOL, figures, figures)
