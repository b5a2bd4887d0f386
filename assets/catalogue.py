"""What the asset catalogue shows beside each asset: owner, tags, code version, and the
column schema of the table it writes, from its data contract (one place for all assets).

`dagster/column_schema` comes from pipelines/contracts (the warehouse schema), so the UI's
column list cannot drift from the tables; an asset whose main table is named differently
from the asset is mapped in MAIN_TABLE.
"""

from __future__ import annotations

import dagster as dg

from assets.metadata import OWNERS, asset_tags, column_schema
from pipelines.contracts import ALL_TABLES

MAIN_TABLE = {
    "costing": "costing_cogs",
    "inventory_check": "inventory_discrepancies",
    "reconciliation": "reconciliation_findings",
    "reconciliation_exports": "carrier_disputes",
    "costing_exports": "costing_cogs",
    "profit_exports": "order_profit",
}
"""Asset -> the contract of the table it stands for, where the names differ."""

CODE_VERSION = "2"
"""Raised when a change to an engine changes what its assets compute (the UI then shows
every asset's materializations as from an older code version)."""


def describe(spec: dg.AssetSpec) -> dg.AssetSpec:
    """`spec` with the finance team as owner, its group as `domain` tag, the code version,
    and the column schema of its table."""
    name = spec.key.to_user_string()
    contracts = {t.name: t for t in ALL_TABLES}
    table = contracts.get(MAIN_TABLE.get(name, name))
    metadata = column_schema(table) if table is not None else {}
    return spec.replace_attributes(
        owners=OWNERS,
        tags={**spec.tags, **asset_tags(spec.group_name or "default")},
        code_version=spec.code_version or CODE_VERSION,
    ).merge_attributes(metadata=metadata)


def catalogued(defs: dg.Definitions) -> dg.Definitions:
    return defs.map_asset_specs(func=describe)
