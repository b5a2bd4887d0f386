"""Set-based chargeable weight and freight price for any (contract, zone, weight).

Used twice: by `rate_shipments` at our own chargeable weight, and by the
reconciliation at the carrier's billed weight ("rate mismatch: amount differs
from the contract price for the billed weight and zone", DOMAIN.md). Prices
come from joins (express by zone; per-kg bands and weight breaks by an as-of
join on the band's upper bound), steps by integer arithmetic, never a loop.
"""

from __future__ import annotations

import polars as pl

from pipelines.money import PRICE_UNITS_PER_CENT, div_ceil, div_half_up
from pipelines.rating.tables import RateCardTables


def chargeable_grams(weight_g: pl.Expr, min_weight_g: pl.Expr, increment_g: pl.Expr) -> pl.Expr:
    """max(weight, minimum billable weight) rounded up to the contract's increment."""
    return div_ceil(pl.max_horizontal(weight_g, min_weight_g), increment_g) * increment_g


def volumetric_grams(
    length_mm: pl.Expr, width_mm: pl.Expr, height_mm: pl.Expr, parcels: pl.Expr, divisor: pl.Expr
) -> pl.Expr:
    """Volumetric weight in grams, rounded up: parcels × L×W×H / divisor.

    Dimensions come in tenths of a centimetre (LENGTH_CM has one decimal), so
    their product is in 1/1000 cm³ and dividing by the divisor (cm³ per kg)
    gives grams directly. No divisor: 0 (the contract bills actual weight).
    """
    volume = length_mm * width_mm * height_mm * parcels
    return pl.when(divisor.is_null()).then(0).otherwise(div_ceil(volume, divisor))


_WORK_COLUMNS = (
    "_w", "first_g", "step_g", "first_u", "additional_u",
    "_band_up_to_g", "_per_kg_u", "_reg_u", "_break_up_to_g", "_break_u",
)  # fmt: skip
"""The rate-card columns `_with_rate_rows` joins on, dropped once the price is taken."""


def price_freight(frame: pl.LazyFrame, tables: RateCardTables, weight_col: str) -> pl.LazyFrame:
    """Add freight_c, registration_c and the price evidence for `weight_col` grams.

    `frame` needs card_key, shape, zone, parcels, min_charge_u and the weight
    column (already chargeable: minimum weight and increment applied). Adds:
    freight_c / registration_c (cents), registration_u (the per-parcel fee in price
    units, 0 unless PER_KG, so a caller can price once per weight and multiply by
    each shipment's parcels), rate_price_u / rate_additional_u /
    rate_step_g / rate_band_up_to_g (which contract row priced it), and
    price_error (why no price exists, else null).
    """
    priced = _with_rate_rows(frame, tables, weight_col)
    shape = pl.col("shape")
    raw_c = _shape_cents(shape)
    min_c = div_half_up(pl.col("min_charge_u"), PRICE_UNITS_PER_CENT)
    kg = (pl.col("_w").cast(pl.Decimal(38, 3)) / 1000).cast(pl.String)
    no_price = (
        pl.when(shape == "EXPRESS")
        .then(pl.format("no express price for zone {}", pl.col("zone")))
        .otherwise(pl.format("{} kg is above the last weight band of zone {}", kg, pl.col("zone")))
    )
    return priced.with_columns(
        freight_c=pl.max_horizontal(raw_c, min_c).cast(pl.Int64),
        registration_c=pl.when(shape == "PER_KG")
        .then(div_half_up(pl.col("_reg_u") * pl.col("parcels"), PRICE_UNITS_PER_CENT))
        .otherwise(0)
        .cast(pl.Int64),
        registration_u=pl.when(shape == "PER_KG").then(pl.col("_reg_u")).otherwise(0),
        rate_price_u=pl.when(shape == "EXPRESS")
        .then(pl.col("first_u"))
        .when(shape == "PER_KG")
        .then(pl.col("_per_kg_u"))
        .otherwise(pl.col("_break_u")),
        rate_additional_u=pl.when(shape == "EXPRESS").then(pl.col("additional_u")),
        rate_step_g=pl.when(shape == "EXPRESS").then(pl.col("step_g")),
        rate_band_up_to_g=pl.when(shape == "PER_KG")
        .then(pl.col("_band_up_to_g"))
        .when(shape == "WEIGHT_BREAK")
        .then(pl.col("_break_up_to_g")),
        price_error=pl.when(raw_c.is_null()).then(no_price),
    ).drop(_WORK_COLUMNS)


def _with_rate_rows(frame: pl.LazyFrame, tables: RateCardTables, weight_col: str) -> pl.LazyFrame:
    """Each row with the contract rows that can price it: its zone's express price, and
    the first per-kg band and weight break at or above its weight (as-of joins)."""
    express = tables.express.lazy()
    per_kg = tables.per_kg.lazy().rename(
        {"up_to_g": "_band_up_to_g", "per_kg_u": "_per_kg_u", "registration_u": "_reg_u"}
    )
    breaks = tables.weight_breaks.lazy().rename(
        {"up_to_g": "_break_up_to_g", "price_u": "_break_u"}
    )
    return (
        frame.with_columns(pl.col(weight_col).alias("_w"))
        .join(express, on=["card_key", "zone"], how="left")
        .sort("_w")
        .join_asof(
            per_kg.sort("_band_up_to_g"),
            left_on="_w",
            right_on="_band_up_to_g",
            by=["card_key", "zone"],
            strategy="forward",
            check_sortedness=False,
        )
        .join_asof(
            breaks.sort("_break_up_to_g"),
            left_on="_w",
            right_on="_break_up_to_g",
            by=["card_key", "zone"],
            strategy="forward",
            check_sortedness=False,
        )
    )


def _shape_cents(shape: pl.Expr) -> pl.Expr:
    """The price in cents before the minimum charge, by the card's shape: first step plus
    additional steps (EXPRESS), rate x weight (PER_KG), or the break's price; null when
    no contract row priced it."""
    steps = div_ceil(
        pl.max_horizontal(pl.col("_w") - pl.col("first_g"), pl.lit(0)), pl.col("step_g")
    )
    express_c = div_half_up(
        pl.col("first_u") + steps * pl.col("additional_u"), PRICE_UNITS_PER_CENT
    )
    per_kg_c = div_half_up(pl.col("_per_kg_u") * pl.col("_w"), 1000 * PRICE_UNITS_PER_CENT)
    break_c = div_half_up(pl.col("_break_u"), PRICE_UNITS_PER_CENT)
    return (
        pl.when(shape == "EXPRESS")
        .then(express_c)
        .when(shape == "PER_KG")
        .then(per_kg_c)
        .otherwise(break_c)
    )
