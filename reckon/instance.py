"""A Dagster home beside the data, so run history and schedules survive between commands.

Without DAGSTER_HOME, Dagster keeps run history in a temporary folder deleted
on exit (DAGSTER-NOTES.md); the UI would then show none of the CLI's runs. The
default home is `<data dir>/.dagster_home`: Dagster's record of which bill
files and billing periods exist (dynamic partitions) belongs to one data
directory, and two data directories must not share it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storage.layout import DataLayout

PROJECT_ROOT = Path(__file__).resolve().parents[1]
INSTANCE_CONFIG = PROJECT_ROOT / "dagster.yaml"


def ensure_dagster_home(data_dir: Path) -> Path:
    """$DAGSTER_HOME if set, else `<data_dir>/.dagster_home`, with reckon's dagster.yaml in it."""
    chosen = Path(os.environ.get("DAGSTER_HOME") or data_dir / ".dagster_home")
    chosen = chosen.resolve()
    chosen.mkdir(parents=True, exist_ok=True)
    target = chosen / "dagster.yaml"
    if not target.exists() or target.read_bytes() != INSTANCE_CONFIG.read_bytes():
        shutil.copyfile(INSTANCE_CONFIG, target)
    os.environ["DAGSTER_HOME"] = str(chosen)
    return chosen


START_DATE_VARIABLE = "RECKON_START_DATE"


def partition_start(data_dir: Path) -> dict[str, str]:
    """RECKON_START_DATE for the code location over `data_dir`: the first day of its
    movements extracts, so daily partitions begin where the data does (the UI's partition
    bar and plots hold days with data, not years of empty ones). A value already set wins;
    empty when the data has no daily extract yet (assets/partitions.py's default holds)."""
    if os.environ.get(START_DATE_VARIABLE):
        return {START_DATE_VARIABLE: os.environ[START_DATE_VARIABLE]}
    first = DataLayout(data_dir.resolve()).first_extract_day("movements")
    return {START_DATE_VARIABLE: first.isoformat()} if first else {}


@contextmanager
def partitions_from_data(data_dir: Path) -> Iterator[None]:
    """Set RECKON_START_DATE (`partition_start`) while the code location is loaded in this
    process, and restore it after."""
    before = os.environ.get(START_DATE_VARIABLE)
    os.environ.update(partition_start(data_dir))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(START_DATE_VARIABLE, None)
        else:
            os.environ[START_DATE_VARIABLE] = before
