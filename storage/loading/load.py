"""Load input tables into the warehouse: validate, keep the good rows, quarantine the rest.

A daily table loads one load day at a time (the files whose name carries the
day) and replaces exactly that day's rows, so rerunning a day is idempotent.
Quarantined rows and rejected files are stored per (table, load day) as well,
and written as CSV under `quarantine/inputs/<table>/` for the people who fix
the extracts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from pipelines.contracts.spec import TableContract
from storage.exports import write_export
from storage.layout import DataLayout
from storage.loading.reading import FileRejected
from storage.loading.validation import LOAD_DATE, ValidatedBatch, validate_files
from storage.warehouse import read_table, replace_slice, table_exists

QUARANTINE_TABLE = "quarantine_rows"
REJECTED_FILES_TABLE = "quarantine_files"
REFERENCE_LOAD_KEY = "reference"


@dataclass(frozen=True)
class DayCounts:
    """What a range load did for one of its load days: the figures that day's partition shows
    in the UI, as a load of that day alone would report them."""

    files: int
    rows_loaded: int
    rows_quarantined: int
    late_rows: int
    rejected_files: int


@dataclass
class LoadReport:
    """What one load did; becomes the asset's metadata in the UI."""

    table: str
    partition: str
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    late_rows: int = 0
    rejected_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    violations: pl.DataFrame | None = None
    days: dict[str, DayCounts] = field(default_factory=dict)
    """Per load day (ISO date), for a daily load; empty for a reference table."""

    @property
    def problems(self) -> int:
        return self.rows_quarantined + len(self.rejected_files)


def load_reference_table(
    con: duckdb.DuckDBPyConnection, layout: DataLayout, contract: TableContract
) -> LoadReport:
    """Load a whole reference table (companies, warehouses, skus, fx_rates)."""
    files = layout.reference_files(contract.name)
    batch = validate_files(files, contract, references=_references(con, contract))
    _reject_stray(batch, layout, contract, daily=False)
    replace_slice(con, contract.name, batch.valid)
    _store_quarantine(con, layout, contract, [REFERENCE_LOAD_KEY], batch)
    return _report(contract, REFERENCE_LOAD_KEY, files, batch, late=0)


def load_daily_table(
    con: duckdb.DuckDBPyConnection, layout: DataLayout, contract: TableContract, day: date
) -> LoadReport:
    """Load the files of `day` for a daily table (movements, shipments, ...)."""
    return load_daily_range(con, layout, contract, [day])


def load_daily_range(
    con: duckdb.DuckDBPyConnection,
    layout: DataLayout,
    contract: TableContract,
    days: list[date],
) -> LoadReport:
    """Load consecutive `days` of a daily table in one validation pass and one write.

    The go-live initialisation loads years of extracts: one pass over all files
    is what keeps it a single efficient run rather than a thousand small ones.
    """
    by_day = layout.files_for_days(contract.name, days)
    load_dates = {path: day for day, paths in by_day.items() for path in paths}
    files = sorted(load_dates, key=lambda p: (load_dates[p], p.name))
    batch = validate_files(
        files,
        contract,
        references=_references(con, contract),
        loaded_keys=_keys_loaded_outside(con, contract, days[0], days[-1]),
        load_dates=load_dates,
    )
    _reject_stray(batch, layout, contract, daily=True)
    replace_slice(con, contract.name, batch.valid, {LOAD_DATE: (days[0], days[-1])})
    _store_quarantine(con, layout, contract, [d.isoformat() for d in days], batch)
    late = 0
    if contract.partition_column and batch.valid.height:
        late = batch.valid.filter(contract.day() < pl.col(LOAD_DATE)).height
    label = days[0].isoformat() if len(days) == 1 else f"{days[0]}..{days[-1]}"
    report = _report(contract, label, files, batch, late)
    report.days = _counts_by_day(contract, days, by_day, batch)
    return report


