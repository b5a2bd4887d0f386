"""Output tables of the rating engine (issue 5 items 1-2): expected charges per shipment.

Weights are decimals in kg, money is MONEY in the contract currency and, with
the `_functional` suffix, in the shipping company's functional currency.
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts import types as t
from pipelines.contracts.bills import CHARGE_TYPES
from pipelines.contracts.spec import Column, TableContract

_IDENTITY = (
    Column("shipment_id", t.ID),
    Column("carrier", t.CODE),
    Column("tracking_number", t.ID, description="Normalised: upper case, letters and digits only."),
    Column("ship_date", t.DATE),
    Column("company", t.ID),
    Column("order_id", t.ID, required=False),
)

SHIPMENT_RATINGS = TableContract(
    name="shipment_ratings",
    description=(
        "One row per shipment: the contract version, zone and weights it was priced with, "
        "its expected total, or why it could not be priced (`unrated_reason`)."
    ),
    columns=(
        *_IDENTITY,
        Column("service", t.CODE),
        Column("destination_country", t.CODE),
        Column("destination_postcode", t.TEXT, required=False),
        Column("parcels", t.QUANTITY, positive=True),
        Column("card_key", t.CODE, required=False, description="CARRIER:contract:vN."),
        Column("contract", t.CODE, required=False),
        Column("contract_version", t.QUANTITY, required=False),
        Column("currency", t.CODE, required=False, description="Contract currency."),
        Column("zone", t.CODE, required=False),
        Column("is_remote", pl.Boolean, description="Postcode in the card's remote-area ranges."),
        Column("actual_weight_kg", t.WEIGHT_KG),
        Column("volumetric_weight_kg", t.WEIGHT_KG, description="parcels × L×W×H / divisor."),
        Column(
            "chargeable_weight_kg",
            t.WEIGHT_KG,
            required=False,
            description="max(actual, volumetric, minimum weight) rounded up to the increment.",
        ),
        Column("fuel_percent", t.PERCENT, required=False),
        Column(
            "rate_price",
            t.UNIT_COST,
            required=False,
            description="Contract row used: express first-step price, per-kg price or break price.",
        ),
        Column("rate_additional_price", t.UNIT_COST, required=False),
        Column("rate_step_kg", t.WEIGHT_KG, required=False),
        Column("rate_band_up_to_kg", t.WEIGHT_KG, required=False),
        Column("expected_total", t.MONEY, required=False),
        Column("functional_currency", t.CODE, required=False),
        Column("fx_rate", t.FX_RATE, required=False),
        Column("expected_total_functional", t.MONEY, required=False),
        Column("unrated_reason", t.TEXT, required=False),
    ),
    key=("shipment_id",),
)

EXPECTED_CHARGES = TableContract(
    name="expected_charges",
    description=(
        "One row per rated shipment and charge type the contract expects on it; the "
        "contract version, zone, weights and FX rate are in shipment_ratings."
    ),
    columns=(
        Column("shipment_id", t.ID),
        Column("carrier", t.CODE),
        Column("tracking_number", t.ID, description="Normalised."),
        Column("ship_date", t.DATE),
        Column("charge_type", t.CODE, enum=CHARGE_TYPES),
        Column("expected_amount", t.MONEY, non_negative=True),
        Column("currency", t.CODE, description="Contract currency."),
        Column("functional_currency", t.CODE),
        Column("expected_amount_functional", t.MONEY, non_negative=True),
    ),
    key=("shipment_id", "charge_type"),
)

RATING_TABLES: tuple[TableContract, ...] = (SHIPMENT_RATINGS, EXPECTED_CHARGES)
