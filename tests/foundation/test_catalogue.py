"""What the asset catalogue shows an analyst: an owner, a domain tag and a code version on
every asset, a description on every check, and column schemas that are the contracts'."""

from __future__ import annotations

import dagster as dg

from assets.catalogue import MAIN_TABLE
from assets.definitions import defs
from pipelines.contracts import contract


def test_every_asset_has_an_owner_a_domain_a_code_version_and_every_check_a_description():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners == ["team:finance"], key
        assert node.tags.get("domain") == node.group_name, key
        assert node.code_version, key
    undescribed = [
        k.to_user_string()
        for k in graph.asset_check_keys
        if not graph.get_check_spec(k).description
    ]
    assert undescribed == []


def test_column_schemas_are_the_data_contracts():
    graph = defs.resolve_asset_graph()
    for name in ("movements", "bill_quarantine", "costing", "stock_ageing", "reconciliation"):
        schema = graph.get(dg.AssetKey(name)).metadata["dagster/column_schema"]
        table = contract(MAIN_TABLE.get(name, name))
        assert [c.name for c in schema.columns] == list(table.column_names), name
        required = {c.name for c in table.columns if c.required}
        assert {c.name for c in schema.columns if not c.constraints.nullable} == required, name
