"""Carrier bills in: inbox files as dynamic partitions, raw store, parsing, quarantine.

Design (issue 4, item 5): each file in `bills/inbox/<CARRIER>/` is one dynamic
partition, registered by `bill_inbox_sensor`. `bill_files` copies it into the
content-addressed raw store before anything else; `bill_lines` parses it
through the registry into the canonical tables, or quarantines it with the
reason. Both take a single-run backfill, so a batch of new files (or a
re-parse of everything) is one run whose parsing uses both cores. Quarantined
files are retried by the sensor when any parser or template version changes.
"""

import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl

from assets.metadata import Metadata, preview_table
from assets.resources import ReckonResource
from parsers.ingest import list_quarantined, store_raw
from parsers.registry import Registry
from parsers.validate import not_footing
from pipelines.contracts.bills import (
    BILL_FILE_STATUS,
    BILL_FILES,
    BILL_QUARANTINE,
    DUPLICATE_FILE,
    FILE_STATUSES,
    TAKEN_IN,
)
from runs.bills import inbox_holds, read_bill_records, sort_batch, store_intake, take_in
from runs.inbox import InboxSurvey, resolve_partition, survey_inbox
from runs.partition_keys import split_bill_file_key
from storage.layout import DataLayout
from storage.warehouse import read_table, replace_slice

GROUP = "bills"
TEMPLATE_SHARE_TARGET = 0.8
"""The source design's goal: declarative templates cover 80%+ of bill lines without code."""

BILL_FILE_KEYS = "bill_files"
"""Name of the dynamic partitions of the bill files: one per inbox file (runs/inbox.py)."""
bill_file_partitions = dg.DynamicPartitionsDefinition(name=BILL_FILE_KEYS)
BILL_CHECKS = {
    "lines_sum_to_stated_totals": "Every parsed bill's lines add up to the total it states.",
    "every_file_parsed_or_quarantined": (
        "Each file either parsed into at least one line or was quarantined with a reason."
    ),
    "template_share_of_lines": (
        f"At least {TEMPLATE_SHARE_TARGET:.0%} of bill lines come from declarative templates "
        "(a warning)."
    ),
    "every_template_loads": (
        "Every bill template loads (a warning: an invalid template is skipped, so its "
        "carrier's bills are quarantined as no_parser; the errors name the file and field)."
    ),
    "no_file_quarantined": (
        "No file of the run was quarantined (a warning: the reasons are on bill_quarantine "
        "and in quarantine/bills/; `reckon parse FILE` shows why a file did not parse)."
    ),
}


@dg.asset(
    group_name=GROUP,
    partitions_def=bill_file_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"duckdb"},
    description="Each inbox file copied, content-addressed by sha256, into the raw store.",
)
def bill_files(context: dg.AssetExecutionContext, reckon: ReckonResource) -> dg.MaterializeResult:
    layout = reckon.layout
    keys = list(context.partition_keys)
    with reckon.warehouse() as con:
        stored = read_table(con, BILL_FILES.name, schema=BILL_FILES.schema)
    stored_rows = {r["partition_key"]: r for r in stored.iter_rows(named=True)}
    rows = []
    for key in keys:
        carrier, name, _ = split_bill_file_key(key)
        if key in stored_rows and not inbox_holds(
            layout.bills_inbox / carrier / name, stored_rows[key]
        ):
            # Already in the raw store; the inbox no longer holds it (removed, or a
            # corrected file under its name): bill_lines withdraws it.
            rows.append(tuple(stored_rows[key][c] for c in BILL_FILES.column_names))
            continue
        found = resolve_partition(layout.bills_inbox, key)
        sha, raw_path = store_raw(found.path, layout.raw_store, found.sha256)
        size = raw_path.stat().st_size
        rows.append((key, found.carrier, found.path.name, sha, str(raw_path), size))
    frame = pl.DataFrame(rows, schema=BILL_FILES.schema, orient="row")
    with reckon.warehouse() as con:
        replace_slice(con, BILL_FILES.name, frame, {"partition_key": keys})
    return dg.MaterializeResult(
        metadata={
            "files": frame.height,
            "bytes": int(frame["size_bytes"].sum()),
            "preview": preview_table(frame.drop("raw_path")),
        }
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=bill_file_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[bill_files],
    kinds={"duckdb", "polars"},
    description=(
        "Canonical bill headers and lines (tables bill_headers, bill_lines), each line with its "
        "source file hash, parser, template and locator; or the file's quarantine record."
    ),
    check_specs=[
        dg.AssetCheckSpec(name, asset="bill_lines", description=text)
        for name, text in BILL_CHECKS.items()
    ],
)
def bill_lines(context: dg.AssetExecutionContext, reckon: ReckonResource):
    layout = reckon.layout
    keys = list(context.partition_keys)
    with reckon.warehouse() as con:
        records = read_bill_records(con, keys)
    missing = records.missing(keys)
    if missing:
        raise dg.Failure(f"bill_files has no record of {missing[:5]}: materialise bill_files first")
    batch = sort_batch(records, keys, survey_inbox(layout.bills_inbox).files)
    registry = Registry.default()
    for error in registry.template_errors:
        context.log.warning(error)
    intake = take_in(batch, layout, registry)
    with reckon.warehouse() as con:
        store_intake(con, batch, intake)
    for row in intake.status.filter(pl.col("status") == "withdrawn").iter_rows(named=True):
        context.log.warning(row["reason"])
    metadata = _bill_metadata(intake.status, intake.lines)
    metadata["template_errors"] = dg.MetadataValue.json(registry.template_errors)
    yield dg.MaterializeResult(metadata=metadata)
    yield from _bill_checks(intake.headers, intake.lines, intake.status)
    yield dg.AssetCheckResult(
        check_name="every_template_loads",
        passed=not registry.template_errors,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "templates_skipped": len(registry.template_errors),
            "errors": dg.MetadataValue.json(registry.template_errors),
        },
    )


