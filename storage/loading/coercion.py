"""Turn stored values into contract types, and say why a value does not fit.

Each column becomes a parsed value plus a reason (null when fine). Decimals are
checked against their scale before casting, because Polars would otherwise
round 1.005 into a 2-place column without a word, and money must be exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
from polars.expr.whenthen import ChainedThen, Then

from pipelines.contracts.spec import Column

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum)


def reason_column(name: str) -> str:
    return f"__reason__{name}"


def coerce_column(source: pl.DataType, column: Column) -> tuple[pl.Expr, pl.Expr]:
    """(parsed value, reason it failed) for one column of a file."""
    raw = pl.col(column.name)
    if isinstance(source, TEXT_TYPES):
        text = raw.cast(pl.String).str.strip_chars()
        text = pl.when(text == "").then(None).otherwise(text)
        parsed, fmt_ok, expected = _parse_text(text, column.dtype)
        present = text.is_not_null()
        shown = text
    else:
        parsed, fmt_ok, expected = _cast_native(raw, source, column.dtype)
        present = raw.is_not_null()
        shown = raw.cast(pl.String)

    failed = present & (~fmt_ok | parsed.is_null())
    checks: list[tuple[pl.Expr, pl.Expr | str]] = []
    if column.required:
        checks.append((~present, "required value is missing"))
    checks.append((failed, pl.format("'{}' is not {}", shown, pl.lit(expected))))
    if column.enum is not None:
        checks.append(
            (
                present & ~parsed.is_in(list(column.enum)),
                pl.format("'{}' is not one of {}", shown, pl.lit(", ".join(column.enum))),
            )
        )
    if column.positive:
        checks.append((parsed <= 0, pl.format("{} must be greater than 0", shown)))
    if column.non_negative:
        checks.append((parsed < 0, pl.format("{} must not be negative", shown)))

    chain: Then | ChainedThen = pl.when(checks[0][0]).then(_as_expr(checks[0][1]))
    for cond, why in checks[1:]:
        chain = chain.when(cond.fill_null(False)).then(_as_expr(why))
    reason = chain.otherwise(None)
    return parsed.alias(column.name), reason.alias(reason_column(column.name))


def _as_expr(value: pl.Expr | str) -> pl.Expr:
    return pl.lit(value) if isinstance(value, str) else value


def _parse_text(text: pl.Expr, dtype: PolarsDataType) -> tuple[pl.Expr, pl.Expr, str]:
    """Parse text strictly: returns (value, format ok, description of what was expected)."""
    if isinstance(dtype, pl.Decimal):
        whole = dtype.precision - dtype.scale
        pattern = rf"^[+-]?\d{{1,{whole}}}(\.\d{{1,{dtype.scale}}})?$"
        if dtype.scale == 0:
            pattern = rf"^[+-]?\d{{1,{whole}}}$"
        expected = f"a decimal number with at most {dtype.scale} decimal places"
        return text.cast(dtype, strict=False), text.str.contains(pattern), expected
    if dtype == pl.Int64:
        ok = text.str.contains(r"^[+-]?\d{1,18}$")
        return text.cast(pl.Int64, strict=False), ok, "a whole number"
    if dtype == pl.Date:
        ok = text.str.contains(r"^\d{4}-\d{2}-\d{2}$")
        return text.str.to_date("%Y-%m-%d", strict=False), ok, "a date (YYYY-MM-DD)"
    if isinstance(dtype, pl.Datetime):
        ok = text.str.contains(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?$")
        value = text.str.to_datetime(time_unit=dtype.time_unit or "us", strict=False)
        return value, ok, "a timestamp (YYYY-MM-DD HH:MM:SS)"
    if dtype == pl.String:
        return text, pl.lit(True), "text"
    raise TypeError(f"no text parser for {dtype}")


def _cast_native(
    raw: pl.Expr, source: pl.DataType, dtype: PolarsDataType
) -> tuple[pl.Expr, pl.Expr, str]:
    """Cast a typed (Parquet) column; binary floats are refused for exact types."""
    if source.is_float() and (isinstance(dtype, pl.Decimal) or dtype.is_integer()):
        # Never accept binary floating point where the contract is exact (money, quantities).
        return raw.cast(dtype, strict=False), pl.lit(False), f"{dtype} (stored as binary float)"
    narrowing = isinstance(source, pl.Decimal) and (source.scale or 0) > getattr(dtype, "scale", 0)
    if isinstance(dtype, pl.Decimal) and narrowing:
        value = raw.cast(dtype, strict=False)
        fits = value.cast(source, strict=False) == raw
        return value, fits, f"a decimal with at most {dtype.scale} places"
    if isinstance(dtype, pl.Datetime) and source == pl.Date:
        return raw.cast(dtype), pl.lit(True), "a timestamp"
    return raw.cast(dtype, strict=False), pl.lit(True), str(dtype)
