"""Functional currency: the one home of the FX rule (DOMAIN.md, "Costing rules").

Money is in each document's currency, "converted to the company's functional currency
with the daily FX rate of the document date": the company names the functional
currency (COMPANIES), FX_RATES the rate of the day, and a document already in the
functional currency converts at exactly 1. Rating, reconciliation and costing all read
the rate here, so a shipment, its bill and a receipt of the same day agree on it.

Rates are not published on every day, so by default the latest rate on or before the
date is used (an as-of join); `exact_day` asks for the rate of that very day. A
currency pair with no rate is bad input and raises, naming the pair and the date,
instead of leaving a silent gap. Inside the engines the rate is an integer (`_fx_u`,
1/10^8 of a unit) and amounts are rounded to the cent half away from zero, so a
credit mirrors its charge.
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts import types as t
from pipelines.money import cents_to_money, div_half_away

FX_SCALE = 100_000_000
"""FX units per unit of rate (FX_RATE has 8 decimal places)."""


class MissingFxRate(ValueError):
    """No rate on or before a date for a currency pair that needs one."""


def no_functional_currency(companies: pl.Series) -> MissingFxRate:
    """The error for documents of companies COMPANIES does not know (or gives no currency)."""
    names = sorted(set(companies.cast(pl.String).fill_null("(null)")))
    return MissingFxRate("companies has no functional currency for " + ", ".join(names))


def fx_units(rate: pl.Expr) -> pl.Expr:
    """An FX_RATE decimal as integer FX units (`_fx_u`, Int128), exact."""
    return (rate.cast(pl.Decimal(38, 8)) * FX_SCALE).cast(pl.Int128)


def rate_of_day(
    frame: pl.DataFrame, fx_rates: pl.DataFrame, date_col: str, *, exact_day: bool = False
) -> pl.DataFrame:
    """`frame` (columns currency, functional_currency and `date_col`) with `fx_rate`: 1
    where the two currencies are the same, else the rate of the day (`exact_day`) or the
    latest on or before it; null where there is none. One row per row of `frame`, not
    necessarily in its order (the as-of join sorts by date): join the result back on keys.
    """
    rates = fx_rates.select(
        pl.col("rate_date"),
        pl.col("currency"),
        pl.col("to_currency").alias("functional_currency"),
        pl.col("rate").cast(t.FX_RATE).alias("_rate"),
    )
    pair = ["currency", "functional_currency"]
    if exact_day:
        found = frame.join(
            rates.unique(["rate_date", *pair]),
            left_on=[date_col, *pair],
            right_on=["rate_date", *pair],
            how="left",
        )
    else:
        found = (
            frame.sort(date_col)
            .join_asof(
                rates.sort("rate_date"),
                left_on=date_col,
                right_on="rate_date",
                by=pair,
                strategy="backward",
                check_sortedness=False,
            )
            .drop("rate_date")
        )
    return found.with_columns(
        fx_rate=pl.when(pl.col("currency") == pl.col("functional_currency"))
        .then(pl.lit(1).cast(t.FX_RATE))
        .otherwise(pl.col("_rate"))
    ).drop("_rate")


def attach_fx(
    frame: pl.DataFrame, fx_rates: pl.DataFrame, companies: pl.DataFrame, date_col: str
) -> pl.DataFrame:
    """functional_currency (of `company`), fx_rate and its integer twin `_fx_u`, row-aligned
    with `frame` (columns currency, company and `date_col`); the rate is the latest on or
    before the date. Raises MissingFxRate where a company or a rate is missing.

    Looked up once per distinct (currency, company, day), then joined back.
    """
    functional = companies.select("company", "functional_currency")
    combos = (
        frame.select("currency", "company", date_col)
        .unique()
        .join(functional, on="company", how="left")
    )
    looked_up = rate_of_day(combos, fx_rates, date_col).with_columns(
        _fx_u=fx_units(pl.col("fx_rate"))
    )
    needs = looked_up.filter(pl.col("currency").is_not_null())
    no_company = needs.filter(pl.col("functional_currency").is_null())
    if no_company.height:
        raise no_functional_currency(no_company["company"])
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
        return div_half_away(cents.cast(pl.Int64) * pl.col("_fx_u").cast(pl.Int64), FX_SCALE)
    return div_half_away(cents.cast(pl.Int128) * pl.col("_fx_u"), FX_SCALE).cast(pl.Int64)


def int64_is_enough(max_abs_cents: int | None, max_fx_u: int | None) -> bool:
    """Whether `functional_cents(..., fits_int64=True)` cannot overflow for these bounds."""
    if max_abs_cents is None or max_fx_u is None:
        return True
    return 2 * max_abs_cents * max_fx_u + FX_SCALE < 2**63


def to_functional(frame: pl.LazyFrame, cents_col: str, out_col: str) -> pl.LazyFrame:
    """`cents_col` × fx rate (`_fx_u`) as MONEY in `out_col` (`functional_cents`)."""
    return frame.with_columns(cents_to_money(functional_cents(pl.col(cents_col))).alias(out_col))
