"""Order profitability assets: contribution margin per order line, its roll-ups and exports.

`order_profit` is daily like costing, with a single-run backfill. It reads what costing
and the reconciliation stored (COGS journal lines, shipment ratings, findings), so it runs
in its own job after them (`profit`, launched by `reckon run` after the reconciliation).
Its checks: allocations sum exactly and margins are their stated differences (blocking),
every shipped line has a COGS or a stated reason (a warning: a late issue document), no
refund goes beyond its line (a warning: the order centre's data refunds more than was
sold, the excess is left out and shown), and the totals tie back to the COGS journal and
to the per-order freight (blocking), so a wrong number never reaches `profit_exports`.
"""

from datetime import date

import dagster as dg
import duckdb
import polars as pl

from assets.defs.costing import rematerialised
from assets.metadata import Metadata, money_by_company, preview_table
from assets.partitions import daily_partitions, partition_days
from assets.resources import ReckonResource
from pipelines.contracts.profit import PROFIT_RESTATEMENTS
from runs.profit import OUTPUTS, profit_days
from storage.exports import write_daily_exports
from storage.warehouse import read_table

GROUP = "profit"
EXPORTED = tuple(name for name, table in OUTPUTS.items() if table.exported)
"""The profit tables the ERP receives (their contracts say so)."""
RESTATEMENT_EXPORTS = (PROFIT_RESTATEMENTS.name,)
"""Exported per day a run was asked through (`exports/<table>/<detected_on>.csv`), every
run's record of that day in one file, as costing's restatements."""
DAILY_EXPORTS = tuple(name for name in EXPORTED if name not in RESTATEMENT_EXPORTS)
"""Exported per order day: the days asked for and every day the run recomputed."""
CHECK_DESCRIPTIONS = {
    "allocations_sum_exactly": (
        "Order-level amounts, COGS postings and parcels' freight: line shares sum to them "
        "exactly; net revenue and margin are their stated differences on every line."
    ),
    "shipped_lines_have_cogs": "Every shipped line has a COGS or a stated reason.",
    "refunds_within_the_line": (
        "No refund goes beyond its line: units above its quantity, or an amount above the net "
        "revenue its refunds of units left; the excess is not reversed (each such refund, "
        "the excess and why)."
    ),
    "totals_tie_back": (
        "Order-line COGS equals the COGS journal's issues and returns of order lines per day "
        "and company; order-line freight equals order_logistics_cost per warehouse order."
    ),
}
BLOCKING = {"allocations_sum_exactly", "totals_tie_back"}
RESTATED: dict[str, dg.MetadataValue] = {
    "reason": dg.MetadataValue.text("its inputs changed since profit computed it (docs/profit.md)")
}


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[
        "orders",
        "order_lines",
        "order_refunds",
        "costing",
        "order_logistics_cost",
        "fx_rates",
        "companies",
        "skus",
    ],
    kinds={"polars", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec(name, asset="order_profit", blocking=name in BLOCKING, description=text)
        for name, text in CHECK_DESCRIPTIONS.items()
    ],
    description=(
        "Contribution margin per order line (order_profit), per order and per day, company, "
        "channel and SKU, with the COGS postings and parcels behind each line."
    ),
)
def order_profit(context: dg.AssetExecutionContext, reckon: ReckonResource):
    days = partition_days(context)
    with reckon.warehouse() as con:
        run = profit_days(con, days[0], days[-1], run_id=context.run.run_id)
        daily = read_table(con, "profit_daily", "order_date IN (SELECT unnest(?))", [run.days])
        negative = read_table(
            con,
            "order_profit_orders",
            "order_date BETWEEN ? AND ? AND contribution_margin < 0",
            [days[0], days[-1]],
        )
    restated = _restatement_metadata(run.restated_days, run.restatement)
    meta = _metadata(run.counts, len(run.restated_days), daily, negative)
    yield dg.MaterializeResult(metadata={**meta, **restated})
    for event in rematerialised(context, run.restated_days, days, restated):
        context.log_event(event)
    for name in CHECK_DESCRIPTIONS:
        found = run.violations.get(name, pl.DataFrame())
        severity = dg.AssetCheckSeverity.ERROR if name in BLOCKING else dg.AssetCheckSeverity.WARN
        meta = {"violations": found.height, "first": preview_table(found, 10)}
        if name == "totals_tie_back" and run.tie_back.height:
            meta["cogs_tie_back"] = preview_table(run.tie_back, 31)
        yield dg.AssetCheckResult(
            check_name=name, passed=found.is_empty(), severity=severity, metadata=meta
        )


