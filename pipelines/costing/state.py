"""The state carried from one costing day to the next.

A nightly partition must cost only what that day needs (issue 3, item 5), so the end
of day D is summarised in a few small frames the caller persists (DuckDB/Parquet) and
passes back for day D+1. Every frame holds integer cents: the rounding of the next
slice of a layer needs the layer's whole value and quantity, never a rounded unit cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

OPEN_LAYERS_SCHEMA = pl.Schema(
    {
        "company": pl.String,
        "warehouse": pl.String,
        "sku": pl.String,
        "position": pl.Int64,
        "transfer_id": pl.String,
        "transfer_out_id": pl.String,
        "origin_id": pl.String,
        "origin_kind": pl.String,
        "receipt_date": pl.Date,
        "origin_qty": pl.Int64,
        "origin_value_cents": pl.Int64,
        "origin_a": pl.Int64,
        "origin_b": pl.Int64,
        "quantity": pl.Int64,
        "value_cents": pl.Int64,
    }
)
"""Open slices of layers in FIFO order (`position` ascending within a pool). A slice is
positions [origin_a, origin_b) of its origin layer (`origin_qty` units worth
`origin_value_cents`). In-transit slices sit in warehouse `IN_TRANSIT:<company>` with the
`transfer_id` (and TRANSFER_OUT movement) they travel under."""

OPEN_SHORTFALLS_SCHEMA = pl.Schema(
    {
        "company": pl.String,
        "warehouse": pl.String,
        "sku": pl.String,
        "position": pl.Int64,
        "movement_id": pl.String,
        "movement_type": pl.String,
        "occurred_at": pl.Datetime("us"),
        "short_a": pl.Int64,
        "short_b": pl.Int64,
        "short_qty": pl.Int64,
        "provisional_cents": pl.Int64,
    }
)
"""Units issued before they were received (negative stock), oldest first: positions
[short_a, short_b) of the `short_qty` units of outbound `movement_id`, costed
provisionally at `provisional_cents` for all its `short_qty` units."""

POOL_REFS_SCHEMA = pl.Schema(
    {
        "company": pl.String,
        "warehouse": pl.String,
        "sku": pl.String,
        "ref_origin_id": pl.String,
        "ref_value_cents": pl.Int64,
        "ref_qty": pl.Int64,
        "ref_landed_cents": pl.Int64,
    }
)
"""Per pool, the origin layer of the slice that most recently entered it (the reference
unit cost when no layer is open): its quantity, value, and the landed cost allocated to it
and in effect by the end of the day (DOMAIN.md "Landed cost" raises a layer's value; a
later landed cost on the same line is added when it takes effect)."""

ISSUE_COSTS_SCHEMA = pl.Schema(
    {
        "movement_id": pl.String,
        "company": pl.String,
        "sku": pl.String,
        "quantity": pl.Int64,
        "cost_cents": pl.Int64,
    }
)
"""Cost of earlier ISSUEs as booked on their day, so a RETURN of this range finds its
issue's cost. `cost_range` adds the range's own issues to the end state, so calls chained
in memory see every earlier issue; a caller that keeps the COGS (runs.costing,
table costing_cogs) instead supplies only the issues the next range's RETURNs reference
(`issue_costs_for_returns`), which keeps the carried state independent of the history."""


LANDED_COMPONENTS_SCHEMA = pl.Schema(
    {
        "origin_id": pl.String,
        "landed_cost_id": pl.String,
        "share_cents": pl.Int64,
        "effective_at": pl.Datetime("us"),
        "origin_qty": pl.Int64,
    }
)
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
            **{name: frames[name].select(list(s)).cast(dict(s)) for name, s in SCHEMAS.items()}
        )
