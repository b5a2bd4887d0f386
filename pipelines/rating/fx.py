"""Functional-currency conversion of expected charges (DOMAIN.md, "Costing rules").

Money is converted "with the daily FX rate of the document date"; for a
shipment that is its ship date. Rates are not published on every day, so the
latest rate on or before the date is used (an as-of join). A currency pair
with no rate on or before a date is bad input and raises, naming the pair and
the date, instead of leaving a silent gap.
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts import types as t
from pipelines.money import div_half_up

FX_SCALE = 100_000_000


class MissingFxRate(ValueError):
    """No rate on or before a date for a currency pair that needs one."""


def attach_fx(
    frame: pl.DataFrame, fx_rates: pl.DataFrame, companies: pl.DataFrame, date_col: str
) -> pl.DataFrame:
    """functional_currency (of `company`), fx_rate and its integer twin `_fx_u`, row-aligned
    with `frame` (columns currency, company and `date_col`).

    Looked up once per distinct (currency, company, day), then joined back.
    """
    functional = companies.select("company", "functional_currency")
    combos = (
        frame.select("currency", "company", date_col)
        .unique()
        .join(functional, on="company", how="left")
    )
    rates = fx_rates.select(
        pl.col("rate_date"),
        pl.col("currency"),
        pl.col("to_currency").alias("functional_currency"),
        pl.col("rate").cast(t.FX_RATE).alias("_rate"),
    ).sort("rate_date")
    looked_up = (
        combos.sort(date_col)
        .join_asof(
            rates,
            left_on=date_col,
            right_on="rate_date",
            by=["currency", "functional_currency"],
            strategy="backward",
            check_sortedness=False,
        )
        .with_columns(
            fx_rate=pl.when(pl.col("currency") == pl.col("functional_currency"))
            .then(pl.lit(1).cast(t.FX_RATE))
            .otherwise(pl.col("_rate"))
        )
        .with_columns(_fx_u=(pl.col("fx_rate").cast(pl.Decimal(38, 8)) * FX_SCALE).cast(pl.Int128))
        .drop("_rate", "rate_date")
    )
    needs = looked_up.filter(pl.col("currency").is_not_null())
    no_company = needs.filter(pl.col("functional_currency").is_null())
    if no_company.height:
        raise MissingFxRate(
            "companies has no functional currency for "
            + ", ".join(sorted(set(no_company["company"].cast(pl.String).fill_null("(null)"))))
        )
    missing = needs.filter(pl.col("fx_rate").is_null())
    if missing.height:
        first = (
            missing.group_by("currency", "functional_currency")
            .agg(pl.col(date_col).min())
            .sort("currency", "functional_currency")
        )
        pairs = "; ".join(f"{c}->{f} on {d}" for c, f, d in first.iter_rows())
        raise MissingFxRate(f"fx_rates has no rate on or before: {pairs}")
    return frame.select("currency", "company", date_col).join(
        looked_up,
        on=["currency", "company", date_col],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )


def functional_cents(cents: pl.Expr, *, fits_int64: bool = False) -> pl.Expr:
    """Cents × the row's fx rate (`_fx_u`), rounded half away from zero, as Int64 cents.

    `fits_int64`: the caller checked that 2 × |cents| × `_fx_u` + FX_SCALE stays below
    2**63 (`int64_is_enough`), so the product is done in Int64, about 3× faster than
    Int128 on a million rows and exactly as exact.
    """
    if fits_int64:
        narrow = cents.cast(pl.Int64)
        fx = pl.col("_fx_u").cast(pl.Int64)
        magnitude = div_half_up(narrow.abs() * fx, FX_SCALE)
        return pl.when(narrow < 0).then(-magnitude).otherwise(magnitude)
    wide = cents.cast(pl.Int128)
    magnitude = div_half_up(wide.abs() * pl.col("_fx_u"), FX_SCALE).cast(pl.Int64)
    return pl.when(wide < 0).then(-magnitude).otherwise(magnitude)


def int64_is_enough(max_abs_cents: int | None, max_fx_u: int | None) -> bool:
    """Whether `functional_cents(..., fits_int64=True)` cannot overflow for these bounds."""
    if max_abs_cents is None or max_fx_u is None:
        return True
    return 2 * max_abs_cents * max_fx_u + FX_SCALE < 2**63


def to_functional(frame: pl.LazyFrame, cents_col: str, out_col: str) -> pl.LazyFrame:
    """`cents_col` × fx rate (`_fx_u`), rounded half-up to the cent, as MONEY in `out_col`.

    Amounts may be negative (credits); the magnitude is rounded and the sign kept,
    i.e. half away from zero, so a credit mirrors its charge exactly.
    """
    cents = pl.col(cents_col).cast(pl.Int128)
    magnitude = div_half_up(cents.abs() * pl.col("_fx_u"), FX_SCALE).cast(pl.Decimal(38, 2))
    zero = pl.lit(0).cast(pl.Decimal(38, 2))
    signed = pl.when(cents < 0).then(zero - magnitude).otherwise(magnitude)
    return frame.with_columns((signed / 100).cast(t.MONEY).alias(out_col))
