"""Costing assets: FIFO costing, the T-1 inventory check, and the ERP exports.

`costing` is a daily asset that depends on its own previous day (each day starts
from the previous day's open layers) with a single-run backfill: a nightly run
costs one day from yesterday's checkpoint, and a range (the three-year go-live
initialisation, or a recost after late documents) is one run through the same
set-based engine. Its invariant checks are blocking, so a wrong number never
reaches `costing_exports`; the snapshot check blocks the exports as well.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from assets.metadata import (
    Metadata,
    log_partition_materializations,
    money_by_company,
    preview_table,
)
from assets.partitions import daily_partitions, partition_days
from assets.resources import ReckonResource
from pipelines.contracts.costing import INVENTORY_DISCREPANCIES
from pipelines.contracts.inputs import SNAPSHOTS
from pipelines.contracts.restatements import COSTING_RESTATED_DOCUMENTS, COSTING_RESTATEMENTS
from pipelines.frames import smallest_float
from pipelines.inventory_check.check import check_snapshot
from runs.costing import (
    CHANGE_ROW_TABLES,
    DAILY_OUTPUTS,
    INVARIANTS,
    CostingRun,
    ageing_on_days,
    cost_days,
    valuation_on_days,
)
from runs.costing_summaries import (
    cogs_by_company_and_kind,
    company_day_figures,
    day_figures,
    flag_counts,
    largest_cogs,
    layers_behind,
)
from runs.dated import day_of
from storage.exports import write_daily_exports
from storage.warehouse import read_table, replace_slice

GROUP = "costing"
SINGLE_RUN = dg.BackfillPolicy.single_run()
PREVIOUS_DAY = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
FULL_REPORT_MAX_DAYS = 31
"""Ranges longer than this export full valuation and ageing at month ends and the last day
only (every day's change rows stay in the warehouse): three years of full daily reports would
be tens of millions of rows nobody reads."""
INVENTORY_CHECK_OUTPUTS = dict.fromkeys(
    ("inventory_discrepancies", "inventory_accuracy"),
    INVENTORY_DISCREPANCIES.day_column,
)
"""The inventory check's tables -> their date column (the day of the snapshot compared)."""
REWRITTEN: dict[str, dg.MetadataValue] = {
    "reason": dg.MetadataValue.text("costing rewrote this day (docs/costing.md)")
}
RESTATEMENT_EXPORTS = (COSTING_RESTATEMENTS.name, COSTING_RESTATED_DOCUMENTS.name)
"""Exported per day a run costed through (`exports/<table>/<day>.csv`), every run's record
of that day in one file."""

LARGEST_SHOWN = 10
"""The largest COGS lines shown per company (of the day, or of a range run): all are shown."""
LAYERS_SHOWN = 60
"""Receipt layers shown behind them (a line may consume several)."""

QUARANTINE_CHECK = "costed_without_quarantine"
QUARANTINE_SHOWN = 10
"""Refused documents named in the check (and by `reckon run`); all are in costing_quarantine."""

INVARIANT_DESCRIPTIONS = {
    "roll_forward": "Per pool and day: opening + in - out = closing; opening = previous closing.",
    "open_layers_equal_balance": "Open layers less open shortfalls equal the closing balance.",
    "no_negative_layer": "No open layer below zero, each a valid slice of its receipt layer.",
    "journal_balanced": "Debits equal credits per day and company.",
}


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN,
    deps=[
        "movements",
        "landed_costs",
        "fx_rates",
        "companies",
        "skus",
        dg.AssetDep("costing", partition_mapping=PREVIOUS_DAY),
    ],
    kinds={"polars", "duckdb"},
    check_specs=[
        *(
            dg.AssetCheckSpec(name, asset="costing", blocking=True, description=text)
            for name, text in INVARIANT_DESCRIPTIONS.items()
        ),
        dg.AssetCheckSpec(
            QUARANTINE_CHECK,
            asset="costing",
            description="Every document of the days was costed: none left out for a missing "
            "FX rate or transfer legs that disagree (table costing_quarantine).",
        ),
    ],
    description=(
        "FIFO cost of every outbound movement with its consumed layers, valuation and ageing "
        "change rows, landed-cost allocations, journals and flags (warehouse tables costing_*)."
    ),
)
def costing(context: dg.AssetExecutionContext, reckon: ReckonResource):
    days = partition_days(context)
    start, end = days[0], days[-1]
    with reckon.warehouse() as con, reckon.costing_sharding() as sharding:
        run = cost_days(
            con,
            start,
            end,
            reckon.costing_policy,
            chunk_days=reckon.costing_chunk_days,
            run_id=context.run.run_id,
            sharding=sharding,
            chunk_movements=reckon.costing_chunk_movements,
        )
        figures = DayFigures(day_figures(con, start, end), company_day_figures(con, start, end))
        by_kind = cogs_by_company_and_kind(con, start, end)
        by_flag = flag_counts(con, start, end)
        largest = largest_cogs(con, start, end, LARGEST_SHOWN)
        layers = layers_behind(con, largest)
        own_days = _own_figure_days(run.rewritten_days, days)
        each_day = _each_day_metadata(con, own_days) if own_days else {}
        replace_slice(
            con, "costing_runs", _run_row(context.run.run_id, run), {"run_id": context.run.run_id}
        )
    restated = _restatement_metadata(run)
    meta = _costing_metadata(run, figures, by_kind, by_flag, largest, layers)
    yield dg.MaterializeResult(metadata={**meta, **restated})
    # each day costed gets its own materialization after the run's (assets/metadata.py)
    asked = set(days)
    log_partition_materializations(
        context,
        {
            str(day): {
                **day_meta,
                **_range_run(run),
                **({} if day in asked else {**rewritten_by(context), **restated}),
            }
            for day, day_meta in each_day.items()
        },
    )
    for name in INVARIANTS:
        violations = run.violations[name]
        yield dg.AssetCheckResult(
            check_name=name,
            passed=violations.is_empty(),
            metadata={"violations": violations.height, "first": preview_table(violations, 10)},
        )
    yield _quarantine_check(run)


