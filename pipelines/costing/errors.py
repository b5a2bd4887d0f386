"""How the costing engine refuses its input: one error naming the rows and the reason.

Bad rows are reported, never dropped silently: every check that can refuse a movement
(validation, transfer pairing, dependency cycles) raises this.
"""

from __future__ import annotations

import polars as pl


class CostingInputError(ValueError):
    """A costing input row is unusable; the message names the rows and the reason."""


def fail_if(frame: pl.DataFrame, reason: str, cols: list[str] | None = None) -> None:
    """Raise CostingInputError naming up to ten rows of `frame`, if it has any."""
    if frame.height:
        cols = cols or ["movement_id"]
        shown = frame.select(cols).head(10).rows()
        more = f" (and {frame.height - 10} more)" if frame.height > 10 else ""
        raise CostingInputError(f"movements: {reason}: {shown}{more}")
