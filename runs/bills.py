"""Bill files taken in: a batch of bill-file partitions sorted into files to parse,
duplicates and withdrawals, parsed through the registry, and stored (what the `bill_lines`
asset runs; assets/defs/bills.py keeps only the Dagster wiring).

The inbox holds the bills in force (runs/inbox.py): a file taken in whose bytes left it is
withdrawn, whatever partitions the run covers, and its lines leave the warehouse; a file
whose bytes were already taken in is a duplicate and owns no lines; a duplicate whose copy
left the inbox says so too. Only the files parsed here own their lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from parsers.ingest import IngestOutcome, default_parsed_store, ingest_many, load_parsed, sha256_of
from parsers.registry import Registry
from pipelines.contracts.bills import (
    BILL_FILE_STATUS,
    BILL_HEADERS,
    BILL_LINES,
    DUPLICATE_FILE,
    FILE_SUPERSEDED,
    FILE_WITHDRAWN,
    TAKEN_IN,
)
from runs.inbox import (
    InboxFile,
    Withdrawal,
    absent_keys,
    duplicate_reason,
    first_taken_in,
    withdrawals,
    withdrawn_copies,
)
from storage.files import is_regular_file
from storage.layout import DataLayout
from storage.warehouse import read_table, replace_slice


@dataclass(frozen=True)
class BillRecords:
    """What the warehouse knows of a batch: the bill_files rows of its keys, and the status
    rows of every file taken in (parsed or quarantined) and of every duplicate."""

    files: dict[str, dict[str, Any]]
    taken_in: pl.DataFrame
    copies: pl.DataFrame

    def missing(self, keys: list[str]) -> list[str]:
        """The keys bill_files has no record of (bill_files was not materialised for them)."""
        return [k for k in keys if k not in self.files]


@dataclass(frozen=True)
class BillBatch:
    """A batch sorted against the inbox: the files to parse (`fresh`), the duplicates
    ({key: the key first taken in with its bytes}), the files taken in that were withdrawn
    and the duplicates whose copy left the inbox (each with its previous status rows)."""

    files: dict[str, dict[str, Any]]
    present: list[str]
    fresh: list[str]
    duplicates: dict[str, str]
    withdrawn: list[Withdrawal]
    withdrawn_rows: pl.DataFrame
    copies_gone: list[Withdrawal]
    copies_gone_rows: pl.DataFrame


@dataclass(frozen=True)
class BillIntake:
    """The rows a batch stores: canonical headers and lines, and a status row per file."""

    headers: pl.DataFrame
    lines: pl.DataFrame
    status: pl.DataFrame


def read_bill_records(con: duckdb.DuckDBPyConnection, keys: list[str]) -> BillRecords:
    """The warehouse's records of the batch `keys` and of every file taken in before."""
    files = read_table(con, "bill_files", '"partition_key" IN (SELECT unnest(?))', [keys])
    taken_in = read_table(
        con, BILL_FILE_STATUS.name, "status IN (SELECT unnest(?))", [list(TAKEN_IN)],
        schema=BILL_FILE_STATUS.schema,
    )  # fmt: skip
    copies = read_table(
        con, BILL_FILE_STATUS.name, "status = 'duplicate'", schema=BILL_FILE_STATUS.schema
    )
    by_key = {row["partition_key"]: row for row in files.iter_rows(named=True)}
    return BillRecords(by_key, taken_in, copies)


def sort_batch(records: BillRecords, keys: list[str], inbox: list[InboxFile]) -> BillBatch:
    """Sort the batch `keys` against what the `inbox` holds now (runs/inbox.py)."""
    # the inbox holds the bills in force: what left it is withdrawn, whatever this run covers
    gone = withdrawals(inbox, records.taken_in["partition_key"].to_list())
    # a duplicate owns no lines; once the copy itself left the inbox its row says so too
    # (its bytes may stay, in the file it duplicates)
    copies_gone = withdrawn_copies(inbox, records.copies["partition_key"].to_list())
    copies_gone_keys = {w.key for w in copies_gone}
    absent = set(absent_keys(inbox, keys))
    gone_keys = [w.key for w in gone]
    earlier = records.taken_in.filter(~pl.col("partition_key").is_in(gone_keys))
    taken = dict(earlier.sort("partition_key").select("sha256", "partition_key").unique(
        "sha256", keep="first", maintain_order=True).iter_rows())  # fmt: skip
    present = [k for k in keys if k not in absent and k not in copies_gone_keys]
    duplicates = first_taken_in([(k, records.files[k]["sha256"]) for k in present], taken)
    return BillBatch(
        files=records.files,
        present=present,
        fresh=[k for k in present if k not in duplicates],
        duplicates=duplicates,
        withdrawn=gone,
        withdrawn_rows=records.taken_in.filter(pl.col("partition_key").is_in(gone_keys)),
        copies_gone=copies_gone,
        copies_gone_rows=records.copies.filter(pl.col("partition_key").is_in(copies_gone_keys)),
    )


