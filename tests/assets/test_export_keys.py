"""Every exported table's declared unique key holds: costing_cogs has a real key, the warehouse
refuses a second row of a key (an empty key part included), and an asset check per exported
table reads the exported files and fails on a key sent twice (issue 15, point 3)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.defs.export_keys import WRITTEN_BY, check_name
from pipelines.contracts import EXPORTED_TABLES
from pipelines.contracts.costing import COSTING_COGS
from pipelines.contracts.inputs import LANDED_COSTS
from pipelines.costing import cost_range
from storage.exports import export_key_duplicates, write_export
from storage.schema import ContractViolation
from storage.warehouse import replace_slice
from tests.costing.helpers import inputs, move
from tests.costing.ledgers import END, START


def _landed(landed_cost_id: str, amount: str) -> dict:
    return {
        "landed_cost_id": landed_cost_id,
        "posted_at": datetime(2026, 1, 4, 12),
        "company": "C1",
        "receipt_reference": "po1",
        "amount": Decimal(amount),
        "currency": "EUR",
        "basis": "QUANTITY",
    }


def _two_landed_costs_on_one_gone_line() -> pl.DataFrame:
    """Receipt line r1 (2 units) issued whole, then two landed costs posted on it the same day:
    both are expensed on (day, r1), one COGS row each."""
    frame = inputs(
        [
            move("r1", "2026-01-01T09:00", "RECEIPT", 2, cost="1", ref="po1"),
            move("i1", "2026-01-02T09:00", "ISSUE", 2),
        ]
    )
    frame["landed_costs"] = pl.DataFrame(
        [_landed("L1", "1.00"), _landed("L2", "0.50")], schema=LANDED_COSTS.schema
    )
    return cost_range(frame, None, START, END).cogs


def test_two_landed_costs_on_one_receipt_line_and_day_are_two_rows_of_distinct_keys() -> None:
    cogs = _two_landed_costs_on_one_gone_line()
    landed = cogs.filter(kind="LANDED_COST").select("movement_id", "landed_cost_id", "amount")
    assert landed.sort("landed_cost_id").rows() == [
        ("r1", "L1", Decimal("1.00")),
        ("r1", "L2", Decimal("0.50")),
    ]
    assert not cogs.select(COSTING_COGS.key).is_duplicated().any()


def test_the_warehouse_keeps_costing_cogs_and_refuses_a_key_twice_even_with_an_empty_part(
    tmp_path: Path,
) -> None:
    cogs = _two_landed_costs_on_one_gone_line()
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        replace_slice(con, "costing_cogs", cogs)
        cost_row = cogs.filter(kind="COST")
        assert cost_row["landed_cost_id"].is_null().all()
        with pytest.raises(ContractViolation, match=r"costing_cogs: key \(.*i1.*\) would occur 2"):
            replace_slice(con, "costing_cogs", cost_row, {"posting_date": (END, END)})
        landed_twice = cogs.filter(kind="LANDED_COST", landed_cost_id="L1")
        with pytest.raises(ContractViolation, match="L1"):
            replace_slice(con, "costing_cogs", landed_twice, {"posting_date": (END, END)})


def test_every_exported_table_with_a_key_gets_a_check_on_the_asset_writing_it() -> None:
    written = [name for names in WRITTEN_BY.values() for name in names]
    assert sorted(written) == sorted(t.name for t in EXPORTED_TABLES)
    keyless = {t.name for t in EXPORTED_TABLES if not t.key}
    assert keyless == {"costing_journal_lines"}  # a line list: its totals have a key
    from assets.definitions import defs

    graph = defs.resolve_asset_graph()
    for asset, names in WRITTEN_BY.items():
        checks = {c.name for c in graph.get(dg.AssetKey(asset)).check_keys}
        assert {check_name(n) for n in names if n not in keyless} <= checks, asset


def test_a_key_sent_twice_across_export_files_is_found_with_its_count(tmp_path: Path) -> None:
    cogs = _two_landed_costs_on_one_gone_line()
    write_export(cogs, tmp_path, "costing_cogs", "2026-01-04")
    clean = export_key_duplicates(tmp_path, "costing_cogs", COSTING_COGS.key)
    assert (clean.files, clean.rows, clean.duplicated_keys) == (1, cogs.height, 0)
    # a stale file still holding a COST row (empty landed_cost_id) a later file also holds
    write_export(cogs.filter(kind="COST"), tmp_path, "costing_cogs", "2026-01-03")
    found = export_key_duplicates(tmp_path, "costing_cogs", COSTING_COGS.key)
    assert found.duplicated_keys == 1
    assert found.duplicates.select("movement_id", "kind", "landed_cost_id", "count").rows() == [
        ("i1", "COST", None, 2)
    ]
