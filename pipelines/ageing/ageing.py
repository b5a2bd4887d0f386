"""Stock ageing per day, pool and bucket without expanding layers x days.

DOMAIN.md "Stock ageing": open quantity and value by age = day - receipt date, in
buckets. A slice present in a pool over days [enter, exit) sits in bucket k exactly on
days [max(enter, receipt + low_k), min(exit, receipt + high_k + 1)): two events per
slice and bucket. A cumulative sum over the events gives the ageing as change rows:
the figures of (pool, bucket) from `day` until its next row. A day's full report is an
as-of lookup (`ageing_on`), so three years of history cost rows per change, not per day.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from pipelines.as_of import as_of
from pipelines.pools import POOL

MAX_BUCKETS = 64
"""Buckets per pool fit in the low bits of one integer key (pool id x 64 + bucket)."""


def bucket_labels(age_buckets: tuple[int, ...]) -> list[str]:
    """Labels such as "0-30", "31-60", ..., ">365" for inclusive upper bounds in days."""
    labels, low = [], 0
    for high in age_buckets:
        labels.append(f"{low}-{high}")
        low = high + 1
    labels.append(f">{age_buckets[-1]}")
    return labels


def _bucket_table(age_buckets: tuple[int, ...]) -> pl.DataFrame:
    """bucket_no, bucket label, and the ages [low, high) it holds (null high: no limit)."""
    lows = [0, *(b + 1 for b in age_buckets)]
    return pl.DataFrame(
        {
            "bucket_no": list(range(len(lows))),
            "bucket": bucket_labels(age_buckets),
            "low": lows,
            "high": [*lows[1:], None],
        },
        schema={"bucket_no": pl.Int32, "bucket": pl.String, "low": pl.Int32, "high": pl.Int32},
    )


def _stays(residencies: pl.DataFrame, pools: pl.DataFrame, start: date) -> pl.DataFrame:
    """Residencies on integer pool ids and days; an entry before `start` enters at `start`."""
    return residencies.join(pools, on=POOL).select(
        pl.col("pool_id").cast(pl.Int64),
        pl.col("receipt_date").cast(pl.Int32).alias("receipt_day"),
        pl.max_horizontal(pl.col("enter_day").cast(pl.Int32), pl.lit(start).cast(pl.Int32)).alias(
            "enter"
        ),
        pl.col("exit_day").cast(pl.Int32).alias("exit"),
        "quantity",
        "value_cents",
    )


def _bucket_spans(spans: pl.DataFrame, buckets: pl.DataFrame, end_day: pl.Expr) -> pl.DataFrame:
    """Per stay (`spans` on entry: pool_id, receipt_day, enter, exit, quantity, value_cents)
    and bucket it passes through: pool_bucket key and days [from_day, until_day).

    Only the buckets a slice passes through while present (one or two for short stays).
    One name is rebound step by step, so each intermediate frame is freed.
    """
    lows = buckets.get_column("low").to_list()

    def bucket_of(age: pl.Expr) -> pl.Expr:
        return pl.sum_horizontal(*((age >= low).cast(pl.Int32) for low in lows[1:]))

    age_in = pl.col("enter") - pl.col("receipt_day")
    age_out = pl.coalesce(pl.col("exit"), end_day + 1) - pl.col("receipt_day") - 1
    spans = spans.filter(pl.col("exit").is_null() | (pl.col("exit") > pl.col("enter")))
    spans = spans.with_columns(
        pl.int_ranges(bucket_of(age_in), bucket_of(age_out) + 1, dtype=pl.Int32).alias("bucket_no")
    ).explode("bucket_no")
    spans = spans.filter(pl.col("bucket_no").is_not_null()).join(
        buckets.select("bucket_no", "low", "high"), on="bucket_no"
    )
    from_day = pl.max_horizontal(pl.col("enter"), pl.col("receipt_day") + pl.col("low"))
    until_day = pl.min_horizontal(pl.col("exit"), pl.col("receipt_day") + pl.col("high"))
    return spans.select(
        (pl.col("pool_id") * MAX_BUCKETS + pl.col("bucket_no")).alias("pool_bucket"),
        from_day.alias("from_day"),
        until_day.alias("until_day"),
        "quantity",
        "value_cents",
    ).filter(pl.col("until_day").is_null() | (pl.col("from_day") < pl.col("until_day")))


def _running_totals(spans: pl.DataFrame, end_day: pl.Expr) -> pl.DataFrame:
    """Per pool_bucket, the quantity and value from each day they change (cumulative sums)."""
    events = pl.concat(
        [
            spans.select("pool_bucket", pl.col("from_day").alias("day"), "quantity", "value_cents"),
            spans.filter(pl.col("until_day").is_not_null()).select(
                "pool_bucket",
                pl.col("until_day").alias("day"),
                (-pl.col("quantity")).alias("quantity"),
                (-pl.col("value_cents")).alias("value_cents"),
            ),
        ]
    ).filter(pl.col("day") <= end_day)
    events = events.group_by("pool_bucket", "day").agg(
        pl.col("quantity").sum(), pl.col("value_cents").sum()
    )
    totals = events.sort("pool_bucket", "day").with_columns(
        pl.col("quantity").cum_sum().over("pool_bucket"),
        pl.col("value_cents").cum_sum().over("pool_bucket"),
    )
    changed = (pl.col("pool_bucket") != pl.col("pool_bucket").shift(1)) | (
        (pl.col("quantity") != pl.col("quantity").shift(1))
        | (pl.col("value_cents") != pl.col("value_cents").shift(1))
    )
    return totals.filter(changed.fill_null(True)).with_columns(
        (pl.col("pool_bucket") // MAX_BUCKETS).alias("pool_id"),
        (pl.col("pool_bucket") % MAX_BUCKETS).cast(pl.Int32).alias("bucket_no"),
    )


def ageing_changes(
    residencies: pl.DataFrame, start: date, end: date, age_buckets: tuple[int, ...]
) -> pl.DataFrame:
    """company, warehouse, sku, bucket, bucket_no, day, quantity, value_cents from `day` on.

    `residencies`: pool columns, receipt_date, quantity, value_cents, enter_day, exit_day
    (null: still open). `age_buckets`: inclusive upper bounds in days (one more bucket
    holds everything older). Events before `start` are folded into `start`. Days are
    integers and pools integer ids inside, so the sort and cumulative sum stay cheap.
    """
    buckets = _bucket_table(age_buckets)
    pools = residencies.select(POOL).unique().with_row_index("pool_id")
    end_day = pl.lit(end).cast(pl.Int32)
    totals = _running_totals(
        _bucket_spans(_stays(residencies, pools, start), buckets, end_day), end_day
    )
    totals = totals.join(pools.with_columns(pl.col("pool_id").cast(pl.Int64)), on="pool_id").join(
        buckets.select("bucket_no", "bucket"), on="bucket_no"
    )
    return totals.select(
        *POOL, "bucket", "bucket_no", pl.col("day").cast(pl.Date), "quantity", "value_cents"
    ).sort([*POOL, "bucket_no", "day"])


def ageing_on(changes: pl.DataFrame, day: date) -> pl.DataFrame:
    """The full ageing report of one day: every pool and bucket with stock (`as_of`)."""
    key = [*POOL, "bucket_no", "bucket"]
    values = [c for c in changes.columns if c not in (*key, "day")]
    report = as_of(changes, day, key, values, ["quantity"])
    return report.select("day", *POOL, "bucket", "bucket_no", *values)