def _quarantine_check(run: CostingRun) -> dg.AssetCheckResult:
    """The documents left out, an ERROR: `reckon run` exits 4 (quarantine) and prints them."""
    refused = pl.concat(run.quarantined) if run.quarantined else pl.DataFrame()
    reasons = [
        f"{r['table']} {r['document_id']} ({r['file']}, row {r['row']}): {r['reason']}"
        for r in refused.head(QUARANTINE_SHOWN).iter_rows(named=True)
    ]
    return dg.AssetCheckResult(
        check_name=QUARANTINE_CHECK,
        passed=refused.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "rows_quarantined": refused.height,
            "quarantine": "the table costing_quarantine",
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in reasons)),
        },
    )


def _restatement_metadata(run: CostingRun) -> dict[str, dg.MetadataValue]:
    """What the run restated (costing_restatements rows), shown on every partition it
    rewrote: nothing changes silently."""
    record = run.restatement
    if record.is_empty():
        return {"restated": dg.MetadataValue.text("no day already costed changed")}
    documents = run.restated_documents
    days = (record["restated_from"].min(), record["restated_to"].max())
    counts = {
        change: int((documents["change"] == change).sum())
        for change in ("ADDED", "CHANGED", "REMOVED")
    }
    return {
        "restated": dg.MetadataValue.text(" to ".join(str(day) for day in days)),
        "restated_documents": dg.MetadataValue.json(counts),
        "restatement": preview_table(
            record.select(
                "company",
                "currency",
                "posted_on",
                "cogs_before",
                "cogs_after",
                "inventory_value_before",
                "inventory_value_after",
            )
        ),
        "restated_documents_list": preview_table(documents, 20),
    }


def rematerialised(
    context: dg.AssetExecutionContext,
    rewritten: list[date],
    requested: list[date],
    metadata: Mapping[str, dg.MetadataValue],
) -> list[dg.AssetMaterialization]:
    """A materialization of this asset for every day the run rewrote outside the partitions
    it was launched for, so the UI shows those partitions as rematerialised by this run
    (and their downstream partitions of a later run as stale), with why."""
    asked = set(requested)
    return [
        dg.AssetMaterialization(
            asset_key=context.asset_key,
            partition=str(day),
            metadata={"rewritten_by_run": dg.MetadataValue.text(context.run.run_id), **metadata},
        )
        for day in rewritten
        if day not in asked
    ]


