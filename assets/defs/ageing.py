"""`stock_ageing`: which stock is old, and what it is worth, per company (issue 11, question 2).

The ageing change rows are written by `costing`; this asset reads the day's full report
(runs/costing.py `ageing_on_days`) and shows it per company and age bucket, the value older
than 90 days, and the SKUs holding most of it. Every day shows its own: a range run logs
each day's materialization after its own (one as-of query for the whole range).
"""

from datetime import date

import dagster as dg
import polars as pl

from assets.defs.costing import rewritten_by, rewritten_days
from assets.metadata import (
    Metadata,
    log_partition_materializations,
    money_by_company,
    preview_table,
)
from assets.partitions import daily_partitions, partition_days
from assets.resources import ReckonResource
from runs.costing_summaries import ageing_summaries

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
    requested = partition_days(context)
    buckets = reckon.costing_policy.age_buckets
    with reckon.warehouse() as con:
        # with the days this run's costing recosted around them (a restatement)
        days = rewritten_days(context, con, requested)
        by_bucket, top = ageing_summaries(con, days, buckets, OLDER_THAN_DAYS)
    each = {day: _day_metadata(day, by_bucket, top) for day in days}
    # the run's own materialization shows the last day asked for; then each day its own (a
    # range run puts the run's metadata on every partition it covers: assets/metadata.py)
    yield dg.MaterializeResult(metadata=each[requested[-1]])
    asked = set(requested)
    if len(days) > 1:
        log_partition_materializations(
            context,
            {str(d): {**meta, **({} if d in asked else rewritten_by(context))}
             for d, meta in each.items()},
        )  # fmt: skip


def _day_metadata(day: date, by_bucket: pl.DataFrame, top: pl.DataFrame) -> Metadata:
    """What the analyst sees for one day: value over 90 days per company, the buckets, and
    the SKUs holding the old stock."""
    over = f"value_over_{OLDER_THAN_DAYS}_days"
    buckets = by_bucket.filter(pl.col("day") == day).drop("day") if by_bucket.height else by_bucket
    skus = top.filter(pl.col("day") == day).drop("day") if top.height else top
    # every company holding stock gets its figure, 0 when none of it is old (a plotted
    # series without gaps, and an explicit answer to "how much is over 90 days")
    holding = buckets.select("company", "currency").unique() if buckets.height else None
    old = (
        holding.join(
            skus.group_by("company", "currency").agg(pl.col(over).sum()) if skus.height
            else pl.DataFrame(schema={"company": pl.String, "currency": pl.String,
                                      over: buckets.schema["value"]}),
            on=["company", "currency"], how="left",
        ).with_columns(pl.col(over).fill_null(0)).sort("company")
        if holding is not None
        else None
    )  # fmt: skip
    return {
        "as_of": str(day),
        **(
            money_by_company(old, f"value over {OLDER_THAN_DAYS} days", over)
            if old is not None
            else {}
        ),
        "by_company_and_bucket": preview_table(buckets, 60),
        f"top_skus_over_{OLDER_THAN_DAYS}_days": preview_table(
            skus.group_by("company", maintain_order=True).head(15) if skus.height else skus, 30
        ),
        "dagster/row_count": buckets.height,
    }
