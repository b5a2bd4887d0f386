"""Valuation pools: the columns that key a pool and the in-transit location.

Shared by costing, ageing and journals (DOMAIN.md "Valuation pool"), which all group
by pool and tell stock in transit from stock in a warehouse; kept apart from
pipelines.costing so ageing and journals need nothing of the costing engine.
"""

from __future__ import annotations

from typing import overload

import polars as pl

POOL = ["company", "warehouse", "sku"]
"""The key of a valuation pool (the warehouse is "*" when pooling per company)."""

TRANSIT_PREFIX = "IN_TRANSIT:"


@overload
def transit_warehouse(company: str) -> str: ...
@overload
def transit_warehouse(company: pl.Expr) -> pl.Expr: ...
def transit_warehouse(company: str | pl.Expr) -> str | pl.Expr:
    """The company's in-transit location (issue 3: `IN_TRANSIT:<company>`)."""
    if isinstance(company, str):
        return f"{TRANSIT_PREFIX}{company}"
    return pl.concat_str(pl.lit(TRANSIT_PREFIX), company)


def is_transit(warehouse: pl.Expr) -> pl.Expr:
    """True where `warehouse` is a company's in-transit location."""
    return warehouse.str.starts_with(TRANSIT_PREFIX)
