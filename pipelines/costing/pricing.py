"""Functional-currency value of a priced document: quantity x unit cost x fx, to the cent.

DOMAIN.md "Costing rules": money is exact, converted to the company's functional
currency with the daily FX rate of the document date. A receipt (any priced inbound, a
landed cost) is rounded half-up to the cent once, in
exact integers: unit costs carry 6 places and rates 8, so the product is an integer
of 10^-14 currency units, exact in Int128.
"""

from __future__ import annotations

import polars as pl

from pipelines.money import div_half_up

FX_SCALE = 10**8
UNIT_COST_SCALE = 10**6
RATE_KEY = ["day", "currency", "functional_currency"]


def priced_cents(quantity: pl.Expr, unit_cost: pl.Expr, rate: pl.Expr) -> pl.Expr:
    """round_half_up(quantity x unit_cost x rate, 2) exactly, in integer cents (Int128)."""
    unit = (unit_cost.cast(pl.Decimal(38, 6)) * UNIT_COST_SCALE).cast(pl.Int128)
    fx = (rate.cast(pl.Decimal(38, 8)) * FX_SCALE).cast(pl.Int128)
    scaled = quantity.cast(pl.Int128) * unit * fx
    return div_half_up(scaled, UNIT_COST_SCALE * FX_SCALE // 100).cast(pl.Int64)


def rates_by_day(fx_rates: pl.DataFrame) -> pl.DataFrame:
    """The fx_rates contract keyed as documents look rates up: day, currency, functional."""
    return fx_rates.select(
        pl.col("rate_date").alias("day"),
        "currency",
        pl.col("to_currency").alias("functional_currency"),
        "rate",
    ).unique(RATE_KEY)


def with_rate(frame: pl.DataFrame, rates: pl.DataFrame) -> pl.DataFrame:
    """`frame` (day, currency, functional_currency) + `rate`: 1 in its own currency, else
    the rate of that day (null where there is none; the caller refuses or flags it)."""
    return frame.join(rates, on=RATE_KEY, how="left").with_columns(
        pl.when(pl.col("currency") == pl.col("functional_currency"))
        .then(pl.lit(1, pl.Decimal(18, 8)))
        .otherwise(pl.col("rate"))
        .alias("rate")
    )
