"""Normalised postcodes, as the rating compares them with a card's ranges."""

from __future__ import annotations

import polars as pl


def normalise_postcode_expr(expr: pl.Expr) -> pl.Expr:
    """The Polars twin of `cards.normalise_postcode`: upper, no spaces or dashes."""
    return expr.str.to_uppercase().str.replace_all(r"[\s\-]", "")
