"""Input assets: each ERP/WMS extract validated and loaded into the warehouse.

Reference tables load whole; daily tables load per load day, and a range of
days (the go-live initialisation) runs as one run (single-run backfill). Each
load carries its own check, of severity WARN: quarantined rows or rejected files fail it,
so bad input is visible in the UI while the good rows still load and the run goes on.
"""

import dagster as dg
import polars as pl

from assets.metadata import Metadata, log_partition_materializations, preview_table
from assets.partitions import daily_partitions, partition_days
from assets.resources import ReckonResource
from pipelines.contracts.inputs import DAILY_TABLES, REFERENCE_TABLES
from pipelines.contracts.spec import TableContract
from storage.loading.load import DayCounts, LoadReport, load_daily_range, load_reference_table

GROUP = "inputs"
CHECK_NAME = "loaded_without_quarantine"


def _check_spec(contract: TableContract) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK_NAME,
        asset=contract.name,
        description=(
            "Input files were found, and validation against the contract quarantined no row "
            "and rejected no file (a warning: the good rows load; the reason comes first)."
        ),
    )


def _results(reports: list[LoadReport]) -> tuple[dg.MaterializeResult, dg.AssetCheckResult]:
    violations = pl.concat(
        [r.violations for r in reports if r.violations is not None], how="vertical"
    )
    rejected = [f for r in reports for f in r.rejected_files]
    warnings = [w for r in reports for w in r.warnings]
    totals = {
        "files": sum(len(r.files) for r in reports),
        "rows_read": sum(r.rows_read for r in reports),
        "rows_loaded": sum(r.rows_loaded for r in reports),
        "rows_quarantined": sum(r.rows_quarantined for r in reports),
        "late_rows": sum(r.late_rows for r in reports),
        "rejected_files": len(rejected),
    }
    reasons_first = _reasons_first(violations)
    metadata: Metadata = {
        **totals,
        "dagster/row_count": totals["rows_loaded"],
        "partitions": ", ".join(r.partition for r in reports),
        "violations": preview_table(reasons_first),
    }
    if rejected:
        metadata["rejected"] = dg.MetadataValue.md("\n".join(f"- {f}" for f in rejected[:20]))
    if warnings:
        metadata["warnings"] = dg.MetadataValue.md("\n".join(f"- {w}" for w in warnings[:20]))
    no_input = totals["files"] == 0
    if no_input:
        metadata["warnings"] = dg.MetadataValue.md("- no input files found for this partition")
    passed = totals["rows_quarantined"] == 0 and not rejected and not no_input
    # A warning, never blocking: the good rows load and the run goes on. `reckon run` still
    # exits 4 (quarantine) from the counts below, whatever the severity (reckon/summary.py).
    reason = _why(totals, reasons_first, rejected, no_input)
    check_metadata: Metadata = {
        "reason": reason,
        "rows_quarantined": totals["rows_quarantined"],
        "rejected_files": totals["rejected_files"],
        "first_violations": preview_table(reasons_first, limit=10),
    }
    if rejected:
        check_metadata["rejected"] = metadata["rejected"]
    check = dg.AssetCheckResult(
        check_name=CHECK_NAME,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=reason,  # the evaluation's own text, as well as its metadata
        metadata=check_metadata,
    )
    return dg.MaterializeResult(metadata=metadata), check


def _why(
    totals: dict[str, int], violations: pl.DataFrame, rejected: list[str], no_input: bool
) -> str:
    """What the check says first: how many rows and files went to quarantine and why (the
    most frequent reasons), or that no extract came in."""
    if no_input:
        return "no input files found for this partition"
    if not totals["rows_quarantined"] and not rejected:
        return "nothing quarantined"
    parts = [f"{totals['rows_quarantined']} row(s) quarantined, {len(rejected)} file(s) rejected"]
    if violations.height and "reason" in violations.columns:
        counts = (
            violations.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
        )
        parts += [f"{reason} ({n} row(s))" for reason, n in counts.head(5).iter_rows()]
    parts += rejected[:5]
    return "; ".join(parts)


def _reasons_first(violations: pl.DataFrame) -> pl.DataFrame:
    """The quarantined rows with why first, then where (column, row, file): what an analyst
    reads first on the check."""
    first = [c for c in ("reason", "column", "row", "file") if c in violations.columns]
    return violations.select(*first, *(c for c in violations.columns if c not in first))


def _fk_deps(contract: TableContract) -> list[str]:
    return sorted({fk.table for fk in contract.foreign_keys})


def _spec(contract: TableContract) -> dg.AssetSpec:
    return dg.AssetSpec(
        contract.name,
        group_name=GROUP,
        description=contract.description,
        deps=_fk_deps(contract),
        kinds={"duckdb", "polars"},
    )


def _outcome(
    context: dg.AssetExecutionContext, reckon: ReckonResource, contract: TableContract, reports
):
    """The load's materialization and, where the data directory has the input's folder, its
    check. Without the folder the directory does not use the input (a costing-only one has
    no shipments/ or orders/): the check is not evaluated, so the UI shows it skipped rather
    than failed, and `reckon run` does not count it (a folder without the day's file is a
    WARN, as a real gap may be)."""
    materialized, check = _results(reports)
    metadata = dict(materialized.metadata or {})
    folder = reckon.layout.input_dir(contract.name)
    if not folder.is_dir():
        note = f"- no {folder.name}/ folder in the data directory: input not used, check skipped"
        metadata["warnings"] = dg.MetadataValue.md(note)
        yield dg.MaterializeResult(asset_key=contract.name, metadata=metadata)
        return
    yield dg.MaterializeResult(asset_key=contract.name, metadata=metadata)
    if (
        dg.AssetCheckKey(dg.AssetKey(contract.name), CHECK_NAME)
        in context.selected_asset_check_keys
    ):
        yield check


def reference_input_asset(contract: TableContract) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=contract.name,
        specs=[_spec(contract)],
        check_specs=[_check_spec(contract)],
        can_subset=True,  # the check may be left out: a folder the data directory lacks
        # Every asset of a job needs a backfill policy, or a range backfill of the nightly job
        # falls back to one run per day (DAGSTER-NOTES.md).
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def _load(context: dg.AssetExecutionContext, reckon: ReckonResource):
        with reckon.warehouse() as con:
            report = load_reference_table(con, reckon.layout, contract)
        yield from _outcome(context, reckon, contract, [report])

    return _load


def daily_input_asset(contract: TableContract) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=contract.name,
        specs=[_spec(contract)],
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=[_check_spec(contract)],
        can_subset=True,
    )
    def _load(context: dg.AssetExecutionContext, reckon: ReckonResource):
        with reckon.warehouse() as con:
            report = load_daily_range(con, reckon.layout, contract, partition_days(context))
        yield from _outcome(context, reckon, contract, [report])
        if len(report.days) > 1:  # each day of a range load shows its own counts
            by_day = {day: _day_metadata(counts) for day, counts in report.days.items()}
            log_partition_materializations(context, by_day)

    return _load


def _day_metadata(counts: DayCounts) -> Metadata:
    """One load day's figures, under the names a load of that day alone shows (the range's
    warnings and violations preview stay on the run's own materialization and the check)."""
    return {
        "files": counts.files,
        "rows_loaded": counts.rows_loaded,
        "rows_quarantined": counts.rows_quarantined,
        "late_rows": counts.late_rows,
        "rejected_files": counts.rejected_files,
        "dagster/row_count": counts.rows_loaded,
    }


reference_assets = [reference_input_asset(c) for c in REFERENCE_TABLES]
daily_assets = [daily_input_asset(c) for c in DAILY_TABLES]
