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

from pipelines.costing.policy import CostingPolicy

POOL = ["company", "warehouse", "sku"]


def ageing_changes(
    residencies: pl.DataFrame, start: date, end: date, policy: CostingPolicy
) -> pl.DataFrame:
    """company, warehouse, sku, bucket, day, quantity, value_cents from `day` on.

    `residencies`: pool columns, receipt_date, quantity, value_cents, enter_day, exit_day
    (null: still open). Events before `start` are folded into `start`.
    """
    labels = policy.bucket_labels()
    lows = [0, *(b + 1 for b in policy.age_buckets)]
    highs: list[int | None] = [*(b + 1 for b in policy.age_buckets), None]
    buckets = pl.DataFrame(
        {
            "bucket_no": list(range(len(labels))),
            "bucket": labels,
            "low": lows,
            "high": highs,
        },
        schema={"bucket_no": pl.Int32, "bucket": pl.String, "low": pl.Int64, "high": pl.Int64},
    )
    # Only the buckets a slice passes through while present: from its age on entry to
    # its age on exit (or at `end`), so short stays cost one or two rows, not one per bucket.
    stay_end = pl.coalesce(pl.col("exit_day"), pl.lit(end) + pl.duration(days=1))
    age_in = (
        pl.max_horizontal("enter_day", pl.lit(start)) - pl.col("receipt_date")
    ).dt.total_days()
    age_out = (stay_end - pl.col("receipt_date")).dt.total_days() - 1

    def bucket_of(age: pl.Expr) -> pl.Expr:
        return pl.sum_horizontal(*((age >= low).cast(pl.Int32) for low in lows[1:]))

    r = residencies.with_columns(
        pl.int_ranges(bucket_of(age_in), bucket_of(age_out) + 1, dtype=pl.Int32).alias("bucket_no")
    ).explode("bucket_no")
    r = r.filter(pl.col("bucket_no").is_not_null()).join(buckets, on="bucket_no")
    rd = pl.col("receipt_date")
    lo = pl.max_horizontal(pl.col("enter_day"), rd + pl.duration(days=pl.col("low")))
    hi_age = pl.when(pl.col("high").is_not_null()).then(rd + pl.duration(days=pl.col("high")))
    hi = pl.min_horizontal(pl.col("exit_day"), hi_age)
    r = r.select(
        *POOL, "bucket_no", "bucket", "quantity", "value_cents", lo.alias("lo"), hi.alias("hi")
    )
    r = r.filter(pl.col("hi").is_null() | (pl.col("lo") < pl.col("hi")))
    clamp = pl.lit(start)
    ev = pl.concat(
        [
            r.select(
                *POOL,
                "bucket_no",
                "bucket",
                pl.max_horizontal("lo", clamp).alias("day"),
                "quantity",
                "value_cents",
            ),
            r.filter(pl.col("hi").is_not_null()).select(
                *POOL,
                "bucket_no",
                "bucket",
                pl.max_horizontal("hi", clamp).alias("day"),
                (-pl.col("quantity")).alias("quantity"),
                (-pl.col("value_cents")).alias("value_cents"),
            ),
        ]
    ).filter(pl.col("day") <= end)
    key = [*POOL, "bucket_no", "bucket"]
    ev = ev.group_by([*key, "day"]).agg(pl.col("quantity").sum(), pl.col("value_cents").sum())
    ev = ev.sort([*key, "day"]).with_columns(
        pl.col("quantity").cum_sum().over(key), pl.col("value_cents").cum_sum().over(key)
    )
    changed = (pl.col("quantity") != pl.col("quantity").shift(1).over(key)) | (
        pl.col("value_cents") != pl.col("value_cents").shift(1).over(key)
    )
    ev = ev.filter(changed.fill_null(True))
    return ev.select(*POOL, "bucket", "bucket_no", "day", "quantity", "value_cents")


def ageing_on(changes: pl.DataFrame, day: date) -> pl.DataFrame:
    """The full ageing report of one day: every pool and bucket with stock."""
    key = [*POOL, "bucket_no", "bucket"]
    snap = changes.filter(pl.col("day") <= day).sort([*key, "day"]).group_by(key).last()
    values = [c for c in changes.columns if c not in (*key, "day")]
    return (
        snap.filter(pl.col("quantity") != 0)
        .select(pl.lit(day).alias("day"), *POOL, "bucket", "bucket_no", *values)
        .sort([*POOL, "bucket_no"])
    )
