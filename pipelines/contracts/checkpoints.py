"""Costing checkpoints: the state carried from one costing day to the next, as stored.

Each frame of `pipelines.costing.state.CostingState` has a warehouse table
`costing_state_<frame>` holding it at the end of each checkpoint day (`as_of`);
a run starts from the latest checkpoint before the first day it must (re)compute
(runs/costing.py). The frames hold integer cents, not money: the next slice of a
layer is rounded from the layer's whole value (DOMAIN.md, "Rounding never loses a
cent"). The state's frame schemas are these contracts without `as_of`.
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts import types as t
from pipelines.contracts.spec import Column, TableContract

CHECKPOINT_PREFIX = "costing_state_"
AS_OF = "as_of"
CENTS = pl.Int64
"""Money in integer minor units (the engine's carried form)."""

_POOL = (Column("company", t.ID), Column("warehouse", t.ID), Column("sku", t.ID))


def _checkpoint(
    frame: str, description: str, columns: tuple[Column, ...], key: tuple[str, ...]
) -> TableContract:
    return TableContract(
        name=CHECKPOINT_PREFIX + frame,
        description=description,
        columns=(*columns, Column(AS_OF, t.DATE, description="The checkpoint day (its end).")),
        key=(AS_OF, *key),
    )


def state_schema(checkpoint: TableContract) -> pl.Schema:
    """The carried frame's schema: the checkpoint's columns without its day."""
    return pl.Schema({c.name: c.dtype for c in checkpoint.columns if c.name != AS_OF})


OPEN_LAYERS = _checkpoint(
    "open_layers",
    "Open slices of layers in FIFO order (`position` ascending within a pool; in transit, "
    "within the transfer they travel under: two transfers of one SKU in transit together "
    "each start at position 0).",
    (
        *_POOL,
        Column("position", t.QUANTITY),
        Column("transfer_id", t.ID, required=False, description="In-transit slices only."),
        Column("transfer_out_id", t.ID, required=False, description="In-transit slices only."),
        Column("origin_id", t.ID),
        Column("origin_kind", t.CODE),
        Column("receipt_date", t.DATE),
        Column("origin_qty", t.QUANTITY),
        Column("origin_value_cents", CENTS),
        Column("origin_a", t.QUANTITY),
        Column("origin_b", t.QUANTITY),
        Column("quantity", t.QUANTITY),
        Column("value_cents", CENTS),
    ),
    ("company", "warehouse", "sku", "transfer_id", "position"),
)

OPEN_SHORTFALLS = _checkpoint(
    "open_shortfalls",
    "Units issued before they were received (negative stock), oldest first.",
    (
        *_POOL,
        Column("position", t.QUANTITY),
        Column("movement_id", t.ID),
        Column("movement_type", t.CODE),
        Column("occurred_at", t.TIMESTAMP),
        Column("short_a", t.QUANTITY),
        Column("short_b", t.QUANTITY),
        Column("short_qty", t.QUANTITY),
        Column("provisional_cents", CENTS),
    ),
    ("company", "warehouse", "sku", "position"),
)

POOL_REFS = _checkpoint(
    "pool_refs",
    "Per pool, the origin layer that last entered it: the reference unit cost when none is open.",
    (
        *_POOL,
        Column("ref_origin_id", t.ID),
        Column("ref_value_cents", CENTS),
        Column("ref_qty", t.QUANTITY),
        Column("ref_landed_cents", CENTS),
        Column(
            "last_in_at",
            t.TIMESTAMP,
            required=False,
            description="When the pool's last inbound movement occurred.",
        ),
        Column(
            "last_in_id",
            t.ID,
            required=False,
            description="That movement: a shortfall in a pool of the company and SKU with no "
            "history takes its reference from the pool whose last inbound is the latest.",
        ),
    ),
    ("company", "warehouse", "sku"),
)

ISSUE_COSTS = _checkpoint(
    "issue_costs",
    "Cost of earlier issues as booked (not carried: a run reads them from costing_cogs).",
    (
        Column("movement_id", t.ID),
        Column("company", t.ID),
        Column("sku", t.ID),
        Column("quantity", t.QUANTITY),
        Column("cost_cents", CENTS),
    ),
    ("movement_id",),
)

LANDED_COMPONENTS = _checkpoint(
    "landed_components",
    "Landed cost allocated to a receipt line that still has open units.",
    (
        Column("origin_id", t.ID),
        Column("landed_cost_id", t.ID),
        Column("share_cents", CENTS),
        Column("effective_at", t.TIMESTAMP),
        Column("origin_qty", t.QUANTITY),
    ),
    ("origin_id", "landed_cost_id"),
)

AGEING = _checkpoint(
    "ageing",
    "The ageing report at the checkpoint day, so the next chunk finds the buckets it must "
    "close without an as-of query over the whole ageing history.",
    (
        *_POOL,
        Column("bucket_no", pl.Int32),
        Column("bucket", t.CODE),
        Column("quantity", t.QUANTITY),
        Column("value", t.MONEY),
    ),
    ("company", "warehouse", "sku", "bucket"),
)

SAVED = _checkpoint(
    "saved",
    "One row per checkpoint day: a day's frames may all be empty, the marker says it exists.",
    (),
    (),
)

STATE_CHECKPOINTS: dict[str, TableContract] = {
    "open_layers": OPEN_LAYERS,
    "open_shortfalls": OPEN_SHORTFALLS,
    "pool_refs": POOL_REFS,
    "issue_costs": ISSUE_COSTS,
    "landed_components": LANDED_COMPONENTS,
}
"""CostingState frame name -> its checkpoint table."""

CHECKPOINT_TABLES: tuple[TableContract, ...] = (*STATE_CHECKPOINTS.values(), AGEING, SAVED)
