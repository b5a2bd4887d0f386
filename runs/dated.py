"""The day of a daily table's row, in the warehouse's SQL.

Which column dates each daily table (movements by `occurred_at`, landed costs by
`posted_at`, snapshots by `snapshot_date`, shipments by `shipped_at`) is said once, by
its contract's `partition_column` (pipelines/contracts/inputs.py); the runs read it
from there instead of naming the column again in every query.
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts.spec import TableContract


def day_of(contract: TableContract, alias: str | None = None) -> str:
    """SQL for the calendar day of a row of `contract`'s table (`alias`: the table's name
    or alias in the query, when it joins others)."""
    name = contract.day_column
    column = f'{alias}."{name}"' if alias else f'"{name}"'
    return column if contract.column(name).dtype == pl.Date else f"CAST({column} AS DATE)"
