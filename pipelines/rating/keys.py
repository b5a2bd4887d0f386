"""Normalised postcodes, as the rating compares them with a card's ranges."""

from __future__ import annotations

from typing import TypeVar

import polars as pl

Postcodes = TypeVar("Postcodes", pl.Expr, pl.Series)


def normalise_postcode_expr(expr: Postcodes) -> Postcodes:
    """The Polars twin of `cards.normalise_postcode`: upper, no spaces or dashes (of an
    expression, or of a series of only the postcodes that need it)."""
    return expr.str.to_uppercase().str.replace_all(r"[\s\-]", "")
