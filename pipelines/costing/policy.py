"""Costing policy: every choice DOMAIN.md "Costing rules" calls configurable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

POOL_BY_WAREHOUSE = "company_warehouse_sku"
POOL_BY_COMPANY = "company_sku"
ALL_WAREHOUSES = "*"
"""Warehouse value of every pool when pooling per (company, sku)."""

DEFAULT_AGE_BUCKETS: tuple[int, ...] = (30, 60, 90, 180, 365)
"""Upper bounds (inclusive, days) of the default buckets 0-30 ... 181-365; the last is >365."""


@dataclass(frozen=True)
class CostingPolicy:
    """How the engine values the ledger.

    `pool`: DOMAIN.md "Valuation pool": per (company, warehouse, sku) by default; per
    (company, sku) the warehouse column of every pool is "*" and transfers within a company
    do not touch cost.
    `closed_before`: DOMAIN.md "Late (backdated) documents": None recosts forward (the caller
    reruns from the late date); a date closes every day before it, and documents dated in the
    closed period are posted at the start of that first open day.
    `age_buckets`: inclusive upper bounds in days; one more bucket holds everything older.
    """

    pool: str = POOL_BY_WAREHOUSE
    closed_before: date | None = None
    age_buckets: tuple[int, ...] = DEFAULT_AGE_BUCKETS

    def __post_init__(self) -> None:
        if self.pool not in (POOL_BY_WAREHOUSE, POOL_BY_COMPANY):
            raise ValueError(f"unknown pool policy {self.pool!r}")
        bounds = list(self.age_buckets)
        if not bounds or bounds != sorted(set(bounds)) or bounds[0] < 0:
            raise ValueError(f"age_buckets must be increasing non-negative days, got {bounds}")
