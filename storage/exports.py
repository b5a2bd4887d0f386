"""Files for the ERP: one CSV and one Parquet per output and partition.

CSV carries a UTF-8 byte-order mark so Excel shows Chinese text correctly, and text that
Excel would run as a formula is escaped (`'=1+1`); Parquet keeps the text as it is. Both
are mode 0644 (docs/operations.md) and written atomically (storage/files.py), so the ERP
sees either the previous file or the new one, never a half-written file, and a rerun of a
partition replaces it (no duplicates).
Rows are written in a total order, the table's key first (its contract's, unless the
caller names one), then every other column, so the same rows always give the same bytes:
a warehouse returns rows in no fixed order, and a rerun must be comparable to the file it
replaces byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from pipelines.contracts import contract
from storage.files import EXPORT_FILE_MODE, write_csv, write_parquet

SAFE_KEY = re.compile(r"[^A-Za-z0-9._=-]+")


@dataclass(frozen=True)
class ExportedFiles:
    csv: Path
    parquet: Path
    rows: int


def partition_file_stem(partition_key: str) -> str:
    """A file-name-safe form of a partition key (`DHL|2026-01` -> `DHL_2026-01`)."""
    return SAFE_KEY.sub("_", partition_key).strip("_") or "all"


def in_export_order(frame: pl.DataFrame, key: Sequence[str]) -> pl.DataFrame:
    """`frame` sorted by `key` (the table's contract key, for a reader), then by every other
    column, so that the order is total and rows that tie on the key still land the same way."""
    if frame.height < 2:
        return frame
    rest = [c for c in frame.columns if c not in key]
    return frame.sort([*key, *rest], nulls_last=True)


def export_key(name: str) -> tuple[str, ...] | None:
    """The unique key of the export called `name`: its contract's (every export reckon
    writes has one, tests/assets checks it), or None for a name without a contract."""
    try:
        return tuple(contract(name).key)
    except KeyError:
        return None


def write_export(
    frame: pl.DataFrame,
    exports_dir: Path,
    name: str,
    partition_key: str,
    *,
    key: Sequence[str] | None = None,
) -> ExportedFiles:
    """Write `exports/<name>/<partition>.csv` and `.parquet`, replacing any previous ones,
    rows in `in_export_order(frame, key)`, by default the key of the export's contract;
    a frame named by no contract and given no key keeps its own order."""
    folder = exports_dir / name
    stem = partition_file_stem(partition_key)
    csv_path = folder / f"{stem}.csv"
    parquet_path = folder / f"{stem}.parquet"
    order = export_key(name) if key is None else key
    if order is not None:
        frame = in_export_order(frame, order)
    write_csv(frame, csv_path, bom=True, mode=EXPORT_FILE_MODE)
    write_parquet(frame, parquet_path, mode=EXPORT_FILE_MODE)
    return ExportedFiles(csv_path, parquet_path, frame.height)


def write_daily_exports(
    frame: pl.DataFrame,
    exports_dir: Path,
    name: str,
    date_column: str,
    days: list[date],
    *,
    key: Sequence[str] | None = None,
) -> list[ExportedFiles]:
    """One export per day in `days` (an empty file for a day with no rows, so reruns replace)."""
    by_day = {day[0]: part for day, part in frame.partition_by(date_column, as_dict=True).items()}
    empty = frame.clear()
    return [
        write_export(by_day.get(day, empty), exports_dir, name, day.isoformat(), key=key)
        for day in days
    ]


@dataclass(frozen=True)
class KeyDuplicates:
    """What `export_key_duplicates` found in one export's Parquet files."""

    files: int
    rows: int
    duplicates: pl.DataFrame
    """Each key occurring more than once across the files, with `count` (first 20)."""
    duplicated_keys: int


def export_key_duplicates(exports_dir: Path, name: str, key: Sequence[str]) -> KeyDuplicates:
    """The keys of export `name` that occur more than once across all its Parquet files.

    Every partition's file is read, not only the ones a run wrote: a row the ERP received
    twice, once in a file a restatement rewrote and once in one it left, is the fault this
    is for. DuckDB reads the files where they are (one GROUP BY, nothing loaded whole)."""
    files = sorted((exports_dir / name).glob("*.parquet"))
    if not files:
        return KeyDuplicates(0, 0, pl.DataFrame(schema=dict.fromkeys(key, pl.String)), 0)
    keys = ", ".join(f'"{k}"' for k in key)
    source = "read_parquet(?, union_by_name = true)"
    paths = [[str(f) for f in files]]
    with duckdb.connect() as con:
        rows = con.sql(f"SELECT count(*) FROM {source}", params=paths).fetchall()[0]
        counted = con.sql(
            f"SELECT {keys}, count(*) AS count FROM {source} GROUP BY ALL "
            f"HAVING count(*) > 1 ORDER BY {keys}",
            params=paths,
        ).pl()
    return KeyDuplicates(len(files), int(rows[0]), counted.head(20), counted.height)
