"""A Dagster home beside the data, so run history and schedules survive between commands.

Without DAGSTER_HOME, Dagster keeps run history in a temporary folder deleted
on exit (DAGSTER-NOTES.md); the UI would then show none of the CLI's runs. The
default home is `<data dir>/.dagster_home`: Dagster's record of which bill
files and billing periods exist (dynamic partitions) belongs to one data
directory, and two data directories must not share it (nor, in a team
deployment, one PostgreSQL database).

The instance is embedded (SQLite files in the home) unless RECKON_DAGSTER_POSTGRES_URL
is set: then Dagster's storage is that PostgreSQL database (docs/deployment.md), the
other settings unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storage.files import write_bytes
from storage.layout import DataLayout

PROJECT_ROOT = Path(__file__).resolve().parents[1]
INSTANCE_CONFIG = PROJECT_ROOT / "dagster.yaml"
POSTGRES_STORAGE = PROJECT_ROOT / "dagster-postgres.yaml"
POSTGRES_URL_VARIABLE = "RECKON_DAGSTER_POSTGRES_URL"
POSTGRES_URL_SCHEME = "postgresql+psycopg2://"
"""SQLAlchemy 2.1 reads a bare `postgresql://` as the psycopg 3 driver, which dagster-postgres
does not install (it installs psycopg2): the URL names its driver."""


class InstanceSettingError(ValueError):
    """The environment asks for an instance reckon cannot open."""


def instance_config() -> bytes:
    """reckon's dagster.yaml, with the PostgreSQL storage block when the URL variable is set.

    The block names the variable, not its value: the password stays out of the home.
    Raises InstanceSettingError for a URL without the psycopg2 driver."""
    config = INSTANCE_CONFIG.read_bytes()
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if url and not url.startswith(POSTGRES_URL_SCHEME):
        scheme = url.split("://", 1)[0] + "://" if "://" in url else "no scheme"
        raise InstanceSettingError(
            f"{POSTGRES_URL_VARIABLE} must start with {POSTGRES_URL_SCHEME} (the driver "
            f"dagster-postgres installs), not {scheme}: "
            f"{POSTGRES_URL_SCHEME}USER:PASSWORD@HOST:PORT/DATABASE"
        )
    if url:
        config += b"\n" + POSTGRES_STORAGE.read_bytes()
    return config


def ensure_dagster_home(data_dir: Path) -> Path:
    """$DAGSTER_HOME if set, else `<data_dir>/.dagster_home`, with reckon's dagster.yaml in it."""
    chosen = Path(os.environ.get("DAGSTER_HOME") or data_dir / ".dagster_home")
    chosen = chosen.resolve()
    chosen.mkdir(parents=True, exist_ok=True)
    target = chosen / "dagster.yaml"
    config = instance_config()
    if not target.exists() or target.read_bytes() != config:
        write_bytes(target, config)
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
