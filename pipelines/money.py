"""Exact money: integer minor units inside the engines, Decimal at their boundaries.

DOMAIN.md ("Costing rules") forbids binary floating point for money. Inside an
engine every figure is an integer in a fixed unit: amounts in cents, weights in
grams, prices in 1/10000 of the currency unit ("price units"), percentages in
1/10000 of a percent. Rounding to the cent is round-half-up and lives here once,
for costing, rating, reconciliation and the parsers alike, so the set-based
engines and the row-by-row references agree to the cent.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import overload

import numpy as np
import polars as pl
import pyarrow as pa

from pipelines.contracts import types as t
from pipelines.frames import largest_int

PRICE_SCALE = 10_000
"""Price units per currency unit (prices carry up to 4 decimal places)."""
PRICE_UNITS_PER_CENT = PRICE_SCALE // 100
PERCENT_SCALE = 10_000
"""Percent units per percent (a fuel surcharge of 12.3456% is 123456)."""
GRAMS_PER_KG = 1000


@overload
def div_half_up(num: int, den: int) -> int: ...
@overload
def div_half_up(num: pl.Expr, den: int | pl.Expr) -> pl.Expr: ...
def div_half_up(num: int | pl.Expr, den: int | pl.Expr) -> int | pl.Expr:
    """`num / den` rounded half-up, for non-negative `num` and positive `den`: on
    expressions for the engines, on plain integers for a constant (a fee from a card).

    Polars' own Decimal rounding is half-to-even; DOMAIN rounding is half-up.
    """
    return (2 * num + den) // (2 * den)


def div_half_away(num: pl.Expr, den: int) -> pl.Expr:
    """`num / den` rounded half away from zero, for a signed `num` and positive `den`:
    the magnitude is rounded half-up and the sign kept, so a credit mirrors its charge
    to the cent (a converted refund, a negative billed weight). The sign is applied as
    `0 - magnitude`: Polars has no negation for Int128, the type exact FX products use."""
    magnitude = div_half_up(num.abs(), den)
    return pl.when(num < 0).then(pl.lit(0) - magnitude).otherwise(magnitude)


def div_ceil(num: pl.Expr, den: int | pl.Expr) -> pl.Expr:
    """`num / den` rounded up, for non-negative `num` and positive `den`."""
    return (num + den - 1) // den


def cents_to_money(cents: str | pl.Expr) -> pl.Expr:
    """Integer cents (a column name or an expression) as a MONEY decimal (exact)."""
    expr = pl.col(cents) if isinstance(cents, str) else cents
    return (expr.cast(pl.Decimal(38, 2)) / 100).cast(t.MONEY)


def units_of(value: pl.Expr, scale: int) -> pl.Expr:
    """A decimal with `scale` places as the integer count of its last place (cents of
    a 2-place amount, grams of a 3-place weight): the decimal's own unscaled integer,
    read without arithmetic (the inverse of `decimal_from_units`)."""
    return value.cast(pl.Decimal(38, scale)).to_physical().cast(pl.Int64)


def money_to_cents(amount: str | pl.Expr) -> pl.Expr:
    """A decimal amount of at most 2 places (a column name or an expression) as integer
    cents (exact)."""
    expr = pl.col(amount) if isinstance(amount, str) else amount
    return units_of(expr, 2)


def kg_to_grams(kg: pl.Expr) -> pl.Expr:
    """A 3-place decimal weight in kg as integer grams (exact)."""
    return units_of(kg, 3)


def price_units(value: Decimal) -> int:
    """A price with up to 4 decimals as integer price units; refuses more places."""
    scaled = value * PRICE_SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than 4 decimal places")
    return int(scaled)


def percent_units(value: Decimal) -> int:
    scaled = value * PERCENT_SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than 4 decimal places")
    return int(scaled)


def grams(value: Decimal) -> int:
    """A weight in kg with up to 3 decimals as integer grams; refuses more places."""
    scaled = value * GRAMS_PER_KG
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} kg is finer than a gram")
    return int(scaled)


def round_cents(value: Decimal) -> Decimal:
    """Round-half-up to the cent (the Python-side twin of `div_half_up`)."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def ceil_to(value: Decimal, step: Decimal) -> Decimal:
    """Round `value` up to a multiple of `step`."""
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def decimal_from_units(units: pl.Series, dtype: pl.Decimal) -> pl.Series:
    """Integer minor units (cents for MONEY, grams for WEIGHT_KG, ...) as a decimal
    of `dtype`, whose scale says what one unit is.

    Exact and cheap: a Decimal128 value *is* its unscaled integer, so the integers
    are laid out as 128-bit words (sign-extended) under the Arrow decimal type
    instead of being multiplied up and divided down again, which costs Polars a
    128-bit division per value on every output column of a million-row rating.
    """
    ints = units.cast(pl.Int64).rechunk()
    precision = dtype.precision or 38
    largest = largest_int(ints.abs())
    if largest is not None and precision < 19 and largest >= 10**precision:
        raise ValueError(f"{units.name}: {largest} units do not fit {dtype} ({precision} digits)")
    arrow = ints.to_arrow()
    if arrow.null_count:
        values = ints.fill_null(0).to_numpy()
    else:
        values = arrow.to_numpy(zero_copy_only=False)
    # the high words of non-negative values (amounts, weights: nearly every column)
    # are the zeros the allocation starts with; only a column with a negative value
    # takes a second pass, with no temporary array
    words = np.zeros(2 * len(values), dtype=np.int64)
    words[0::2] = values
    if len(values) and values.min() < 0:
        np.right_shift(values, 63, out=words[1::2])
    validity = arrow.buffers()[0] if arrow.null_count else None
    if validity is not None and arrow.offset:  # a bitmap that does not start at bit 0
        validity = pa.array(arrow.is_valid().to_numpy(zero_copy_only=False)).buffers()[1]
    decimal = pa.Array.from_buffers(
        pa.decimal128(precision, dtype.scale),
        len(values),
        [validity, pa.py_buffer(words.data)],
        null_count=arrow.null_count,
    )
    return pl.Series(units.name, decimal, dtype=dtype)
