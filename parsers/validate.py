"""Validate canonical bill frames against the contracts before anything downstream sees them.

A parse that "worked" can still be wrong: a missing or empty required value (an
empty currency is never valid, whatever the parser), a charge
type outside the vocabulary, or a stated total the lines do not add up to. Each
is an error of *that file* (issue 4: a bill whose lines do not foot is
quarantined), reported with the line's locator so a person can find it.
"""

from __future__ import annotations

import polars as pl

from parsers.model import BillParseError, ParseResult
from pipelines.contracts.bills import BILL_HEADERS, BILL_LINES
from pipelines.contracts.spec import TableContract


def _check_table(frame: pl.DataFrame, contract: TableContract) -> None:
    if frame.schema != contract.schema:
        got = dict(frame.schema)
        diff = [
            f"{c.name}: want {c.dtype}, got {got.get(c.name, 'missing')}"
            for c in contract.columns
            if got.get(c.name) != c.dtype
        ]
        raise BillParseError(
            "contract", f"{contract.name} does not match its contract: {'; '.join(diff)}"
        )
    where = frame["locator"] if "locator" in frame.columns else frame["bill_number"]
    for column in contract.columns:
        series = frame[column.name]
        problems: list[tuple[pl.Series, str]] = []
        if column.required:
            problems.append((series.is_null(), "is missing"))
            if series.dtype == pl.String:
                problems.append((series.str.strip_chars() == "", "is empty"))
        if column.name == "currency":
            problems.append(
                (series.is_not_null() & ~series.str.contains(r"^[A-Z]{3}$"), "is not an ISO code")
            )
        if column.enum:
            problems.append(
                (series.is_not_null() & ~series.is_in(column.enum), f"is not one of {column.enum}")
            )
        if column.positive:
            problems.append((series.is_not_null() & (series <= 0), "must be > 0"))
        if column.non_negative:
            problems.append((series.is_not_null() & (series < 0), "must be >= 0"))
        for mask, what in problems:
            if mask.any():
                i = int(mask.arg_true()[0])
                raise BillParseError(
                    "invalid_value",
                    f"{contract.name}.{column.name} {what} "
                    f"(value {series[i]!r}; {int(mask.sum())} rows)",
                    str(where[i]),
                )
    if contract.key:
        dup = frame.select(contract.key).is_duplicated()
        if dup.any():
            i = int(dup.arg_true()[0])
            raise BillParseError(
                "duplicate_key", f"{contract.name} key {contract.key} repeats", str(where[i])
            )


def not_footing(headers: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """The bills (header rows, with their lines' `sum` and count `n`) whose stated total
    the lines do not add up to; a bill without lines sums to 0. Issue 4: such a bill is
    quarantined when parsed, and the `bill_lines` asset checks it again over a batch."""
    key = list(BILL_HEADERS.key)
    sums = lines.group_by(key).agg(pl.col("amount").sum().alias("sum"), pl.len().alias("n"))
    return (
        headers.join(sums, on=key, how="left", maintain_order="left")
        .with_columns(pl.col("sum").fill_null(0), pl.col("n").fill_null(0))
        .filter(pl.col("stated_total").is_not_null() & (pl.col("stated_total") != pl.col("sum")))
    )


def validate(result: ParseResult) -> None:
    """Raise BillParseError for the first contract breach or a bill that does not foot."""
    _check_table(result.headers, BILL_HEADERS)
    _check_table(result.lines, BILL_LINES)
    unbalanced = not_footing(result.headers, result.lines)
    if unbalanced.height:
        row = unbalanced.row(0, named=True)
        difference = row["stated_total"] - row["sum"]
        raise BillParseError(
            "totals_mismatch",
            f"bill {row['bill_number']}: lines sum to {row['sum']} but the bill states "
            f"{row['stated_total']} (difference {difference}, {row['n']} lines)",
            f"bill={row['bill_number']}",
        )
