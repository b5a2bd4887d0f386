"""The state carried from one costing day to the next.

A nightly partition must cost only what that day needs (issue 3, item 5), so the end
of day D is summarised in a few small frames the caller persists (DuckDB/Parquet) and
passes back for day D+1. Every frame holds integer cents: the rounding of the next
slice of a layer needs the layer's whole value and quantity, never a rounded unit cost.
The frames' schemas are their checkpoint tables' contracts (pipelines/contracts/checkpoints.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.contracts import checkpoints
from pipelines.contracts.checkpoints import state_schema

OPEN_LAYERS_SCHEMA = state_schema(checkpoints.OPEN_LAYERS)
"""Open slices of layers in FIFO order (`position` ascending within a pool). A slice is
positions [origin_a, origin_b) of its origin layer (`origin_qty` units worth
`origin_value_cents`). In-transit slices sit in warehouse `IN_TRANSIT:<company>` with the
`transfer_id` (and TRANSFER_OUT movement) they travel under."""

OPEN_SHORTFALLS_SCHEMA = state_schema(checkpoints.OPEN_SHORTFALLS)
"""Units issued before they were received (negative stock), oldest first: positions
[short_a, short_b) of the `short_qty` units of outbound `movement_id`, costed
provisionally at `provisional_cents` for all its `short_qty` units."""

POOL_REFS_SCHEMA = state_schema(checkpoints.POOL_REFS)
"""Per pool, the origin layer of the slice that most recently entered it (the reference
unit cost when no layer is open): its quantity, value, and the landed cost allocated to it
and in effect by the end of the day (DOMAIN.md "Landed cost" raises a layer's value; a
later landed cost on the same line is added when it takes effect)."""

ISSUE_COSTS_SCHEMA = state_schema(checkpoints.ISSUE_COSTS)
"""Cost of earlier ISSUEs as booked on their day, so a RETURN of this range finds its
issue's cost. `cost_range` adds the range's own issues to the end state, so calls chained
in memory see every earlier issue; a caller that keeps the COGS (runs.costing,
table costing_cogs) instead supplies only the issues the next range's RETURNs reference
(`issue_costs_for_returns`), which keeps the carried state independent of the history."""


LANDED_COMPONENTS_SCHEMA = state_schema(checkpoints.LANDED_COMPONENTS)
"""Landed cost allocated to a receipt line (`origin_id`) that still has open units: every
later slice of the line takes its cumulative-rounding part of `share_cents`."""

SCHEMAS = {
    "open_layers": OPEN_LAYERS_SCHEMA,
    "open_shortfalls": OPEN_SHORTFALLS_SCHEMA,
    "pool_refs": POOL_REFS_SCHEMA,
    "issue_costs": ISSUE_COSTS_SCHEMA,
    "landed_components": LANDED_COMPONENTS_SCHEMA,
}


@dataclass(frozen=True)
class CostingState:
    """Carried state at the end of a day (see the module docstring)."""

    open_layers: pl.DataFrame
    open_shortfalls: pl.DataFrame
    pool_refs: pl.DataFrame
    issue_costs: pl.DataFrame
    landed_components: pl.DataFrame

    @staticmethod
    def empty() -> CostingState:
        return CostingState(**{name: pl.DataFrame(schema=s) for name, s in SCHEMAS.items()})

    def frames(self) -> dict[str, pl.DataFrame]:
        """Name -> frame, for persisting; `from_frames` reads it back."""
        return {name: getattr(self, name) for name in SCHEMAS}

    @staticmethod
    def from_frames(frames: dict[str, pl.DataFrame]) -> CostingState:
        return CostingState(
            **{name: frames[name].select(list(s)).cast(s) for name, s in SCHEMAS.items()}
        )
