"""Set-based interval arithmetic: the replacement for a FIFO loop.

FIFO inside a pool is a matching of two sequences of units: the k-th unit that entered
the pool is the k-th unit that left it (DOMAIN.md "Issue ... consumes the oldest layers
first"; negative stock is the same matching with the inbound unit arriving later).
Giving every inbound item and every outbound item an interval of cumulative positions
turns FIFO into an overlay of two interval sets, computed with one sort and two as-of
joins per overlay rather than a loop per movement.
"""

from __future__ import annotations

import polars as pl


def overlay(
    left: pl.DataFrame,
    right: pl.DataFrame,
    key: list[str],
    left_id: str,
    right_id: str,
) -> pl.DataFrame:
    """Cut two sets of non-overlapping `[start, end)` intervals at every boundary.

    `left` has columns key + [left_id, "l_start", "l_end"], `right` key + [right_id,
    "r_start", "r_end"]. Returns key + ["x_a", "x_b", left_id, right_id] with one row per
    elementary interval; an id is null where its side has no interval there.
    """
    if len(key) > 1 or left.schema[key[0]] == pl.String:
        ids = pl.concat([left.select(key), right.select(key)]).unique().with_row_index("_kid")
        ids = ids.with_columns(pl.col("_kid").cast(pl.Int64))
        out = overlay(
            left.join(ids, on=key).drop(key),
            right.join(ids, on=key).drop(key),
            ["_kid"],
            left_id,
            right_id,
        )
        return out.join(ids, on="_kid").select(*key, "x_a", "x_b", left_id, right_id)
    points = pl.concat(
        [
            left.select(*key, pl.col("l_start").alias("x")),
            left.select(*key, pl.col("l_end").alias("x")),
            right.select(*key, pl.col("r_start").alias("x")),
            right.select(*key, pl.col("r_end").alias("x")),
        ]
    ).unique()
    points = (
        points.sort([*key, "x"])
        .with_columns(pl.col("x").shift(-1).over(key).alias("x_b"))
        .filter(pl.col("x_b").is_not_null())
        .rename({"x": "x_a"})
    )
    lsorted = left.select(*key, left_id, "l_start", "l_end").sort([*key, "l_start"])
    rsorted = right.select(*key, right_id, "r_start", "r_end").sort([*key, "r_start"])
    out = points.join_asof(
        lsorted, left_on="x_a", right_on="l_start", by=key, check_sortedness=False
    ).join_asof(rsorted, left_on="x_a", right_on="r_start", by=key, check_sortedness=False)
    return out.select(
        *key,
        "x_a",
        "x_b",
        pl.when(pl.col("x_a") < pl.col("l_end")).then(pl.col(left_id)).alias(left_id),
        pl.when(pl.col("x_a") < pl.col("r_end")).then(pl.col(right_id)).alias(right_id),
    ).filter(pl.col(left_id).is_not_null() | pl.col(right_id).is_not_null())


def share(total: pl.Expr, part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """round_half_up(total * part / whole) in integer cents (total, part >= 0, whole > 0).

    The cumulative rounding of DOMAIN.md "Rounding never loses a cent": the slice of
    positions [a, b) of a whole worth `total` costs share(total, b) - share(total, a).
    Int128 keeps total * part exact for any realistic amount.
    """
    t = total.cast(pl.Int128)
    w = whole.cast(pl.Int128)
    return ((2 * t * part.cast(pl.Int128) + w) // (2 * w)).cast(pl.Int64)


def slice_cost(total: pl.Expr, a: pl.Expr, b: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """Cost of positions [a, b) of a whole of `whole` units worth `total` cents."""
    return share(total, b, whole) - share(total, a, whole)