def _bill_metadata(status: pl.DataFrame, lines: pl.DataFrame) -> Metadata:
    parsed = status.filter(pl.col("status") == "parsed")
    return {
        "files": status.height,
        "files_parsed": parsed.height,
        "files_quarantined": status.filter(~pl.col("status").is_in(["parsed", "withdrawn"])).height,
        "files_duplicate": status.filter(pl.col("status") == "duplicate").height,
        "files_withdrawn": status.filter(pl.col("status") == "withdrawn").height,
        "lines": lines.height,
        "billed_total": str(lines["amount"].sum()) if lines.height else "0",
        "dagster/row_count": lines.height,
        "per_file": preview_table(
            status.select(
                "file_name", "status", "reason", "parser", "template_id", "lines",
                "parsed_total", "warnings", "duplicate_of",
            ),
            limit=50,
        ),
    }  # fmt: skip


def _bill_checks(headers: pl.DataFrame, lines: pl.DataFrame, status: pl.DataFrame):
    footing = not_footing(headers, lines)
    yield dg.AssetCheckResult(
        check_name="lines_sum_to_stated_totals",
        passed=footing.is_empty(),
        metadata={"bills_checked": headers.height, "not_footing": footing.height},
    )
    unaccounted = status.filter(
        ~pl.col("status").is_in(FILE_STATUSES)
        | ((pl.col("status") == "parsed") & (pl.col("lines") == 0))
    )
    yield dg.AssetCheckResult(
        check_name="every_file_parsed_or_quarantined",
        passed=unaccounted.is_empty(),
        metadata={
            "files": status.height,
            "quarantined": status.filter(pl.col("status") == "quarantined").height,
            "duplicates": status.filter(pl.col("status") == "duplicate").height,
            "unaccounted": preview_table(unaccounted.select("file_name", "status", "lines")),
        },
    )
    quarantined = status.filter(pl.col("status") == "quarantined")
    yield dg.AssetCheckResult(
        check_name="no_file_quarantined",
        passed=quarantined.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        description=_why_quarantined(quarantined),
        metadata={
            "reason": _why_quarantined(quarantined),
            "files_quarantined": quarantined.height,
            "quarantined": preview_table(quarantined.select("reason", "file_name", "error_code")),
        },
    )
    by_template = lines.filter(pl.col("template_id").is_not_null()).height
    share = by_template / lines.height if lines.height else 1.0
    yield dg.AssetCheckResult(
        check_name="template_share_of_lines",
        passed=share >= TEMPLATE_SHARE_TARGET,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"share": round(share, 4), "target": TEMPLATE_SHARE_TARGET},
    )


def _why_quarantined(files: pl.DataFrame, shown: int = 5) -> str:
    """What a quarantine check says first: how many files, and each one's reason."""
    if files.is_empty():
        return "nothing quarantined"
    named = [f"{r['file_name']}: {r['reason']}" for r in files.head(shown).iter_rows(named=True)]
    more = [f"and {files.height - shown} more"] if files.height > shown else []
    return "; ".join([f"{files.height} file(s) quarantined", *named, *more])


