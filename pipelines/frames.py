"""Small helpers about Polars frames: how they are laid out in memory, how engines join them."""

from __future__ import annotations

from datetime import date
from typing import Literal, TypedDict

import polars as pl


class JoinOptions(TypedDict):
    """Keyword arguments of `DataFrame.join`, typed so that `**LEFT` type-checks."""

    how: Literal["left"]
    maintain_order: Literal["left"]


LEFT: JoinOptions = {"how": "left", "maintain_order": "left"}
"""A left join that keeps the left frame's row order (`frame.join(other, on=..., **LEFT)`):
engines attach looked-up columns to their rows without reordering them."""


def contiguous(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every column in one chunk (a copy only if some column is not).

    Frames arrive in many chunks (a Parquet file's row groups, DuckDB's record
    batches), while the columns an engine attaches after a join come in one. An eager
    operation on a frame whose columns are chunked differently first rechunks every
    column, and then does it again on the next operation: on a million-row frame that
    cost more than the matching itself. Engines call this once on their inputs.
    """
    if frame.width == 0 or all(s.n_chunks() == 1 for s in frame.get_columns()):
        return frame
    return frame.rechunk()


def day_span(days: pl.Series) -> tuple[date, date] | None:
    """The first and last day of a Date column; None when it holds no day.

    `Series.min()` may return any Python scalar; this says which one a date column gives."""
    first, last = days.min(), days.max()
    if first is None or last is None:
        return None
    if not isinstance(first, date) or not isinstance(last, date):
        raise TypeError(f"{days.name}: expected a Date column, got {days.dtype}")
    return first, last


def largest_int(values: pl.Series) -> int | None:
    """The largest value of an integer column; None when it holds none."""
    top = values.max()
    if top is None:
        return None
    if not isinstance(top, int):
        raise TypeError(f"{values.name}: expected an integer column, got {values.dtype}")
    return top


def smallest_float(values: pl.Series) -> float | None:
    """The smallest value of a float column (a ratio, never money); None when it holds none."""
    low = values.min()
    if low is None:
        return None
    if not isinstance(low, float):
        raise TypeError(f"{values.name}: expected a float column, got {values.dtype}")
    return low
