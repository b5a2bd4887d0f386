"""A short, honest terminal summary of a run: what was produced, what failed, where to look,
and the exit code that tells a scheduler or a script the same thing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from reckon.exit_codes import ExitCode
from storage.layout import DataLayout


def describe_run(result: dg.ExecuteInProcessResult) -> str:
    """Materialisations per asset and the checks that did not pass. A partition counts once:
    after a range run's materialization each day or period gets its own (assets/defs)."""
    partitions: dict[str, set[str | None]] = defaultdict(set)
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        partitions[materialization.asset_key.to_user_string()].add(materialization.partition)
    failed_checks = [
        f"  - {e.asset_key.to_user_string()}: {e.check_name} ({e.severity.value})"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]
    lines = [f"Run {result.run_id}: {'succeeded' if result.success else 'FAILED'}"]
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.error
            message = error.message.strip().splitlines()[-1] if error else "unknown error"
            lines.append(f"  step {event.step_key} failed: {message}")
    lines.append(f"Assets materialised ({len(partitions)}):")
    lines += [f"  - {key}: {len(n)} partition(s)" for key, n in sorted(partitions.items())]
    if failed_checks:
        lines.append(f"Checks that did not pass ({len(failed_checks)}):")
        lines += failed_checks
    return "\n".join(lines)


@dataclass(frozen=True)
class Verdict:
    code: ExitCode
    reasons: list[str]

    def describe(self) -> str:
        if self.code is ExitCode.OK:
            return "Result: OK (exit 0)"
        lines = [f"Result: {self.code.name} (exit {self.code.value}), because:"]
        return "\n".join([*lines, *(f"  - {r}" for r in self.reasons)])


def verdict(results: Sequence[tuple[str, dg.ExecuteInProcessResult]], data: Path) -> Verdict:
    """What went wrong in `results`, worst first, each saying where to look."""
    found: list[tuple[ExitCode, str]] = []
    for name, result in results:
        where = f"[{name}] run {result.run_id}"
        failures = [e for e in result.all_events if e.is_step_failure]
        # a step whose blocking checks failed is reported as the check (below), not a crash
        crashed = sorted({e.step_key or "?" for e in failures if not _blocked_by_checks(e)})
        if not result.success and (crashed or not failures):
            failed = f" (step {', '.join(crashed)})" if crashed else ""
            found.append((ExitCode.RUN_FAILED, f"{where} failed{failed}: its log is in the UI"))
        for check in result.get_asset_check_evaluations():
            if not check.passed:
                found += _failed_check(where, check, data)
        found += _quarantined_bills(where, result, data)
    if not found:
        return Verdict(ExitCode.OK, [])
    found.sort(key=lambda item: item[0])
    return Verdict(found[0][0], [reason for _, reason in found])


def _blocked_by_checks(event: dg.DagsterEvent) -> bool:
    """A step failure Dagster raises because the step's blocking checks did not pass."""
    data = event.step_failure_data
    return (
        data is not None
        and data.error is not None
        and (data.error.cls_name == "DagsterAssetCheckFailedError")
    )


def _value(check: dg.AssetCheckEvaluation, key: str) -> int:
    value = check.metadata.get(key)
    return int(getattr(value, "value", 0) or 0)


def _failed_check(
    where: str, check: dg.AssetCheckEvaluation, data: Path
) -> list[tuple[ExitCode, str]]:
    asset = check.asset_key.to_user_string()
    rows, files = _value(check, "rows_quarantined"), _value(check, "rejected_files")
    if rows and "quarantine" in check.metadata:  # a check naming its own quarantine
        reasons = getattr(check.metadata.get("reasons"), "value", "") or ""
        where_to_look = getattr(check.metadata["quarantine"], "value", "")
        return [
            (
                ExitCode.QUARANTINED,
                f"{where}: {asset}: {rows} row(s) quarantined ({check.check_name}); see "
                f"{where_to_look}" + "".join(f"\n      {r}" for r in reasons.splitlines()),
            )
        ]
    if rows or files:
        return [
            (
                ExitCode.QUARANTINED,
                f"{where}: {asset}: {rows} row(s) quarantined, {files} file(s) rejected; "
                f"see {data / 'quarantine' / 'inputs' / asset}/ and the table quarantine_rows",
            )
        ]
    if check.severity != dg.AssetCheckSeverity.ERROR:
        return []
    held = "; its exports were not written" if check.blocking else ""
    why = getattr(check.metadata.get("why"), "value", "") or ""
    return [
        (
            ExitCode.CHECKS_FAILED,
            f"{where}: check {check.check_name} on {asset} did not pass{held}; its metadata "
            "in the UI lists the rows that break it"
            + "".join(f"\n      {line}" for line in why.splitlines()),
        )
    ]