def _restatement_metadata(days: list[date], record: pl.DataFrame) -> dict[str, dg.MetadataValue]:
    """The days recomputed because their inputs changed, and their margins before and
    after per company (profit_restatements), shown on every partition the run rewrote."""
    if not days:
        return {"restated": dg.MetadataValue.text("no day already computed changed")}
    return {
        "restated": dg.MetadataValue.text(", ".join(str(d) for d in days)),
        "restatement": preview_table(
            record.select(
                "order_date",
                "company",
                "currency",
                "changed",
                "cogs_before",
                "cogs_after",
                "freight_before",
                "freight_after",
                "margin_before",
                "margin_after",
            ),
            62,
        ),
    }


def _metadata(
    counts: dict[str, int], restated: int, daily: pl.DataFrame, negative: pl.DataFrame
) -> Metadata:
    """Per day and company: revenue, COGS, freight and margin as plottable numbers, and the
    negative-margin orders with the cost that drove each."""
    meta: Metadata = {
        "order_lines": counts.get("order_profit", 0),
        "days_restated": restated,
        "negative_margin_orders": negative.height,
        "negative_margin_preview": preview_table(
            negative.select(
                "order_date",
                "order_id",
                "channel",
                "net_revenue",
                "cogs",
                "freight",
                "platform_fees",
                "contribution_margin",
                "largest_cost",
            ).sort("contribution_margin")
            if negative.height
            else negative,
            20,
        ),
    }
    if daily.height:
        totals = daily.group_by("order_date", "company", "functional_currency").agg(
            pl.col("net_revenue", "cogs", "freight", "contribution_margin").sum()
        )
        meta["by_day_and_company"] = preview_table(totals.sort("order_date", "company"), 62)
        companies = (
            daily.group_by("company", "functional_currency")
            .agg(pl.col("net_revenue", "cogs", "freight", "contribution_margin").sum())
            .rename({"functional_currency": "currency"})
            .sort("company")
        )
        for name in ("net_revenue", "cogs", "freight", "contribution_margin"):
            # per company in its functional currency: plotted, with the exact text beside it
            meta.update(money_by_company(companies, name, name))
    return meta


@dg.asset(
    group_name="exports",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["order_profit"],
    kinds={"csv", "parquet"},
    description="order_profit, per order and per day for the ERP: CSV (UTF-8 with BOM) and "
    "Parquet per order day under exports/, written atomically; profit_restatements per day "
    "a run was asked through.",
)
def profit_exports(context: dg.AssetExecutionContext, reckon: ReckonResource):
    requested = partition_days(context)
    written = 0
    with reckon.warehouse() as con:
        days = _computed_days(context, con, requested)
        exports = reckon.layout.exports_dir
        for table in DAILY_EXPORTS:
            column = OUTPUTS[table].day_column
            frame = read_table(con, table, f'"{column}" IN (SELECT unnest(?))', [days])
            if frame.width:
                written += len(write_daily_exports(frame, exports, table, column, days))
        last = requested[-1]
        for table in RESTATEMENT_EXPORTS:
            frame = read_table(con, table, "detected_on = ?", [last])
            if frame.width:
                written += len(write_daily_exports(frame, exports, table, "detected_on", [last]))
    yield dg.MaterializeResult(metadata={"days_exported": len(days), "files_written": written * 2})
    for event in rematerialised(context, days, requested, RESTATED):
        context.log_event(event)


def _computed_days(
    context: dg.AssetExecutionContext, con: duckdb.DuckDBPyConnection, requested: list[date]
) -> list[date]:
    """`requested` and every day `order_profit` recomputed in this run (`profit_inputs`
    names the run that last computed each day): their exports are rewritten too."""
    rows = read_table(con, "profit_inputs", "run_id = ?", [context.run.run_id])
    restated = rows["order_date"].to_list() if rows.height else []
    return sorted({*requested, *restated})


profit_job = dg.define_asset_job(
    name="profit",
    selection=dg.AssetSelection.assets("order_profit", "profit_exports"),
    description="Order profitability for the days, after costing and the reconciliation.",
)
