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

from pipelines.money import div_half_up


def overlay(
    left: pl.DataFrame,
    right: pl.DataFrame,
    key: list[str],
    ids: tuple[str, str],
    spans: tuple[tuple[str, str], tuple[str, str]],
) -> pl.DataFrame:
    """Cut two sets of non-overlapping `[start, end)` intervals at every boundary.

    `ids` names the id column of `left` and of `right`; `spans` their (start, end)
    columns. Returns key + ["pos_start", "pos_end", left id, right id] with one row per
    elementary interval; an id is null where its side has no interval there.
    """
    left_id, right_id = ids
    (l_start, l_end), (r_start, r_end) = spans
    if len(key) > 1 or left.schema[key[0]] == pl.String:
        keys = pl.concat([left.select(key), right.select(key)]).unique().with_row_index("_kid")
        keys = keys.with_columns(pl.col("_kid").cast(pl.Int64))
        out = overlay(
            left.join(keys, on=key).drop(key),
            right.join(keys, on=key).drop(key),
            ["_kid"],
            ids,
            spans,
        )
        return out.join(keys, on="_kid").select(*key, "pos_start", "pos_end", left_id, right_id)
    points = pl.concat(
        [
            left.select(*key, pl.col(l_start).alias("pos")),
            left.select(*key, pl.col(l_end).alias("pos")),
            right.select(*key, pl.col(r_start).alias("pos")),
            right.select(*key, pl.col(r_end).alias("pos")),
        ]
    ).unique()
    points = (
        points.sort([*key, "pos"])
        .with_columns(pl.col("pos").shift(-1).over(key).alias("pos_end"))
        .filter(pl.col("pos_end").is_not_null())
        .rename({"pos": "pos_start"})
    )
    lsorted = left.select(*key, left_id, l_start, l_end).sort([*key, l_start])
    rsorted = right.select(*key, right_id, r_start, r_end).sort([*key, r_start])
    out = points.join_asof(
        lsorted, left_on="pos_start", right_on=l_start, by=key, check_sortedness=False
    ).join_asof(rsorted, left_on="pos_start", right_on=r_start, by=key, check_sortedness=False)
    return out.select(
        *key,
        "pos_start",
        "pos_end",
        pl.when(pl.col("pos_start") < pl.col(l_end)).then(pl.col(left_id)).alias(left_id),
        pl.when(pl.col("pos_start") < pl.col(r_end)).then(pl.col(right_id)).alias(right_id),
    ).filter(pl.col(left_id).is_not_null() | pl.col(right_id).is_not_null())


def share(total: pl.Expr, part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """round_half_up(total * part / whole) in integer cents (total, part >= 0, whole > 0).

    The cumulative rounding of DOMAIN.md "Rounding never loses a cent": the slice of
    positions [a, b) of a whole worth `total` costs share(total, b) - share(total, a).
    Int128 keeps total * part exact for any realistic amount.
    """
    exact = total.cast(pl.Int128) * part.cast(pl.Int128)
    return div_half_up(exact, whole.cast(pl.Int128)).cast(pl.Int64)


def slice_cost(total: pl.Expr, start: pl.Expr, end: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """Cost of positions [start, end) of a whole of `whole` units worth `total` cents."""
    return share(total, end, whole) - share(total, start, whole)
