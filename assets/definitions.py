"""The code location: every definition under `assets.defs`, with the reckon resource.

`build_definitions` lets the CLI and the tests point the same graph at another
data directory; the module-level `defs` is what the UI and `dagster` load.
"""

from __future__ import annotations

import warnings

import dagster as dg

import assets.defs as defs_package
from assets.catalogue import catalogued
from assets.resources import ReckonResource, default_data_dir

# Single-run backfills and package loading are what DAGSTER-NOTES.md measured to work; their
# beta/preview labels would otherwise print on every load of the code location.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def build_definitions(reckon: ReckonResource | None = None) -> dg.Definitions:
    # In-process execution: a process per step costs ~5 s on this machine (DAGSTER-NOTES.md).
    loaded = dg.load_definitions_from_package_module(
        defs_package,
        resources={"reckon": reckon or ReckonResource(data_dir=default_data_dir())},
        executor=dg.in_process_executor,
    )
    return catalogued(loaded)


defs = build_definitions()