def rewritten_days(
    context: dg.AssetExecutionContext, con: duckdb.DuckDBPyConnection, days: list[date]
) -> list[date]:
    """`days` and every day this run's costing rewrote (before or after them): their
    inventory check and exports are rewritten in the same run."""
    runs = read_table(con, "costing_runs", "run_id = ?", [context.run.run_id])
    if runs.is_empty():
        return days
    first = min([*runs["computed_start"].to_list(), days[0]])
    last = max([*runs["computed_end"].to_list(), days[-1]])
    return [date.fromordinal(d) for d in range(first.toordinal(), last.toordinal() + 1)]


def _run_row(run_id: str, run: CostingRun) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "run_id": [run_id],
            "requested_start": [run.requested[0]],
            "requested_end": [run.requested[1]],
            "computed_start": [run.computed[0]],
            "computed_end": [run.computed[1]],
            "late_from": [run.late_from],
        },
        schema={
            "run_id": pl.String,
            "requested_start": pl.Date,
            "requested_end": pl.Date,
            "computed_start": pl.Date,
            "computed_end": pl.Date,
            "late_from": pl.Date,
        },
    )


@dataclass(frozen=True)
class DayFigures:
    """A run's figures per day (`DAY_FIGURES`: counts) and per day and company
    (`COMPANY_DAY_FIGURES`: money, each company in its functional currency)."""

    days: pl.DataFrame
    companies: pl.DataFrame

    def on(self, day: date) -> "DayFigures":
        return DayFigures(
            self.days.filter(pl.col("day") == day), self.companies.filter(pl.col("day") == day)
        )


def _costing_metadata(
    run: CostingRun,
    figures: DayFigures,
    by_kind: pl.DataFrame,
    by_flag: pl.DataFrame,
    largest: pl.DataFrame,
    layers: pl.DataFrame,
) -> Metadata:
    """The run's figures. Dagster puts one run's materialization metadata on every
    partition it covers (dagster-io/dagster#18123), so a range run's totals say so
    (`figures_cover`) and leave out the plotted numbers; each day's own figures are on its
    partition as a materialization of its own (`_each_day_metadata`)."""
    start, end = run.requested
    run_figures: Metadata = {
        "days_requested": (end - start).days + 1,
        "days_recosted_for_late_documents": run.restated_days,
        "late_documents_from": str(run.late_from) if run.late_from else "none",
        "late_documents": run.counts.get("costing_late_documents", 0),
    }
    if start == end:
        return {**_day_metadata(figures, by_kind, by_flag, largest, layers), **run_figures}
    return {
        **_figures(figures, plotted=False),
        "figures_cover": f"{start} to {end} (the whole range)",
        **run_figures,
        "cogs_by_company_and_kind": preview_table(by_kind, 30),
        "flags": preview_table(by_flag),
        "largest_issues": preview_table(largest, largest.height),
        "layers_behind_largest_issues": preview_table(layers, LAYERS_SHOWN),
    }


def _figures(figures: DayFigures, plotted: bool = True) -> Metadata:
    """The figures shown first for a day, or a range of days: per company in its functional
    currency, COGS over the days and the inventory value at the end of the last, as a table
    of exact figures (`cogs_by_company`) and as plotted numbers (`cogs CN01 (CNY)`; not for
    a range run's totals, which are not one day's); then the counts."""
    days, companies = figures.days, figures.companies
    counts = ("outbound_movements", "provisional_movements", "true_ups", "flagged_movements")
    last_day = companies.filter(pl.col("day") == companies["day"].max())
    cogs = companies.group_by("company", "currency").agg(pl.col("cogs").sum()).sort("company")
    by_company = cogs.join(
        last_day.select("company", pl.col("inventory_value").alias("inventory_value_end")),
        on="company",
        how="left",
    )
    plotted_money = (
        {
            **money_by_company(by_company, "cogs", "cogs", exact_text=False),
            **money_by_company(
                by_company, "inventory_value_end", "inventory_value_end", exact_text=False
            ),
        }
        if plotted
        else {}
    )
    return {
        "cogs_by_company": preview_table(by_company),
        **plotted_money,
        **{name: int(days[name].sum()) for name in (*counts, "late_movements")},
        "inventory_qty_end": int(days["inventory_qty"][-1]) if days.height else 0,
    }


def _own_figure_days(rewritten: list[date], requested: list[date]) -> list[date]:
    """The days that get a materialization of their own after the run's: every day of a
    range run (and the days it recosted around it), and a nightly run's days recosted
    before it (its own day has the run's materialization, which is that day's)."""
    if len(requested) > 1:
        return rewritten
    return [day for day in rewritten if day not in set(requested)]


