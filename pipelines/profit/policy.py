"""The allocation policies of order profitability, each a documented choice (docs/profit.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ENGINE: Literal["in-memory"] = "in-memory"
"""The Polars engine the profit frames are collected with: on a chunk of order days (a
few hundred thousand lines, in memory anyway) the in-memory engine takes ~15% less CPU
than the streaming one Polars picks by default (benchmarks/profit.py)."""

REVENUE_BASES = ("AMOUNT", "QUANTITY")
"""Order-level amounts go to lines pro rata to the line amount (goods less line discount,
DOMAIN.md default) or to the quantity."""
FREIGHT_BASES = ("WEIGHT", "VALUE")
"""A parcel's freight goes to the lines it carried by SKU weight × quantity (DOMAIN.md
default) or by line amount."""


@dataclass(frozen=True)
class ProfitPolicy:
    revenue_basis: str = "AMOUNT"
    freight_basis: str = "WEIGHT"

    def __post_init__(self) -> None:
        if self.revenue_basis not in REVENUE_BASES:
            raise ValueError(f"revenue_basis {self.revenue_basis!r}: one of {REVENUE_BASES}")
        if self.freight_basis not in FREIGHT_BASES:
            raise ValueError(f"freight_basis {self.freight_basis!r}: one of {FREIGHT_BASES}")
