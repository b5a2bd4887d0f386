"""Checks and helpers shared by the demo bill writers.

Bills are the evidence reconciliation argues from (DOMAIN.md, "Bill
reconciliation"), so a writer refuses input it cannot write losslessly
instead of dropping or rounding anything: every canonical line must come back
out of the file it writes, with its exact decimal amount.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path

import polars as pl

from pipelines.contracts.bills import CHARGE_TYPES

HEADER_COLUMNS = (
    "carrier",
    "account",
    "bill_number",
    "bill_date",
    "period_start",
    "period_end",
    "currency",
    "stated_total",
)
LINE_COLUMNS = (
    "carrier",
    "bill_number",
    "line_number",
    "tracking_number",
    "shipment_date",
    "billed_weight_kg",
    "zone",
    "destination_country",
    "charge_type",
    "amount",
)
NULLABLE_LINE_COLUMNS = frozenset({"zone", "shipment_date", "billed_weight_kg"})
NULLABLE_HEADER_COLUMNS = frozenset({"account", "period_start", "period_end"})
DECIMAL_COLUMNS = {"stated_total": 2, "amount": 2, "billed_weight_kg": 3}
SAFE_BILL_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class BillWriteError(ValueError):
    """The bills handed to a writer cannot be written without losing something."""


EXPECTED_TYPES: dict[str, tuple[type[pl.DataType], ...]] = {
    "carrier": (pl.String,),
    "account": (pl.String,),
    "bill_number": (pl.String,),
    "bill_date": (pl.Date,),
    "period_start": (pl.Date,),
    "period_end": (pl.Date,),
    "currency": (pl.String,),
    "line_number": (pl.Int64, pl.Int32, pl.UInt32, pl.UInt64),
    "tracking_number": (pl.String,),
    "shipment_date": (pl.Date,),
    "zone": (pl.String,),
    "destination_country": (pl.String,),
    "charge_type": (pl.String,),
}


def _check_frame(
    frame: pl.DataFrame, columns: tuple[str, ...], nullable: frozenset[str], what: str
) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BillWriteError(f"{what}: missing column(s) {missing}; expected {list(columns)}")
    for name in columns:
        dtype = frame.schema[name]
        if name in nullable and dtype == pl.Null:
            continue  # an all-null optional column is fine whatever its declared type
        if name in DECIMAL_COLUMNS:
            scale = DECIMAL_COLUMNS[name]
            if not isinstance(dtype, pl.Decimal) or dtype.scale != scale:
                raise BillWriteError(
                    f"{what}: column {name!r} must be Decimal with scale {scale} "
                    f"(exact money/weight, never float), got {dtype}"
                )
        elif not isinstance(dtype, EXPECTED_TYPES[name]):
            names = " or ".join(t.__name__ for t in EXPECTED_TYPES[name])
            raise BillWriteError(f"{what}: column {name!r} must be {names}, got {dtype}")
        if name in nullable:
            continue
        nulls = frame.get_column(name).null_count()
        if nulls:
            first = frame.with_row_index("_row").filter(pl.col(name).is_null())["_row"][0]
            raise BillWriteError(
                f"{what}: column {name!r} has {nulls} null value(s), first at row {first}"
            )


NULL_COLUMN_TYPES = {
    "account": pl.String,
    "period_start": pl.Date,
    "period_end": pl.Date,
    "zone": pl.String,
    "shipment_date": pl.Date,
    "billed_weight_kg": pl.Decimal(12, 3),
}


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    """All-null optional columns (dtype Null) given their real type, so writers can format them."""
    return frame.with_columns(
        pl.col(name).cast(dtype)
        for name, dtype in NULL_COLUMN_TYPES.items()
        if name in frame.columns and frame.schema[name] == pl.Null
    )


def validate(
    carrier: str, headers: pl.DataFrame, lines: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Refuse bills that a writer could not round-trip, naming the row and the reason.

    Returns the frames with all-null optional columns typed, ready for the writers.
    """
    _check_frame(headers, HEADER_COLUMNS, NULLABLE_HEADER_COLUMNS, f"{carrier} bill headers")
    _check_frame(lines, LINE_COLUMNS, NULLABLE_LINE_COLUMNS, f"{carrier} bill lines")
    headers, lines = _typed(headers), _typed(lines)
    for what, frame in (("headers", headers), ("lines", lines)):
        wrong = frame.filter(pl.col("carrier") != carrier)
        if wrong.height:
            raise BillWriteError(
                f"{carrier} bill {what}: {wrong.height} row(s) belong to carrier "
                f"{wrong['carrier'][0]!r} (bill {wrong['bill_number'][0]!r})"
            )
    dup_bills = headers.filter(pl.col("bill_number").is_duplicated())
    if dup_bills.height:
        raise BillWriteError(
            f"{carrier} bill headers: bill_number {dup_bills['bill_number'][0]!r} appears twice"
        )
    unsafe = headers.filter(~pl.col("bill_number").str.contains(SAFE_BILL_NUMBER.pattern))
    if unsafe.height:
        raise BillWriteError(
            f"{carrier} bill headers: bill_number {unsafe['bill_number'][0]!r} is not safe as a "
            "file name (letters, digits, '.', '_', '-' only)"
        )
    orphans = lines.join(headers.select("bill_number"), on="bill_number", how="anti")
    if orphans.height:
        raise BillWriteError(
            f"{carrier} bill lines: line {orphans['line_number'][0]} names bill "
            f"{orphans['bill_number'][0]!r}, which has no header row"
        )
    bad_type = lines.filter(~pl.col("charge_type").is_in(list(CHARGE_TYPES)))
    if bad_type.height:
        raise BillWriteError(
            f"{carrier} bill {bad_type['bill_number'][0]!r} line {bad_type['line_number'][0]}: "
            f"charge_type {bad_type['charge_type'][0]!r} is not one of {list(CHARGE_TYPES)}"
        )
    dup_lines = lines.filter(pl.struct("bill_number", "line_number").is_duplicated())
    if dup_lines.height:
        raise BillWriteError(
            f"{carrier} bill {dup_lines['bill_number'][0]!r}: line_number "
            f"{dup_lines['line_number'][0]} appears twice"
        )
    return headers, lines


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as exact text: decimals keep their scale ("12.50"), dates are ISO."""
    return frame.with_columns(pl.all().cast(pl.String))


def bill_lines(lines: pl.DataFrame, bill_number: str) -> pl.DataFrame:
    """The lines of one bill in line-number order (the order the file presents them)."""
    return lines.filter(pl.col("bill_number") == bill_number).sort("line_number")


def carrier_dir(base: Path, carrier: str) -> Path:
    folder = base / carrier
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def fixed_timestamp(day: date) -> datetime:
    """File metadata stamped with the bill date, so a rerun writes identical bytes."""
    return datetime.combine(day, time(0, 0))
