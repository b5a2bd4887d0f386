"""Reference tables of the demo business: companies, warehouses, SKUs and daily FX rates.

Values are drawn as integers in minor units (grams, millimetres, fen, 1e-8 of a
rate) and turned into the contracts' exact decimals only at the edge, so no
money or measure ever passes through binary floating point on its way to a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from demo.world import COMPANIES, WAREHOUSES
from pipelines.contracts import inputs as contracts
from pipelines.contracts import types as t


def scaled_decimal(values: pl.Expr, scale: int, dtype: pl.Decimal) -> pl.Expr:
    """Integer minor units as an exact decimal: 12345 with scale 3 is 12.345."""
    return (values.cast(pl.Decimal(38, scale)) / 10**scale).cast(dtype)


@dataclass(frozen=True)
class Catalogue:
    """The SKUs with the hidden attributes the simulation needs (supplier, cost, popularity)."""

    sku: np.ndarray
    weight_g: np.ndarray
    length_mm: np.ndarray
    width_mm: np.ndarray
    height_mm: np.ndarray
    cost_fen: np.ndarray
    """Purchase price in CNY fen (1/100 yuan) before per-delivery variation."""
    supplier: np.ndarray
    popularity: np.ndarray
    """Relative demand weight (Zipf-like: a few best sellers, a long tail)."""

    @property
    def size(self) -> int:
        return len(self.sku)


def build_catalogue(rng: np.random.Generator, n_skus: int) -> Catalogue:
    weight_g = np.clip(np.round(rng.lognormal(np.log(350), 0.9, n_skus)), 20, 15000).astype(
        np.int64
    )
    # Dimensions follow the weight through a density spread, so heavy SKUs are also big.
    volume_cm3 = weight_g / rng.uniform(0.12, 0.6, n_skus)
    side = np.cbrt(volume_cm3)
    length_mm = np.clip(np.round(side * rng.uniform(1.1, 1.8, n_skus) * 10), 20, 1200)
    width_mm = np.clip(np.round(side * rng.uniform(0.7, 1.1, n_skus) * 10), 20, 800)
    height_mm = np.clip(np.round(volume_cm3 * 1000 / (length_mm * width_mm)), 5, 800)
    cost_fen = np.clip(np.round(rng.lognormal(np.log(3500), 0.8, n_skus)), 200, 500000)
    ranks = rng.permutation(n_skus) + 1
    return Catalogue(
        sku=np.char.add("SKU", np.char.zfill(np.arange(1, n_skus + 1).astype(str), 6)),
        weight_g=weight_g,
        length_mm=length_mm.astype(np.int64),
        width_mm=width_mm.astype(np.int64),
        height_mm=height_mm.astype(np.int64),
        cost_fen=cost_fen.astype(np.int64),
        supplier=rng.integers(0, max(20, n_skus // 40), n_skus),
        popularity=1.0 / ranks**0.9,
    )


def companies_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {"company": [c for c, _ in COMPANIES], "functional_currency": [f for _, f in COMPANIES]},
        schema=contracts.COMPANIES.schema,
    )


def warehouses_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "warehouse": [w.code for w in WAREHOUSES],
            "company": [w.company for w in WAREHOUSES],
            "country": [w.country for w in WAREHOUSES],
            "kind": [w.kind for w in WAREHOUSES],
        },
        schema=contracts.WAREHOUSES.schema,
    )


def skus_frame(catalogue: Catalogue) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "sku": catalogue.sku,
            "weight_g": catalogue.weight_g,
            "length_mm": catalogue.length_mm,
            "width_mm": catalogue.width_mm,
            "height_mm": catalogue.height_mm,
        }
    )
    return frame.select(
        "sku",
        scaled_decimal(pl.col("weight_g"), 3, t.WEIGHT_KG).alias("weight_kg"),
        scaled_decimal(pl.col("length_mm"), 1, t.LENGTH_CM).alias("length_cm"),
        scaled_decimal(pl.col("width_mm"), 1, t.LENGTH_CM).alias("width_cm"),
        scaled_decimal(pl.col("height_mm"), 1, t.LENGTH_CM).alias("height_cm"),
    )


@dataclass(frozen=True)
class FxPath:
    """Daily rates in 1e-8 units, one array per pair, indexed by day offset from `start`."""

    start: date
    usd_cny: np.ndarray
    eur_usd: np.ndarray


def build_fx_path(rng: np.random.Generator, start: date, days: int) -> FxPath:
    """USD/CNY and EUR/USD as random walks around today's levels (about 7.10 and 1.085)."""
    usd_cny = 7.10 * np.exp(np.cumsum(rng.normal(0, 0.0015, days)))
    eur_usd = 1.085 * np.exp(np.cumsum(rng.normal(0, 0.003, days)))
    return FxPath(
        start=start,
        usd_cny=np.round(usd_cny * 1e8).astype(np.int64),
        eur_usd=np.round(eur_usd * 1e8).astype(np.int64),
    )


def fx_frame(path: FxPath) -> pl.DataFrame:
    """Every day: CNY, USD and EUR into both functional currencies (identity rows included).

    Cross rates are derived from the two drawn pairs and rounded to the
    contract's 8 places, as a treasury feed would publish them.
    """
    days = len(path.usd_cny)
    usd_cny = path.usd_cny.astype(np.float64) / 1e8
    eur_usd = path.eur_usd.astype(np.float64) / 1e8
    one = np.full(days, 10**8, dtype=np.int64)
    pairs = {
        ("USD", "CNY"): path.usd_cny,
        ("EUR", "CNY"): np.round(eur_usd * usd_cny * 1e8).astype(np.int64),
        ("CNY", "CNY"): one,
        ("CNY", "USD"): np.round(1e8 / usd_cny).astype(np.int64),
        ("EUR", "USD"): path.eur_usd,
        ("USD", "USD"): one,
    }
    dates = [path.start + timedelta(days=i) for i in range(days)]
    parts = [
        pl.DataFrame({"rate_date": dates, "currency": src, "to_currency": dst, "rate_units": units})
        for (src, dst), units in pairs.items()
    ]
    frame = pl.concat(parts).sort("rate_date", "currency", "to_currency")
    return frame.select(
        pl.col("rate_date").cast(pl.Date),
        "currency",
        "to_currency",
        scaled_decimal(pl.col("rate_units"), 8, t.FX_RATE).alias("rate"),
    )