def _each_day_metadata(con: duckdb.DuckDBPyConnection, days: list[date]) -> dict[date, Metadata]:
    """Each day's figures, as a nightly run of that day shows them (`_day_metadata`): one
    query per summary over the whole span, split by day, and the per-day tables of COGS by
    kind and flags (two small queries a day)."""
    first, last = days[0], days[-1]
    figures = DayFigures(day_figures(con, first, last), company_day_figures(con, first, last))
    largest = largest_cogs(con, first, last, LARGEST_SHOWN, per_day=True)
    layers = layers_behind(con, largest)
    largest_by_day = largest.partition_by("posting_date", as_dict=True) if largest.height else {}
    layers_by_day = layers.partition_by("posting_date", as_dict=True) if layers.height else {}
    return {
        day: _day_metadata(
            figures.on(day),
            cogs_by_company_and_kind(con, day, day),
            flag_counts(con, day, day),
            largest_by_day.get((day,), largest.clear()),
            layers_by_day.get((day,), layers.clear()),
        )
        for day in days
    }


def _day_metadata(
    figures: DayFigures,
    by_kind: pl.DataFrame,
    by_flag: pl.DataFrame,
    largest: pl.DataFrame,
    layers: pl.DataFrame,
) -> Metadata:
    """One day's figures, the same whichever run costed the day: per company in its
    functional currency (exact and plotted), the counts, COGS by kind, flags, the largest
    issues and the receipt layers behind them."""
    day = figures.days["day"][0] if figures.days.height else None
    return {
        **_figures(figures),
        "figures_cover": str(day),
        "cogs_by_company_and_kind": preview_table(by_kind, 30),
        "flags": preview_table(by_flag),
        "largest_issues": preview_table(largest, largest.height),
        "layers_behind_largest_issues": preview_table(layers, LAYERS_SHOWN),
    }


def _range_run(run: CostingRun) -> dict[str, dg.MetadataValue]:
    """Where a day's own materialization comes from: the run's range."""
    start, end = run.requested
    return {"costed_in_run_of": dg.MetadataValue.text(f"{start} to {end}")}


def rewritten_by(context: dg.AssetExecutionContext) -> dict[str, dg.MetadataValue]:
    return {"rewritten_by_run": dg.MetadataValue.text(context.run.run_id), **REWRITTEN}


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN,
    deps=["costing", "snapshots"],
    kinds={"polars", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            "snapshot_accuracy",
            asset="inventory_check",
            blocking=True,
            description="Share of (warehouse, sku) rows matching the WMS snapshot, per warehouse, "
            "is at least the configured threshold.",
        )
    ],
    description="Computed end-of-day stock against the WMS T-1 snapshot: every discrepancy, "
    "and accuracy per warehouse.",
)
def inventory_check(context: dg.AssetExecutionContext, reckon: ReckonResource):
    requested = partition_days(context)
    discrepancies, accuracy = [], []
    with reckon.warehouse() as con:
        days = rewritten_days(context, con, requested)
        balances = valuation_on_days(con, days)
        snapshots = read_table(
            con, "snapshots", f"{day_of(SNAPSHOTS)} BETWEEN ? AND ?", [days[0], days[-1]]
        )
        dated = SNAPSHOTS.day_column
        snapshot_days = set(snapshots[dated].to_list()) if snapshots.height else set()
        for day in days:
            if day not in snapshot_days:
                continue
            result = check_snapshot(balances.filter(pl.col("day") == day), snapshots, day)
            discrepancies.append(result.discrepancies)
            accuracy.append(result.accuracy)
        found = pl.concat(discrepancies) if discrepancies else pl.DataFrame()
        rates = pl.concat(accuracy) if accuracy else pl.DataFrame()
        where = {INVENTORY_DISCREPANCIES.day_column: (days[0], days[-1])}
        if found.width:
            replace_slice(con, "inventory_discrepancies", found, where)
            replace_slice(con, "inventory_accuracy", rates, where)
    threshold = reckon.snapshot_accuracy_threshold
    below = rates.filter(pl.col("accuracy") < threshold) if rates.height else rates
    worst = smallest_float(rates["accuracy"]) if rates.height else 1.0

    def on_day(day: date) -> Metadata:
        checked = int(day in snapshot_days)
        return _check_metadata(str(day), _on(found, day), _on(rates, day), checked)

    if len(requested) == 1:  # a nightly run shows its own day (the check covers them all)
        yield dg.MaterializeResult(metadata=on_day(requested[0]))
    else:
        cover = f"{days[0]} to {days[-1]} (the whole range)"
        totals = _check_metadata(cover, found, rates, len(snapshot_days))
        yield dg.MaterializeResult(metadata=totals)
    # each other day checked gets its own after it, with that day's figures (a nightly run's)
    log_partition_materializations(
        context,
        {
            str(day): {**on_day(day), **({} if day in set(requested) else rewritten_by(context))}
            for day in _own_figure_days(days, requested)
        },
    )
    yield dg.AssetCheckResult(
        check_name="snapshot_accuracy",
        passed=below.is_empty() and bool(snapshot_days),
        severity=dg.AssetCheckSeverity.ERROR if below.height else dg.AssetCheckSeverity.WARN,
        metadata={
            "threshold": threshold,
            "lowest_accuracy": worst,
            "days_without_snapshot": len(days) - len(snapshot_days),
            "below_threshold": preview_table(below, 20),
        },
    )