def _quarantined_bills(
    where: str, result: dg.ExecuteInProcessResult, data: Path
) -> list[tuple[ExitCode, str]]:
    """Bill files this run quarantined (the run's metadata repeats on each of its files)."""
    for event in result.get_asset_materialization_events():
        if event.materialization.asset_key.to_user_string() != "bill_lines":
            continue
        metadata = event.materialization.metadata
        quarantined = int(getattr(metadata.get("files_quarantined"), "value", 0) or 0)
        duplicates = int(getattr(metadata.get("files_duplicate"), "value", 0) or 0)
        if quarantined:
            of_which = f" ({duplicates} a duplicate of a file taken in)" if duplicates else ""
            return [
                (
                    ExitCode.QUARANTINED,
                    f"{where}: {quarantined} bill file(s) quarantined{of_which}; the reasons "
                    f"are in {data / 'quarantine' / 'bills'}/ and the asset bill_quarantine "
                    "(`reckon parse FILE` shows why a file did not parse)",
                )
            ]
        return []
    return []


def footer(data: Path) -> str:
    """Where the results are and how to look at them."""
    exports = data / "exports"
    files = sum(1 for p in exports.rglob("*") if p.is_file()) if exports.is_dir() else 0
    return (
        f"Exports: {files} files under {exports}\n"
        f"Warehouse: {data / 'warehouse.duckdb'}\n"
        f"Open the UI: uv run reckon ui --data {data}   (or: make ui)"
    )


def demo_summary(layout: DataLayout) -> str:
    """The figures an analyst looks at first, read back from the warehouse."""
    if not layout.warehouse_db.exists():
        return "no warehouse yet"
    lines = ["what the demo produced:"]
    with duckdb.connect(str(layout.warehouse_db), read_only=True) as con:
        for label, query in SUMMARY_QUERIES:
            try:
                rows = con.sql(query).fetchall()
            except duckdb.Error:
                continue
            for row in rows:
                lines.append(f"  {label}: " + ", ".join("" if v is None else str(v) for v in row))
    return "\n".join(lines)


SUMMARY_QUERIES = (
    (
        "COGS by company, in its functional currency",
        "SELECT company, functional_currency, sum(amount) FROM costing_cogs "
        "JOIN companies USING (company) GROUP BY ALL ORDER BY company",
    ),
    (
        "inventory value by company at the end, in its functional currency",
        "SELECT company, functional_currency, sum(closing_value - opening_value) "
        "FROM costing_valuation JOIN companies USING (company) GROUP BY ALL ORDER BY company",
    ),
    (
        "input rows quarantined (quarantine_rows, quarantine/inputs/)",
        "SELECT count(*) FROM quarantine_rows",
    ),
    (
        "provisional (negative stock) issues / true-ups",
        "SELECT count(*) FILTER (is_provisional), count(*) FILTER (is_true_up) FROM costing_cogs",
    ),
    (
        "snapshot accuracy (lowest, average)",
        "SELECT round(min(accuracy), 4), round(avg(accuracy), 4) FROM inventory_accuracy",
    ),
    (
        "bill files parsed / quarantined (bill_quarantine, quarantine/bills/)",
        "SELECT count(*) FILTER (status = 'parsed'), count(*) FILTER (status = 'quarantined') "
        "FROM bill_file_status",
    ),
    (
        "bill findings",
        "SELECT string_agg(finding || '=' || n, ' ' ORDER BY finding) FROM "
        "(SELECT finding, count(*) AS n FROM reconciliation_findings GROUP BY finding)",
    ),
    (
        "billed / approved / disputed by currency",
        "SELECT currency, sum(billed_total), sum(approved_total), sum(disputed_total) "
        "FROM reconciliation_period_summary GROUP BY currency ORDER BY currency",
    ),
    (
        "unbilled shipments accrued",
        "SELECT count(*) FROM accrual_journal WHERE entry = 'ACCRUE'",
    ),
)
