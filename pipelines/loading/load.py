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
from pipelines.exports import write_export
from pipelines.layout import DataLayout
from pipelines.loading.validation import LOAD_DATE, ValidatedBatch, validate_files
from pipelines.warehouse import read_table, replace_slice, table_exists

QUARANTINE_TABLE = "quarantine_rows"
REJECTED_FILES_TABLE = "quarantine_files"
REFERENCE_LOAD_KEY = "reference"


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

    @property
    def problems(self) -> int:
        return self.rows_quarantined + len(self.rejected_files)


def load_reference_table(
    con: duckdb.DuckDBPyConnection, layout: DataLayout, contract: TableContract
) -> LoadReport:
    """Load a whole reference table (companies, warehouses, skus, fx_rates)."""
    return _load(con, layout, contract, None, layout.reference_files(contract.name))


def load_daily_table(
    con: duckdb.DuckDBPyConnection, layout: DataLayout, contract: TableContract, day: date
) -> LoadReport:
    """Load the files of `day` for a daily table (movements, shipments, ...)."""
    return _load(con, layout, contract, day, layout.files_for_day(contract.name, day))


def _load(
    con: duckdb.DuckDBPyConnection,
    layout: DataLayout,
    contract: TableContract,
    day: date | None,
    files: list[Path],
) -> LoadReport:
    references = {fk.table: read_table(con, fk.table) for fk in contract.foreign_keys if fk.table}
    references = {name: frame for name, frame in references.items() if frame.width}
    batch = validate_files(
        files,
        contract,
        load_date=day,
        references=references,
        loaded_keys=_keys_loaded_on_other_days(con, contract, day) if day else None,
    )
    partition = day.isoformat() if day else REFERENCE_LOAD_KEY
    where = {LOAD_DATE: day} if day else None
    replace_slice(con, contract.name, batch.valid, where)
    _store_quarantine(con, layout, contract, partition, batch)
    late = 0
    if day and contract.partition_column and batch.valid.height:
        late = batch.valid.filter(pl.col(contract.partition_column).cast(pl.Date) < day).height
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


def _keys_loaded_on_other_days(
    con: duckdb.DuckDBPyConnection, contract: TableContract, day: date
) -> pl.DataFrame | None:
    if not contract.key or not table_exists(con, contract.name):
        return None
    keys = ", ".join(f'"{k}"' for k in contract.key)
    query = f'SELECT {keys}, "{LOAD_DATE}" FROM "{contract.name}" WHERE "{LOAD_DATE}" <> ?'
    return con.sql(query, params=[day]).pl()


def _store_quarantine(
    con: duckdb.DuckDBPyConnection,
    layout: DataLayout,
    contract: TableContract,
    partition: str,
    batch: ValidatedBatch,
) -> None:
    rows = batch.quarantined.with_columns(pl.lit(partition).alias("partition"))
    replace_slice(con, QUARANTINE_TABLE, rows, {"table": contract.name, "partition": partition})
    rejected = pl.DataFrame(
        {
            "table": [contract.name] * len(batch.rejected_files),
            "partition": [partition] * len(batch.rejected_files),
            "file": [str(r.path) for r in batch.rejected_files],
            "reason": [r.reason for r in batch.rejected_files],
        },
        schema={"table": pl.String, "partition": pl.String, "file": pl.String, "reason": pl.String},
    )
    replace_slice(
        con, REJECTED_FILES_TABLE, rejected, {"table": contract.name, "partition": partition}
    )
    folder = layout.quarantine_dir / "inputs"
    stale = folder / contract.name / f"{partition}.csv"
    if rows.height:
        write_export(rows, folder, contract.name, partition)
    else:
        stale.unlink(missing_ok=True)
        stale.with_suffix(".parquet").unlink(missing_ok=True)