def _on(frame: pl.DataFrame, day: date) -> pl.DataFrame:
    """The rows of the inventory check's `frame` for `day`."""
    column = INVENTORY_DISCREPANCIES.day_column
    return frame.filter(pl.col(column) == day) if frame.height else frame


def _check_metadata(
    cover: str, found: pl.DataFrame, rates: pl.DataFrame, days_checked: int
) -> Metadata:
    """The inventory check's figures over `cover` (a day, or a run's range): days checked,
    discrepancies, the lowest accuracy and the tables behind them."""
    return {
        "figures_cover": cover,
        "days_checked": days_checked,
        "discrepancies": found.height,
        "lowest_accuracy": smallest_float(rates["accuracy"]) if rates.height else 1.0,
        "accuracy": preview_table(rates.sort("accuracy") if rates.height else rates, 20),
        "discrepancy_preview": preview_table(found, 20),
    }


@dg.asset(
    group_name="exports",
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN,
    deps=["costing", "inventory_check"],
    kinds={"csv", "parquet"},
    description="Costing outputs for the ERP, per day: CSV (UTF-8 with BOM) and Parquet under "
    "exports/, written atomically; days recosted for late documents are rewritten too.",
)
def costing_exports(context: dg.AssetExecutionContext, reckon: ReckonResource):
    requested = partition_days(context)
    exports = reckon.layout.exports_dir
    with reckon.warehouse() as con:
        days = rewritten_days(context, con, requested)
        first, last = days[0], days[-1]
        written = 0
        daily = {**DAILY_OUTPUTS, **INVENTORY_CHECK_OUTPUTS}
        for table, column in daily.items():
            if table in CHANGE_ROW_TABLES:
                continue
            frame = read_table(con, table, f'"{column}" BETWEEN ? AND ?', [first, last])
            if frame.width:
                written += len(write_daily_exports(frame, exports, table, column, days))
        report_days = _full_report_days(days, requested, exports)
        for name, report in (
            ("inventory_valuation", valuation_on_days(con, report_days)),
            ("stock_ageing", ageing_on_days(con, report_days)),
        ):
            if report.width:
                written += len(write_daily_exports(report, exports, name, "day", report_days))
        for table in RESTATEMENT_EXPORTS:
            frame = read_table(con, table, "detected_on = ?", [last])
            if frame.width:
                written += len(write_daily_exports(frame, exports, table, "detected_on", [last]))
    yield dg.MaterializeResult(
        metadata={
            "days_exported": len(days),
            "full_report_days": len(report_days),
            "files_written": written * 2,
            "folder": dg.MetadataValue.path(str(exports)),
        }
    )
    for event in rematerialised(context, days, requested, REWRITTEN):
        context.log_event(event)


def _full_report_days(days: list[date], requested: list[date], exports: Path) -> list[date]:
    """Every day of a short range; month ends and the last day of a long one. A day
    recosted outside the requested range whose report was exported before is rewritten
    whatever the range's length: no export is left showing figures since restated."""
    if len(days) <= FULL_REPORT_MAX_DAYS:
        return days
    asked = set(requested)
    month_ends = [d for d in days if (d + timedelta(days=1)).month != d.month]
    folder = exports / "inventory_valuation"
    exported = [d for d in days if d not in asked and (folder / f"{d}.parquet").exists()]
    return sorted({*month_ends, *exported, days[-1]})
