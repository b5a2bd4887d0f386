"""The exit codes of `reckon run` and `reckon demo`, for a scheduler or script to act on.

Kept apart from the summary so the CLI reads them without importing Dagster.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """`reckon run` and `reckon demo` exit codes (README, "The command line"). When several
    apply, the lowest non-zero one is returned and every reason is printed."""

    OK = 0
    RUN_FAILED = 1
    """A run failed: a step raised (its error is printed), or a run could not start."""
    USAGE = 2
    """A bad option or argument (typer's own code)."""
    CHECKS_FAILED = 3
    """A check of severity ERROR did not pass; a blocking one held back its exports."""
    QUARANTINED = 4
    """Input rows, input files or bill files went to quarantine; everything else ran."""
    WAREHOUSE_IN_USE = 5
    """Another command or run holds the warehouse; nothing was run."""
