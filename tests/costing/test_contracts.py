"""The engine's output frames have exactly the declared contract schemas."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import polars as pl

from pipelines.contracts.costing import (
    COSTING_AGEING_CHANGES,
    COSTING_COGS,
    COSTING_CONSUMPTION,
    COSTING_FLAGS,
    COSTING_JOURNAL_LINES,
    COSTING_JOURNALS,
    COSTING_LANDED_COST_ALLOCATIONS,
    COSTING_LATE_DOCUMENTS,
    COSTING_OPEN_LAYERS,
    COSTING_QUARANTINE,
    COSTING_RUNS,
    COSTING_TABLES,
    COSTING_VALUATION,
    INVENTORY_ACCURACY,
    INVENTORY_DISCREPANCIES,
    INVENTORY_VALUATION,
    STOCK_AGEING,
)
from pipelines.contracts.inputs import LANDED_COSTS, SNAPSHOTS
from pipelines.costing import cost_range
from pipelines.inventory_check import check_snapshot
from tests.costing.helpers import inputs, move
from tests.costing.ledgers import END, START


def _ledger() -> dict[str, pl.DataFrame]:
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 2, cost="1", ref="po1"),
        move("i1", "2026-01-02T09:00", "ISSUE", 3),
        move("to", "2026-01-02T10:00", "TRANSFER_OUT", 1, wh="W1", ref="T1"),
        move("r2", "2026-01-03T09:00", "RECEIPT", 5, cost="2", ref="po1"),
    ]
    frame = inputs(rows)
    frame["landed_costs"] = pl.DataFrame(
        [
            {
                "landed_cost_id": "L1",
                "posted_at": datetime(2026, 1, 4),
                "company": "C1",
                "receipt_reference": "po1",
                "amount": Decimal("1.00"),
                "currency": "EUR",
                "basis": "QUANTITY",
            }
        ],
        schema=LANDED_COSTS.schema,
    )
    return frame


def test_outputs_match_their_contracts() -> None:
    r = cost_range(_ledger(), None, START, END)
    assert r.cogs.height and r.consumption.height and r.open_layers.height
    snaps = pl.DataFrame(
        [{"snapshot_date": END, "warehouse": "W1", "sku": "S1", "quantity": 1}],
        schema=SNAPSHOTS.schema,
    )
    check = check_snapshot(r.valuation_on(END), snaps, END)
    pairs = {
        COSTING_COGS: r.cogs,
        COSTING_CONSUMPTION: r.consumption,
        COSTING_OPEN_LAYERS: r.open_layers,
        COSTING_VALUATION: r.valuation,
        COSTING_AGEING_CHANGES: r.ageing,
        INVENTORY_VALUATION: r.valuation_on(END),
        STOCK_AGEING: r.ageing_on(END),
        COSTING_JOURNALS: r.journals,
        COSTING_JOURNAL_LINES: r.journal_lines,
        COSTING_LANDED_COST_ALLOCATIONS: r.landed_cost_allocations,
        # the run stamps the flags with their day (runs/costing.py) before storing them
        COSTING_FLAGS: r.flags.with_columns(pl.lit(END).alias("day")),
        INVENTORY_DISCREPANCIES: check.discrepancies,
        INVENTORY_ACCURACY: check.accuracy,
    }
    # written by the run around the engine; tests/assets/test_reconciliation_assets.py checks
    # them, with every other table, in a warehouse the demo filled
    by_the_run = {COSTING_LATE_DOCUMENTS, COSTING_RUNS, COSTING_QUARANTINE}
    # the engine's refusals are the quarantine's rows before the run adds their file and row
    engine_part = {k: v for k, v in COSTING_QUARANTINE.schema.items() if k not in ("file", "row")}
    assert dict(r.refused.schema) == engine_part
    assert set(pairs) | by_the_run == {*COSTING_TABLES, COSTING_OPEN_LAYERS}
    for contract, frame in pairs.items():
        assert frame.height, contract.name
        assert dict(frame.schema) == dict(contract.schema), contract.name
