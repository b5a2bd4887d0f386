"""`stock_ageing`: which stock is old, and what it is worth, per company (issue 11, question 2).

The ageing change rows are written by `costing`; this asset reads the day's full report
(runs/costing.py `ageing_on_days`) and shows it per company and age bucket, the value older
than 90 days, and the SKUs holding most of it. A range run shows its last day (a nightly
run shows its own).
"""

import dagster as dg
import polars as pl

from assets.metadata import Metadata, money_by_company, preview_table
from assets.partitions import daily_partitions, partition_days
from assets.resources import ReckonResource
from runs.costing_summaries import ageing_summary

OLDER_THAN_DAYS = 90


@dg.asset(
    group_name="costing",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["costing"],
    kinds={"duckdb"},
    description=(
        "Stock ageing at the end of the day: quantity and value per company and age bucket "
        "(functional currency), the value older than 90 days, and the SKUs holding it. The "
        "full report per pool is the export stock_ageing."
    ),
)
def stock_ageing(context: dg.AssetExecutionContext, reckon: ReckonResource):
    day = partition_days(context)[-1]
    buckets = reckon.costing_policy.age_buckets
    with reckon.warehouse() as con:
        by_bucket, top = ageing_summary(con, day, buckets, OLDER_THAN_DAYS)
    over = f"value_over_{OLDER_THAN_DAYS}_days"
    old = (
        top.group_by("company", "currency").agg(pl.col(over).sum()).sort("company")
        if top.height
        else top
    )
    metadata: Metadata = {
        "as_of": str(day),
        **(money_by_company(old, f"value over {OLDER_THAN_DAYS} days", over) if old.height else {}),
        "by_company_and_bucket": preview_table(by_bucket, 60),
        f"top_skus_over_{OLDER_THAN_DAYS}_days": preview_table(top, 15),
        "dagster/row_count": by_bucket.height,
    }
    return dg.MaterializeResult(metadata=metadata)