def take_in(batch: BillBatch, layout: DataLayout, registry: Registry) -> BillIntake:
    """Parse the batch's fresh files (on both cores, ingest_many) into canonical headers
    and lines, or quarantine them; and every file's status row."""
    items = [
        (readable_path(layout.bills_inbox, batch.files[k]), batch.files[k]["carrier"])
        for k in batch.fresh
    ]
    parsed_store = default_parsed_store(layout.raw_store)
    outcomes = ingest_many(
        items, layout.raw_store, layout.quarantine_dir / "bills", parsed_store=parsed_store,
        registry=registry,
    )  # fmt: skip
    headers: list[pl.DataFrame] = []
    lines: list[pl.DataFrame] = []
    status: list[tuple] = []
    for key, outcome in zip(batch.fresh, outcomes, strict=True):
        file_headers, file_lines = _frames(outcome, parsed_store)
        headers.append(file_headers)
        lines.append(file_lines)
        status.append(_status_row(key, outcome, file_lines))
    status += [_duplicate_row(batch.files[key], first) for key, first in batch.duplicates.items()]
    status += _withdrawn_rows(batch.withdrawn_rows, batch.withdrawn)
    status += _withdrawn_rows(batch.copies_gone_rows, batch.copies_gone)
    return BillIntake(
        headers=pl.concat(
            [pl.DataFrame(schema=BILL_HEADERS.schema), *headers], how="vertical_relaxed"
        ).cast(BILL_HEADERS.schema),
        lines=pl.concat(
            [pl.DataFrame(schema=BILL_LINES.schema), *lines], how="vertical_relaxed"
        ).cast(BILL_LINES.schema),
        status=pl.DataFrame(status, schema=BILL_FILE_STATUS.schema, orient="row"),
    )


def store_intake(con: duckdb.DuckDBPyConnection, batch: BillBatch, intake: BillIntake) -> None:
    """Replace the batch's slices: only the files parsed here own their lines (a duplicate's
    slice is its first file's); a withdrawn file's slice is emptied."""
    shas = [batch.files[k]["sha256"] for k in batch.fresh]
    shas += batch.withdrawn_rows["sha256"].to_list()
    written = batch.present + [w.key for w in batch.withdrawn]
    written += sorted({w.key for w in batch.copies_gone})
    replace_slice(con, "bill_headers", intake.headers, {"source_sha256": shas})
    replace_slice(con, "bill_lines", intake.lines, {"source_sha256": shas})
    replace_slice(con, "bill_file_status", intake.status, {"partition_key": written})


def inbox_holds(path: Path, row: dict[str, str]) -> bool:
    """Whether the inbox file at `path` still holds the content of the bill_files row."""
    return is_regular_file(path) and sha256_of(path) == row["sha256"]


def readable_path(inbox: Path, row: dict[str, str]) -> Path:
    """The inbox file while it still holds this content (it keeps its arrival name), else the
    raw store's copy."""
    inbox_path = inbox / row["carrier"] / row["file_name"]
    return inbox_path if inbox_holds(inbox_path, row) else Path(row["raw_path"])


def _frames(outcome: IngestOutcome, parsed_store: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A file's headers and lines: just parsed, or stored when parsed before (the same
    bytes earlier in the batch or in an earlier run); none when quarantined."""
    if outcome.status == "parsed" and outcome.headers is not None and outcome.lines is not None:
        return outcome.headers, outcome.lines
    if outcome.status == "already_parsed":
        stored = load_parsed(parsed_store, outcome.sha256)
        if stored is not None:
            return stored
    return pl.DataFrame(schema=BILL_HEADERS.schema), pl.DataFrame(schema=BILL_LINES.schema)


def _withdrawn_rows(left: pl.DataFrame, gone: list[Withdrawal]) -> list[tuple]:
    """bill_file_status rows of files taken in whose bytes left the inbox (`left`: their
    previous rows): no lines any more, why, and the correction that replaced them."""
    by_key = {w.key: w for w in gone}
    return [
        (
            row["partition_key"], row["file_name"], row["sha256"], "withdrawn", row["parser"],
            row["template_id"], 0, None,
            FILE_WITHDRAWN if by_key[row["partition_key"]].replaced_by is None
            else FILE_SUPERSEDED,
            by_key[row["partition_key"]].reason(row["lines"]), None, None, None,
        )
        for row in left.sort("partition_key").iter_rows(named=True)
    ]  # fmt: skip


def _duplicate_row(file: dict[str, str], first: str) -> tuple:
    """A bill_file_status row for a file whose bytes were already taken in."""
    reason = duplicate_reason(file["partition_key"], first, file["sha256"])
    return (
        file["partition_key"], file["file_name"], file["sha256"], "duplicate", None, None, 0,
        None, DUPLICATE_FILE, reason, None, None, first,
    )  # fmt: skip


def _status_row(key: str, outcome: IngestOutcome, lines: pl.DataFrame) -> tuple:
    """A bill_file_status row for a file parsed (its line count and total) or quarantined."""
    total = lines["amount"].sum() if lines.height else None
    status = "quarantined" if outcome.status == "quarantined" else "parsed"
    return (
        key,
        outcome.source_name,
        outcome.sha256,
        status,
        outcome.parser,
        outcome.template_id,
        lines.height,
        total,
        outcome.error_code,
        outcome.reason,
        outcome.locator,
        "; ".join(outcome.warnings) or None,
        None,
    )
