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


def _check_frame(
    frame: pl.DataFrame, columns: tuple[str, ...], nullable: frozenset[str], what: str
):
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BillWriteError(f"{what}: missing column(s) {missing}; expected {list(columns)}")
    for name, scale in DECIMAL_COLUMNS.items():
        if name in frame.columns:
            dtype = frame.schema[name]
            if not isinstance(dtype, pl.Decimal) or dtype.scale != scale:
                raise BillWriteError(
                    f"{what}: column {name!r} must be Decimal with scale {scale} "
                    f"(exact money/weight, never float), got {dtype}"
                )
    for name in columns:
        if name in nullable:
            continue
        nulls = frame.get_column(name).null_count()
        if nulls:
            first = frame.with_row_index("_row").filter(pl.col(name).is_null())["_row"][0]
            raise BillWriteError(
                f"{what}: column {name!r} has {nulls} null value(s), first at row {first}"
            )


def validate(carrier: str, headers: pl.DataFrame, lines: pl.DataFrame) -> None:
    """Refuse bills that a writer could not round-trip, naming the row and the reason."""
    _check_frame(headers, HEADER_COLUMNS, NULLABLE_HEADER_COLUMNS, f"{carrier} bill headers")
    _check_frame(lines, LINE_COLUMNS, NULLABLE_LINE_COLUMNS, f"{carrier} bill lines")
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


def write_atomically(path: Path, data: bytes) -> None:
    """Readers (the inbox sensor) never see a half-written bill."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
