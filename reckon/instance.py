"""A project-local Dagster home, so run history and schedules survive between commands.

Without DAGSTER_HOME, Dagster keeps run history in a temporary folder deleted
on exit (DAGSTER-NOTES.md); the UI would then show none of the CLI's runs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
INSTANCE_CONFIG = PROJECT_ROOT / "dagster.yaml"


def ensure_dagster_home(home: Path | None = None) -> Path:
    """Use $DAGSTER_HOME (or `home`, or ./.dagster_home), with reckon's dagster.yaml in it."""
    chosen = home or Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home")
    chosen = chosen.resolve()
    chosen.mkdir(parents=True, exist_ok=True)
    target = chosen / "dagster.yaml"
    if not target.exists() or target.read_bytes() != INSTANCE_CONFIG.read_bytes():
        shutil.copyfile(INSTANCE_CONFIG, target)
    os.environ["DAGSTER_HOME"] = str(chosen)
    return chosen
