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

from dataclasses import dataclass
from datetime import date

import dagster as dg
import duckdb
import polars as pl

from assets.defs.costing import rematerialised
from assets.metadata import (
    Metadata,
    log_partition_materializations,
    money_by_company,
    preview_table,
)
from assets.partitions import daily_partitions, partition_days
from assets.resources import ReckonResource
from pipelines.contracts.profit import ORDER_PROFIT_ORDERS, PROFIT_RESTATEMENTS
from pipelines.contracts.types import MONEY
from runs.profit import OUTPUTS, profit_days
from storage.exports import write_daily_exports
from storage.warehouse import read_table, table_exists

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
PLOTTED = ("net_revenue", "cogs", "freight", "contribution_margin")
"""Plotted per day and company, in the company's functional currency."""
NEGATIVE_COLUMNS = (
    "order_date",
    "order_id",
    "company",
    "functional_currency",
    "channel",
    "net_revenue",
    "cogs",
    "freight",
    "platform_fees",
    "contribution_margin",
    "largest_cost",
)
NEGATIVE_SHOWN = 20
"""The negative-margin orders shown, by day and company (each in its own currency), the
worst first; all are counted."""
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
        figures = day_figures(con, run.days)
    restated = _restatement_metadata(run.restated_days, run.restatement)
    each = {day: _day_metadata(day, figures) for day in run.days}
    counts: Metadata = {
        "order_lines_computed": run.counts.get("order_profit", 0),
        "days_restated": len(run.restated_days),
    }
    # a nightly run's own materialization is its day's; a range run's covers the range, and
    # each day then gets its own (a range run puts the run's on every partition it covers:
    # assets/metadata.py), as do the days it restated
    own = each[days[0]] if len(days) == 1 else _range_metadata(days, figures)
    yield dg.MaterializeResult(metadata={**own, **counts, **restated})
    asked = set(days)
    rewritten: Metadata = {"rewritten_by_run": context.run.run_id, **RESTATED, **restated}
    in_range: Metadata = {"computed_in_run_of": f"{days[0]} to {days[-1]}"}
    log_partition_materializations(
        context,
        {
            str(day): {**meta, **(in_range if day in asked else rewritten)}
            for day, meta in each.items()
            if len(days) > 1 or day not in asked
        },
    )
    for name in CHECK_DESCRIPTIONS:
        found = run.violations.get(name, pl.DataFrame())
        severity = dg.AssetCheckSeverity.ERROR if name in BLOCKING else dg.AssetCheckSeverity.WARN
        shown: Metadata = {"violations": found.height, "first": preview_table(found, 10)}
        if name == "totals_tie_back" and run.tie_back.height:
            shown["cogs_tie_back"] = preview_table(run.tie_back, 31)
        yield dg.AssetCheckResult(
            check_name=name, passed=found.is_empty(), severity=severity, metadata=shown
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


@dataclass(frozen=True)
class DayFigures:
    """What the analyst reads of the order days: per day and company (`by_company`: lines,
    net revenue, COGS, freight, margin, each in the company's functional currency) and the
    negative-margin orders with the cost that drove each (`negative`)."""

    by_company: pl.DataFrame
    negative: pl.DataFrame

    def on(self, days: list[date]) -> "DayFigures":
        return DayFigures(
            self.by_company.filter(pl.col("order_date").is_in(days)),
            self.negative.filter(pl.col("order_date").is_in(days)),
        )


def day_figures(con: duckdb.DuckDBPyConnection, days: list[date]) -> DayFigures:
    """`days`' figures from what the run stored: one query per summary over all of them."""
    by_company_schema = pl.Schema(
        {
            "order_date": pl.Date(),
            "company": pl.String(),
            "currency": pl.String(),
            "line_count": pl.Int64(),
            **dict.fromkeys(PLOTTED, MONEY),
        }
    )
    if not table_exists(con, "profit_daily"):  # no order loaded yet
        orders = ORDER_PROFIT_ORDERS.schema
        negative_schema = pl.Schema({c: orders[c] for c in NEGATIVE_COLUMNS})
        return DayFigures(
            pl.DataFrame(schema=by_company_schema), pl.DataFrame(schema=negative_schema)
        )
    total = ", ".join(f"sum({c}) AS {c}" for c in ("line_count", *PLOTTED))
    by_company = con.sql(
        f"""SELECT order_date, company, functional_currency AS currency, {total}
            FROM profit_daily WHERE order_date IN (SELECT unnest(?))
            GROUP BY ALL ORDER BY order_date, company""",
        params=[days],
    ).pl()
    negative = con.sql(
        f"""SELECT {", ".join(NEGATIVE_COLUMNS)} FROM order_profit_orders
            WHERE order_date IN (SELECT unnest(?)) AND contribution_margin < 0
            ORDER BY order_date, company, contribution_margin, order_id""",
        params=[days],
    ).pl()
    return DayFigures(by_company.cast(by_company_schema), negative)


def _day_metadata(day: date, figures: DayFigures) -> Metadata:
    """One order day as the analyst reads it, whichever run computed it: per company in its
    functional currency, revenue, COGS, freight and margin as plottable numbers (never summed
    across currencies) with the exact figures in a table, and the day's negative-margin
    orders with the cost that drove each."""
    own = figures.on([day])
    companies = own.by_company.drop("order_date")
    meta: Metadata = {
        "figures_cover": str(day),
        "order_lines": int(companies["line_count"].sum()),
        "figures_by_company": preview_table(companies, 62),
        **_negative(own.negative.drop("order_date")),
    }
    for name in PLOTTED:
        meta.update(money_by_company(companies, name, name, exact_text=False))
    return meta


def _range_metadata(days: list[date], figures: DayFigures) -> Metadata:
    """A range run's own materialization: the range's days and companies in one table, no
    plotted figure (each day has its own materialization with its numbers)."""
    asked = figures.on(days)
    return {
        "figures_cover": f"{days[0]} to {days[-1]} (the whole range)",
        "order_lines": int(asked.by_company["line_count"].sum()),
        "by_day_and_company": preview_table(asked.by_company, 62),
        **_negative(asked.negative),
    }


def _negative(orders: pl.DataFrame) -> Metadata:
    return {
        "negative_margin_orders": orders.height,
        "negative_margin_preview": preview_table(orders, NEGATIVE_SHOWN),
    }


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
