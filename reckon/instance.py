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
from pathlib import Path

from storage.files import write_bytes

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
