"""Files for the ERP: one CSV and one Parquet per output and partition.

CSV carries a UTF-8 byte-order mark so Excel shows Chinese text correctly, and text that
Excel would run as a formula is escaped (`'=1+1`); Parquet keeps the text as it is. Both
are mode 0644 (docs/operations.md) and written atomically (storage/files.py), so the ERP
sees either the previous file or the new one, never a half-written file, and a rerun of a
partition replaces it (no duplicates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

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


def write_export(
    frame: pl.DataFrame, exports_dir: Path, name: str, partition_key: str
) -> ExportedFiles:
    """Write `exports/<name>/<partition>.csv` and `.parquet`, replacing any previous ones."""
    folder = exports_dir / name
    stem = partition_file_stem(partition_key)
    csv_path = folder / f"{stem}.csv"
    parquet_path = folder / f"{stem}.parquet"
    write_csv(frame, csv_path, bom=True, mode=EXPORT_FILE_MODE)
    write_parquet(frame, parquet_path, mode=EXPORT_FILE_MODE)
    return ExportedFiles(csv_path, parquet_path, frame.height)


def write_daily_exports(
    frame: pl.DataFrame,
    exports_dir: Path,
    name: str,
    date_column: str,
    days: list[date],
) -> list[ExportedFiles]:
    """One export per day in `days` (an empty file for a day with no rows, so reruns replace)."""
    by_day = {key[0]: part for key, part in frame.partition_by(date_column, as_dict=True).items()}
    empty = frame.clear()
    return [
        write_export(by_day.get(day, empty), exports_dir, name, day.isoformat()) for day in days
    ]
