"""Normalised keys shared by rating and reconciliation."""

from __future__ import annotations

import polars as pl


def normalise_tracking(expr: pl.Expr) -> pl.Expr:
    """Upper case, without spaces, dashes or other punctuation (BILL_LINES.tracking_number).

    Shipments and bills print the same tracking number differently
    ("1z 999-aa1..." vs "1Z999AA1..."); matching compares this form only.
    """
    return expr.str.to_uppercase().str.replace_all(r"[^0-9A-Z]", "")


def with_normalised_tracking(frame: pl.DataFrame, column: str = "tracking_number") -> pl.DataFrame:
    """`frame` with `column` normalised; returned as is (no copy, no second regex pass)
    when every value is already normal, as after an earlier normalisation."""
    if frame.is_empty() or not frame.select(pl.col(column).str.contains(r"[^0-9A-Z]").any()).item():
        return frame
    return frame.with_columns(normalise_tracking(pl.col(column)))


def normalise_postcode_expr(expr: pl.Expr) -> pl.Expr:
    """The Polars twin of `cards.normalise_postcode`: upper, no spaces or dashes."""
    return expr.str.to_uppercase().str.replace_all(r"[\s\-]", "")
