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

from pipelines.as_of import POOL, as_of
from pipelines.costing.policy import CostingPolicy


def ageing_changes(
    residencies: pl.DataFrame, start: date, end: date, policy: CostingPolicy
) -> pl.DataFrame:
    """company, warehouse, sku, bucket, bucket_no, day, quantity, value_cents from `day` on.

    `residencies`: pool columns, receipt_date, quantity, value_cents, enter_day, exit_day
    (null: still open). Events before `start` are folded into `start`. Days are integers
    and pools integer ids inside, so the sort and cumulative sum stay cheap.
    """
    labels = policy.bucket_labels()
    lows = [0, *(b + 1 for b in policy.age_buckets)]
    buckets = pl.DataFrame(
        {
            "bucket_no": list(range(len(labels))),
            "bucket": labels,
            "low": lows,
            "high": [*lows[1:], None],
        },
        schema={"bucket_no": pl.Int32, "bucket": pl.String, "low": pl.Int32, "high": pl.Int32},
    )
    pools = residencies.select(POOL).unique().with_row_index("pid")
    s_day = pl.lit(start).cast(pl.Int32)
    e_day = pl.lit(end).cast(pl.Int32)
    r = residencies.join(pools, on=POOL).select(
        pl.col("pid").cast(pl.Int64),
        pl.col("receipt_date").cast(pl.Int32).alias("rd"),
        pl.max_horizontal(pl.col("enter_day").cast(pl.Int32), s_day).alias("enter"),
        pl.col("exit_day").cast(pl.Int32).alias("exit"),
        "quantity",
        "value_cents",
    )

    def bucket_of(age: pl.Expr) -> pl.Expr:
        return pl.sum_horizontal(*((age >= low).cast(pl.Int32) for low in lows[1:]))

    # Only the buckets a slice passes through while present (one or two for short stays).
    age_in = pl.col("enter") - pl.col("rd")
    age_out = pl.coalesce(pl.col("exit"), e_day + 1) - pl.col("rd") - 1
    r = r.filter(pl.col("exit").is_null() | (pl.col("exit") > pl.col("enter")))
    r = r.with_columns(
        pl.int_ranges(bucket_of(age_in), bucket_of(age_out) + 1, dtype=pl.Int32).alias("bucket_no")
    ).explode("bucket_no")
    r = r.filter(pl.col("bucket_no").is_not_null()).join(
        buckets.select("bucket_no", "low", "high"), on="bucket_no"
    )
    lo = pl.max_horizontal(pl.col("enter"), pl.col("rd") + pl.col("low"))
    hi = pl.min_horizontal(pl.col("exit"), pl.col("rd") + pl.col("high"))
    r = r.select(
        (pl.col("pid") * 64 + pl.col("bucket_no")).alias("k"),
        lo.alias("lo"),
        hi.alias("hi"),
        "quantity",
        "value_cents",
    ).filter(pl.col("hi").is_null() | (pl.col("lo") < pl.col("hi")))
    ev = pl.concat(
        [
            r.select("k", pl.col("lo").alias("day"), "quantity", "value_cents"),
            r.filter(pl.col("hi").is_not_null()).select(
                "k",
                pl.col("hi").alias("day"),
                (-pl.col("quantity")).alias("quantity"),
                (-pl.col("value_cents")).alias("value_cents"),
            ),
        ]
    ).filter(pl.col("day") <= e_day)
    ev = ev.group_by("k", "day").agg(pl.col("quantity").sum(), pl.col("value_cents").sum())
    ev = ev.sort("k", "day").with_columns(
        pl.col("quantity").cum_sum().over("k"), pl.col("value_cents").cum_sum().over("k")
    )
    changed = (pl.col("k") != pl.col("k").shift(1)) | (
        (pl.col("quantity") != pl.col("quantity").shift(1))
        | (pl.col("value_cents") != pl.col("value_cents").shift(1))
    )
    ev = ev.filter(changed.fill_null(True)).with_columns(
        (pl.col("k") // 64).alias("pid"), (pl.col("k") % 64).cast(pl.Int32).alias("bucket_no")
    )
    ev = ev.join(pools.with_columns(pl.col("pid").cast(pl.Int64)), on="pid").join(
        buckets.select("bucket_no", "bucket"), on="bucket_no"
    )
    return ev.select(
        *POOL, "bucket", "bucket_no", pl.col("day").cast(pl.Date), "quantity", "value_cents"
    ).sort([*POOL, "bucket_no", "day"])


def ageing_on(changes: pl.DataFrame, day: date) -> pl.DataFrame:
    """The full ageing report of one day: every pool and bucket with stock (`as_of`)."""
    key = [*POOL, "bucket_no", "bucket"]
    values = [c for c in changes.columns if c not in (*key, "day")]
    report = as_of(changes, day, key, values, ["quantity"])
    return report.select("day", *POOL, "bucket", "bucket_no", *values)
