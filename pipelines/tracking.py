"""Tracking numbers in the one form matching compares (DOMAIN.md, "Bill reconciliation":
each line is matched to our shipment by tracking number, normalised).

Shipments and bills print the same tracking number differently ("1z 999-aa1..." vs
"1Z999AA1..."): the parsers store the normal form on every bill line
(BILL_LINES.tracking_number), the rating on every shipment, and the reconciliation
normalises whatever it is given again, all with this module.
"""

from __future__ import annotations

import re

import polars as pl

NOT_IN_TRACKING = r"[^0-9A-Z]"
"""What the normal form drops once upper-cased: spaces, dashes, any other punctuation."""


def normalise_tracking(expr: pl.Expr) -> pl.Expr:
    """Upper case, only letters and digits: '1z 999-aa1' and '1Z999AA1' match."""
    return expr.str.to_uppercase().str.replace_all(NOT_IN_TRACKING, "")


def with_normalised_tracking(frame: pl.DataFrame, column: str = "tracking_number") -> pl.DataFrame:
    """`frame` with `column` normalised; returned as is (no copy, no second regex pass)
    when every value is already normal, as after an earlier normalisation."""
    if (
        frame.is_empty()
        or not frame.select(pl.col(column).str.contains(NOT_IN_TRACKING).any()).item()
    ):
        return frame
    return frame.with_columns(normalise_tracking(pl.col(column)))


def normal_tracking(value: str) -> str:
    """`normalise_tracking` of one value, for the row-by-row references."""
    return re.sub(NOT_IN_TRACKING, "", value.upper())
