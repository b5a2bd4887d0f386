"""Where everything lives under one data directory.

The embedded default keeps inputs, the DuckDB warehouse, the raw bill store,
quarantine and exports side by side under a single folder, so a demo or a
test is one directory to create and one to delete. A deployment points the
same layout at other places by configuration only (assets/resources.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

DAY_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
INPUT_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class DataLayout:
    root: Path
    warehouse_path: Path | None = None
    """Where the DuckDB file lives; under `root` unless configured."""
    exports_path: Path | None = None
    """Where ERP exports go; `root/exports` unless configured."""

    def input_dir(self, table: str) -> Path:
        """Folder of one input table (`movements/`, `skus/`, ...)."""
        return self.root / table

    @property
    def rate_cards_dir(self) -> Path:
        return self.root / "rate_cards"

    @property
    def carriers_file(self) -> Path:
        """Per-carrier settings: billing cycle, tolerances, API endpoint."""
        return self.root / "carriers.yaml"

    @property
    def bills_inbox(self) -> Path:
        """`bills/inbox/<carrier>/<file>`: bills as they arrive, any format."""
        return self.root / "bills" / "inbox"

    @property
    def bills_api_dir(self) -> Path:
        """What the demo carrier API server serves (generated API bills)."""
        return self.root / "bills" / "api"

    @property
    def raw_store(self) -> Path:
        """Immutable, content-addressed copies of every incoming bill file."""
        return self.root / "raw"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def exports_dir(self) -> Path:
        return self.exports_path or self.root / "exports"

    @property
    def ground_truth_dir(self) -> Path:
        """Anomalies the demo generator injected, for measuring detection."""
        return self.root / "ground_truth"

    @property
    def warehouse_db(self) -> Path:
        return self.warehouse_path or self.root / "warehouse.duckdb"

    @property
    def work_dir(self) -> Path:
        """Intermediate files of a run (never inputs or outputs): safe to delete when
        no run is going."""
        return self.root / "work"

    @property
    def api_cursors_dir(self) -> Path:
        """`<CARRIER>.json`: how far each carrier's billing API has been pulled (the
        since-cursor, runs/api_bills.py)."""
        return self.root / "state" / "api_cursors"

    @property
    def written_folders(self) -> tuple[Path, ...]:
        """Every folder reckon writes files into (atomically, storage/files.py): where a
        killed writer's temporary file can be left."""
        return (
            self.exports_dir,
            self.raw_store,
            self.root / "parsed",
            self.quarantine_dir,
            self.work_dir,
            self.bills_inbox,
            self.api_cursors_dir,
        )

    def reconciliation_work_dir(self, carrier: str, period_start: date) -> Path:
        """Where one carrier period's findings are written bucket by bucket (Parquet
        parts) before they are stored in the warehouse."""
        return self.work_dir / "reconciliation" / f"{carrier}_{period_start.isoformat()}"

    def files_for_days(self, table: str, days: list[date]) -> dict[date, list[Path]]:
        """Daily input files of each of `days`, by the day in their name (one folder scan)."""
        folder = self.input_dir(table)
        wanted = {d.isoformat(): d for d in days}
        found: dict[date, list[Path]] = {}
        if not folder.is_dir():
            return found
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.suffix.lower() not in (".csv", ".parquet"):
                continue
            stamp = DAY_IN_NAME.search(path.name)
            if stamp and stamp.group(1) in wanted:
                found.setdefault(wanted[stamp.group(1)], []).append(path)
        return found

    def extract_days(self, table: str) -> tuple[date, date] | None:
        """The first and last days daily extracts of `table` are named for (one folder
        scan), or None: where the data, and so the daily partitions, begin and end."""
        folder = self.input_dir(table)
        if not folder.is_dir():
            return None
        days = []
        for path in folder.iterdir():
            stamp = DAY_IN_NAME.search(path.name)
            if stamp and path.suffix.lower() in INPUT_SUFFIXES and not _undated(path.name):
                days.append(date.fromisoformat(stamp.group(1)))
        return (min(days), max(days)) if days else None

    def first_extract_day(self, table: str) -> date | None:
        days = self.extract_days(table)
        return days[0] if days else None

    def stray_files(self, table: str, daily: bool) -> list[tuple[Path, str]]:
        """What the table's folder holds that no load would ever read, with why: a daily
        extract whose name carries no day (or no real one), a file of another type, a
        folder. Hidden files (an upload in progress, `.DS_Store`) are left alone.

        DOMAIN.md: never lose a row, explain every exclusion; a file the loader skips
        in silence is rows lost without a word."""
        folder = self.input_dir(table)
        if not folder.is_dir():
            return []
        stray = []
        for path in sorted(folder.iterdir()):
            if path.name.startswith("."):
                continue
            if path.is_dir():
                stray.append((path, "a folder inside the table's folder: its files are not loaded"))
            elif path.suffix.lower() not in INPUT_SUFFIXES:
                stray.append(
                    (path, f"unsupported file type {path.suffix!r}: expected .csv or .parquet")
                )
            elif daily:
                reason = _undated(path.name)
                if reason:
                    stray.append((path, reason))
        return stray

    def reference_files(self, table: str) -> list[Path]:
        """All files of a reference table (read whole)."""
        folder = self.input_dir(table)
        if not folder.is_dir():
            return []
        return sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".parquet")
        )


def _undated(name: str) -> str | None:
    """Why a daily extract named `name` belongs to no load day, or None if it does."""
    stamp = DAY_IN_NAME.search(name)
    if stamp is None:
        return "daily extract without a date (YYYY-MM-DD) in its name: loaded for no day"
    try:
        date.fromisoformat(stamp.group(1))
    except ValueError:
        return f"daily extract named for {stamp.group(1)}, which is not a date: loaded for no day"
    return None
