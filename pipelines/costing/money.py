"""Integer cents inside the engine, Decimal(18, 2) at its boundary (pipelines.contracts.types)."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from pipelines.contracts.types import MONEY


def to_money(cents: str | pl.Expr) -> pl.Expr:
    """Exact Int64 cents -> Decimal(18, 2)."""
    expr = pl.col(cents) if isinstance(cents, str) else cents
    return (expr.cast(pl.Decimal(18, 0)) * pl.lit(Decimal("0.01"))).cast(MONEY)


def to_cents(money: str | pl.Expr) -> pl.Expr:
    """Decimal money (any scale <= 2) -> exact Int64 cents."""
    expr = pl.col(money) if isinstance(money, str) else money
    return (expr.cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64)
