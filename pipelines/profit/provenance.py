"""Provenance lists per line (its issues, its parcels, their bill lines) as sorted,
comma-joined strings, cheaply.

Joining strings inside a group_by costs Polars a list per group: about a second per
million lines, for three columns where almost every line has a single value. So the
single-value lines take their one value with a plain aggregation, and only the few lines
with several values are joined (the same sorted, comma-joined string either way).
"""

from __future__ import annotations

import polars as pl


def joined_per_key(
    frame: pl.LazyFrame, key: str, column: str, out: str, *, unique: bool = False
) -> pl.LazyFrame:
    """`key`, `out`: the non-null values of `column` per `key`, sorted and joined by
    commas (each value once when `unique`); keys with no non-null value are left out."""
    values = frame.select(key, column).filter(pl.col(column).is_not_null())
    counted = values.group_by(key).agg(
        pl.col(column).min().alias("_first"),
        (pl.col(column).n_unique() if unique else pl.len()).alias("_n"),
    )
    several = counted.filter(pl.col("_n") > 1).select(key)
    listed = pl.col(column).unique() if unique else pl.col(column)
    joined = (
        values.join(several, on=key, how="semi")
        .group_by(key)
        .agg(listed.sort().str.join(",").alias("_joined"))
    )
    return counted.join(joined, on=key, how="left").select(
        key, pl.coalesce("_joined", "_first").alias(out)
    )
