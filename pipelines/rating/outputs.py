"""The rating's two output tables, built from the engine's wide integer frame.

SHIPMENT_RATINGS takes the frame's columns, its decimals laid out from integer units;
EXPECTED_CHARGES is the long form, one row per rated shipment and charge type, built
on integers and given its strings once at the end.
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts import types as t
from pipelines.contracts.rating import EXPECTED_CHARGES, SHIPMENT_RATINGS
from pipelines.fx import functional_cents
from pipelines.money import PRICE_UNITS_PER_CENT, decimal_from_units, div_half_up
from pipelines.rating.tables import RateCardTables


def ratings_table(wide: pl.DataFrame) -> pl.DataFrame:
    """SHIPMENT_RATINGS from the wide integer frame: decimals laid out from integer
    units (money.decimal_from_units), strings passed through, nothing re-parsed."""
    units = {
        "expected_total": ("_total_c", t.MONEY, 1),
        "expected_total_functional": ("_total_f_c", t.MONEY, 1),
        "actual_weight_kg": ("actual_g", t.WEIGHT_KG, 1),
        "volumetric_weight_kg": ("volumetric_g", t.WEIGHT_KG, 1),
        "chargeable_weight_kg": ("chargeable_g", t.WEIGHT_KG, 1),
        "fuel_percent": ("fuel_pct_u", t.PERCENT, 1),
        "rate_price": ("rate_price_u", t.UNIT_COST, 100),
        "rate_additional_price": ("rate_additional_u", t.UNIT_COST, 100),
        "rate_step_kg": ("rate_step_g", t.WEIGHT_KG, 1),
        "rate_band_up_to_kg": ("rate_band_up_to_g", t.WEIGHT_KG, 1),
    }
    decimals = {
        name: decimal_from_units(wide[source] * factor, dtype).alias(name)
        for name, (source, dtype, factor) in units.items()
    }
    columns = [
        decimals[name] if name in decimals else wide[name] for name in SHIPMENT_RATINGS.column_names
    ]
    return pl.DataFrame(columns).cast(SHIPMENT_RATINGS.schema)


def charge_parts(tables: RateCardTables) -> dict[str, pl.Expr]:
    """Charge type -> its amount in cents on a shipment row (null or 0: not charged)."""
    cards = {k: i for i, k in enumerate(tables.versions["card_key"])}
    always = tables.accessorials.filter(pl.col("always") & (pl.col("fee_u") > 0))
    fees: dict[str, pl.Expr] = {}
    for card_key, charge_type, fee_u in always.select("card_key", "charge_type", "fee_u").rows():
        fee = pl.when(pl.col("_card") == cards[card_key]).then(
            pl.lit(div_half_up(fee_u, PRICE_UNITS_PER_CENT))
        )
        fees[charge_type] = pl.coalesce(fees[charge_type], fee) if charge_type in fees else fee
    return {
        "FREIGHT": pl.col("freight_c"),
        "FUEL": pl.col("fuel_c"),
        "REMOTE_AREA": pl.col("remote_c"),
        "REGISTRATION": pl.col("registration_c"),
        **fees,
    }


def expected_charges_table(
    wide: pl.DataFrame, tables: RateCardTables, fits_int64: bool
) -> pl.DataFrame:
    """EXPECTED_CHARGES: one row per rated shipment and expected charge type, in
    shipment then charge order (FREIGHT, FUEL, REMOTE_AREA, REGISTRATION, always-on
    accessorials). The long form is built and sorted on one integer key (row × 16 +
    charge code); strings are gathered once at the end."""
    parts = charge_parts(tables)
    rated = (
        wide.lazy()
        .filter(pl.col("unrated_reason").is_null())
        .select(
            _rid=pl.col("_rid").cast(pl.Int64) * 16,
            _fx_u="_fx_u",
            **{f"_{code}": amount.cast(pl.Int64) for code, amount in enumerate(parts.values())},
        )
        .collect()
        .lazy()
    )
    pieces = [
        rated.select("_fx_u", _key=pl.col("_rid") + code, expected_c=pl.col(f"_{code}")).filter(
            (code == 0) | (pl.col("expected_c").is_not_null() & (pl.col("expected_c") > 0))
        )
        for code in range(len(parts))
    ]
    names = pl.Series(list(parts), dtype=pl.String)
    rows = (
        pl.concat(pieces)
        .sort("_key")
        .select(
            "expected_c",
            _rid=pl.col("_key") // 16,
            charge_type=pl.lit(names).gather(pl.col("_key") % 16),
            functional_c=functional_cents(pl.col("expected_c"), fits_int64=fits_int64),
        )
        .collect()
    )
    # the shipment's columns, gathered in one select: Polars gathers them side by side
    shipment_columns = [
        "shipment_id", "carrier", "tracking_number", "ship_date", "currency",
        "functional_currency",
    ]  # fmt: skip
    taken = wide.select(pl.col(shipment_columns).gather(rows["_rid"]))
    columns = {
        **{c: taken[c] for c in shipment_columns},
        "charge_type": rows["charge_type"],
        "expected_amount": decimal_from_units(rows["expected_c"], t.MONEY),
        "expected_amount_functional": decimal_from_units(rows["functional_c"], t.MONEY),
    }
    return pl.DataFrame([columns[c].alias(c) for c in EXPECTED_CHARGES.column_names]).cast(
        EXPECTED_CHARGES.schema
    )