def _counts_by_day(
    contract: TableContract,
    days: list[date],
    by_day: dict[date, list[Path]],
    batch: ValidatedBatch,
) -> dict[str, DayCounts]:
    """Each load day's share of a range load: one group-by over the loaded and the
    quarantined rows (a rejected file belongs to the day its name carries)."""
    late = (contract.day() < pl.col(LOAD_DATE)) if contract.partition_column else pl.lit(False)
    loaded = {
        day: (n, n_late)
        for day, n, n_late in batch.valid.group_by(LOAD_DATE).agg(pl.len(), late.sum()).iter_rows()
    }
    quarantined = dict(batch.quarantined.group_by("load_date").len().iter_rows())
    partitions = [d.isoformat() for d in days]
    rejected: dict[str, int] = {}
    for r in batch.rejected_files:
        day = _partition_of(r.path, partitions)
        rejected[day] = rejected.get(day, 0) + 1
    return {
        day.isoformat(): DayCounts(
            files=len(by_day.get(day, [])),
            rows_loaded=loaded.get(day, (0, 0))[0],
            rows_quarantined=quarantined.get(day, 0),
            late_rows=loaded.get(day, (0, 0))[1],
            rejected_files=rejected.get(day.isoformat(), 0),
        )
        for day in days
    }


def _reject_stray(
    batch: ValidatedBatch, layout: DataLayout, contract: TableContract, daily: bool
) -> None:
    """Files in the table's folder no load reads are rejected files of this load, so the
    load's check fails on them (an undated daily extract is reported by every day's load
    until it is renamed or removed)."""
    batch.rejected_files.extend(
        FileRejected(path, reason) for path, reason in layout.stray_files(contract.name, daily)
    )


def _references(con: duckdb.DuckDBPyConnection, contract: TableContract) -> dict[str, pl.DataFrame]:
    """The loaded reference tables this contract's foreign keys point at."""
    frames = {fk.table: read_table(con, fk.table) for fk in contract.foreign_keys}
    return {name: frame for name, frame in frames.items() if frame.width}


def _report(
    contract: TableContract, partition: str, files: list[Path], batch: ValidatedBatch, late: int
) -> LoadReport:
    return LoadReport(
        table=contract.name,
        partition=partition,
        files=[str(f) for f in files],
        rows_read=batch.rows_read,
        rows_loaded=batch.valid.height,
        rows_quarantined=batch.quarantined.height,
        late_rows=late,
        rejected_files=[f"{r.path}: {r.reason}" for r in batch.rejected_files],
        warnings=batch.warnings,
        violations=batch.violations,
    )


def _keys_loaded_outside(
    con: duckdb.DuckDBPyConnection, contract: TableContract, first: date, last: date
) -> pl.DataFrame | None:
    """Keys already loaded by days outside [first, last] (those a rerun does not replace)."""
    if not contract.key or not table_exists(con, contract.name):
        return None
    keys = ", ".join(f'"{k}"' for k in contract.key)
    query = (
        f'SELECT {keys}, "{LOAD_DATE}" FROM "{contract.name}" '
        f'WHERE "{LOAD_DATE}" NOT BETWEEN ? AND ?'
    )
    return con.sql(query, params=[first, last]).pl()


def _store_quarantine(
    con: duckdb.DuckDBPyConnection,
    layout: DataLayout,
    contract: TableContract,
    partitions: list[str],
    batch: ValidatedBatch,
) -> None:
    """Replace the quarantine of these partitions: warehouse tables and one CSV per day."""
    default = partitions[0] if len(partitions) == 1 else None
    rows = batch.quarantined.with_columns(
        pl.coalesce(pl.col("load_date").cast(pl.String), pl.lit(default)).alias("partition")
    )
    where = {"table": contract.name, "partition": partitions}
    replace_slice(con, QUARANTINE_TABLE, rows, where)
    rejected = pl.DataFrame(
        {
            "table": [contract.name] * len(batch.rejected_files),
            "partition": [_partition_of(r.path, partitions) for r in batch.rejected_files],
            "file": [str(r.path) for r in batch.rejected_files],
            "reason": [r.reason for r in batch.rejected_files],
        },
        schema={"table": pl.String, "partition": pl.String, "file": pl.String, "reason": pl.String},
    )
    replace_slice(con, REJECTED_FILES_TABLE, rejected, where)
    folder = layout.quarantine_dir / "inputs"
    groups = {key[0]: part for key, part in rows.partition_by("partition", as_dict=True).items()}
    for partition in partitions:
        if partition in groups:
            write_export(groups[partition], folder, contract.name, partition, key=["file", "row"])
        else:
            stale = folder / contract.name / f"{partition}.csv"
            stale.unlink(missing_ok=True)
            stale.with_suffix(".parquet").unlink(missing_ok=True)


def _partition_of(path: Path, partitions: list[str]) -> str:
    """The load day a rejected file belongs to (its name carries it)."""
    return next((p for p in partitions if p in path.name), partitions[0])
