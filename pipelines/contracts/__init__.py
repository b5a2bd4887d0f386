"""Every table that crosses reckon's boundary, declared once.

`ALL_TABLES` is what the loader validates against, what the warehouse creates its
tables from (`STORED_TABLES`), what the exports carry (`EXPORTED_TABLES`) and what
docs/data-contracts.md documents; tests keep the warehouse, the exports and the
document in step with it.
"""

from pipelines.contracts.bills import BILL_TABLES
from pipelines.contracts.checkpoints import CHECKPOINT_TABLES
from pipelines.contracts.costing import COSTING_TABLES
from pipelines.contracts.inputs import DAILY_TABLES, INPUT_TABLES, REFERENCE_TABLES
from pipelines.contracts.profit import PROFIT_TABLES
from pipelines.contracts.quarantine import QUARANTINE_TABLES
from pipelines.contracts.rating import RATING_TABLES
from pipelines.contracts.reconciliation import RECONCILIATION_TABLES
from pipelines.contracts.restatements import RESTATEMENT_TABLES
from pipelines.contracts.spec import Column, TableContract

ALL_TABLES: tuple[TableContract, ...] = (
    INPUT_TABLES
    + QUARANTINE_TABLES
    + BILL_TABLES
    + COSTING_TABLES
    + RATING_TABLES
    + RECONCILIATION_TABLES
    + CHECKPOINT_TABLES
    + RESTATEMENT_TABLES
    + PROFIT_TABLES
)
STORED_TABLES: tuple[TableContract, ...] = tuple(t for t in ALL_TABLES if t.stored)
EXPORTED_TABLES: tuple[TableContract, ...] = tuple(t for t in ALL_TABLES if t.exported)


def contract(name: str) -> TableContract:
    """The contract called `name`; a KeyError names the known tables."""
    for table in ALL_TABLES:
        if table.name == name:
            return table
    raise KeyError(f"no contract {name!r}; known: {', '.join(t.name for t in ALL_TABLES)}")


__all__ = [
    "ALL_TABLES",
    "BILL_TABLES",
    "CHECKPOINT_TABLES",
    "COSTING_TABLES",
    "DAILY_TABLES",
    "EXPORTED_TABLES",
    "INPUT_TABLES",
    "PROFIT_TABLES",
    "QUARANTINE_TABLES",
    "RATING_TABLES",
    "RECONCILIATION_TABLES",
    "REFERENCE_TABLES",
    "RESTATEMENT_TABLES",
    "STORED_TABLES",
    "Column",
    "TableContract",
    "contract",
]
