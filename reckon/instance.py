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
from pathlib import Path

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
