"""Provenance lists per line (its issues, its parcels, their bill lines) as sorted,
comma-joined strings, cheaply.

Joining strings inside a group_by costs Polars a list per group: about a second per
million lines, for three columns where almost every line has a single value. So the
line's aggregation takes the smallest value and whether there are several
(`first_and_several`), and only the few lines with several values have their values
joined (`with_joined`): the same sorted, comma-joined string either way.
"""

from __future__ import annotations

import polars as pl


def first_and_several(column: str, out: str, *, unique: bool, keep: pl.Expr) -> list[pl.Expr]:
    """Aggregations (in a group_by) of `column`'s values where `keep`: `_<out>_first`, the
    smallest, and `_<out>_several`, whether there is more than one (more than one distinct
    value when `unique`)."""
    values = pl.col(column).filter(keep)
    several = values.min() != values.max() if unique else values.len() > 1
    return [values.min().alias(f"_{out}_first"), several.alias(f"_{out}_several")]


def with_joined(
    aggregated: pl.LazyFrame,
    rows: pl.LazyFrame,
    key: str,
    column: str,
    out: str,
    *,
    unique: bool,
    keep: pl.Expr,
) -> pl.LazyFrame:
    """`aggregated` (one row per `key`, with `first_and_several`'s columns) with `out`:
    the values of `column` in `rows` where `keep`, sorted and joined by commas (each once
    when `unique`); null where there is none."""
    several = aggregated.filter(pl.col(f"_{out}_several")).select(key)
    listed = pl.col(column).unique() if unique else pl.col(column)
    joined = (
        rows.filter(keep)
        .join(several, on=key, how="semi")
        .group_by(key)
        .agg(listed.sort().str.join(",").alias(f"_{out}_joined"))
    )
    return (
        aggregated.join(joined, on=key, how="left")
        .with_columns(pl.coalesce(f"_{out}_joined", f"_{out}_first").alias(out))
        .drop(f"_{out}_first", f"_{out}_several", f"_{out}_joined")
    )