def quarantine_frame(
    layout: DataLayout, duplicates: pl.DataFrame, survey: InboxSurvey | None = None
) -> pl.DataFrame:
    """Quarantined bill files; files whose bytes were already taken in (`duplicates`, the
    bill_file_status rows of status duplicate) still in the inbox; then inbox entries
    refused as bill files (runs/inbox.py): a symbolic link, a special file, a nested
    folder, a file outside a carrier folder, a hidden file. The refused ones have no sha256
    (they are never read); they and the duplicates carry the moment they were seen. Only
    what is in force: a quarantined file since withdrawn has its record set aside first
    (`set_aside_withdrawn`), a duplicate removed from the inbox is not listed."""
    survey = survey or survey_inbox(layout.bills_inbox)
    in_inbox = {f.partition_key for f in survey.files}
    seen = datetime.now(UTC).isoformat()
    rows: list[tuple[str | None, ...]] = [
        (r.file_name, r.sha256, r.error_code, r.reason, r.locator, r.parser, r.quarantined_at, None)
        for r in list_quarantined(layout.quarantine_dir / "bills")
    ]
    rows += [
        (d["file_name"], d["sha256"], d["error_code"], d["reason"], None, None, seen,
         d["duplicate_of"])
        for d in duplicates.sort("partition_key").iter_rows(named=True)
        if d["partition_key"] in in_inbox
    ]  # fmt: skip
    rows += [
        (e.name, None, e.code, e.reason, f"inbox={e.name}", None, seen, None)
        for e in survey.refused
    ]
    return pl.DataFrame(rows, schema=BILL_QUARANTINE.schema, orient="row")


WITHDRAWN_RECORDS = "withdrawn"
"""quarantine/bills/withdrawn/: the records of quarantined files since withdrawn, kept as
they were but out of the quarantine (the same bytes back in the inbox are parsed again)."""


def set_aside_withdrawn(quarantine: Path, status: pl.DataFrame) -> list[str]:
    """Move the quarantine record of every file withdrawn (bill_file_status `withdrawn`)
    whose bytes no file in force holds (none taken in with them) to `WITHDRAWN_RECORDS`:
    the analyst sees only problems that are still there. Returns their sha256."""
    withdrawn = set(status.filter(pl.col("status") == "withdrawn")["sha256"].to_list())
    in_force = set(status.filter(pl.col("status").is_in(TAKEN_IN))["sha256"].to_list())
    moved = []
    for sha in sorted(withdrawn - in_force):
        record = quarantine / f"{sha}.json"
        if record.exists():
            (quarantine / WITHDRAWN_RECORDS).mkdir(exist_ok=True)
            os.replace(record, quarantine / WITHDRAWN_RECORDS / record.name)
            moved.append(sha)
    return moved


@dg.asset(
    group_name=GROUP,
    deps=[bill_lines],
    kinds={"duckdb"},
    description=(
        "Bill files no parser could read, or whose parse failed validation, with why; files "
        "whose bytes were already taken in (duplicate_file, naming the first); and inbox "
        "entries refused as bill files (links, special files, nested folders, files outside "
        "a carrier folder, hidden files). Only what is in force: a file since withdrawn "
        "(removed or replaced, see bill_file_status) leaves it."
    ),
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[
        dg.AssetCheckSpec(
            "inbox_holds_only_bill_files",
            asset="bill_quarantine",
            description="The inbox holds only regular bill files in carrier folders: no link, "
            "special file, nested folder, stray or hidden file.",
        ),
        dg.AssetCheckSpec(
            "quarantine_is_empty",
            asset="bill_quarantine",
            description="No bill file is in quarantine (a warning: the table lists each with "
            "its reason).",
        ),
    ],
)
def bill_quarantine(reckon: ReckonResource):
    layout = reckon.layout
    survey = survey_inbox(layout.bills_inbox)
    with reckon.warehouse() as con:
        status = read_table(con, BILL_FILE_STATUS.name, schema=BILL_FILE_STATUS.schema)
        set_aside = set_aside_withdrawn(layout.quarantine_dir / "bills", status)
        frame = quarantine_frame(layout, status.filter(pl.col("status") == "duplicate"), survey)
        replace_slice(con, "bill_quarantine", frame)
    duplicates = frame.filter(pl.col("error_code") == DUPLICATE_FILE)
    refused = frame.filter(pl.col("sha256").is_null())
    reason_first = frame.select(
        "reason", "file_name", "error_code", "locator", "parser", "quarantined_at",
        pl.col("sha256").str.slice(0, 12).alias("sha256_prefix"),
    )  # fmt: skip
    yield dg.MaterializeResult(
        metadata={
            "quarantined_files": frame.height - refused.height - duplicates.height,
            "duplicate_files": duplicates.height,
            "refused_inbox_entries": refused.height,
            "withdrawn_set_aside": len(set_aside),
            "dagster/row_count": frame.height,
            "files": preview_table(reason_first, limit=50),
        }
    )
    yield dg.AssetCheckResult(
        check_name="quarantine_is_empty",
        passed=frame.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,
        description=_why_quarantined(frame),
        metadata={
            "reason": _why_quarantined(frame),
            "files": frame.height,
            "reasons": preview_table(reason_first, limit=20),
        },
    )
    yield dg.AssetCheckResult(
        check_name="inbox_holds_only_bill_files",
        passed=refused.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "refused": refused.height,
            "entries": preview_table(refused.select("reason", "file_name", "error_code")),
        },
    )
