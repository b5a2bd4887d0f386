"""Input extracts from the ERP and the WMS (docs/data-contracts.md explains each).

Reference tables (companies, warehouses, skus, fx_rates) are read whole. Daily
tables arrive as one or more files per day whose file name contains the day
(`movements/2026-01-05.csv`); the day in the file name is the *load date*, the
partition that loads it. A row whose own date is earlier than its load date is
a late document (DOMAIN.md, "Late (backdated) documents").
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts import types as t
from pipelines.contracts.orders import ORDER_TABLES
from pipelines.contracts.spec import Column, ForeignKey, RowRule, TableContract

MOVEMENT_TYPES = (
    "RECEIPT",
    "ISSUE",
    "RETURN",
    "TRANSFER_OUT",
    "TRANSFER_IN",
    "ADJUST_GAIN",
    "ADJUST_LOSS",
)
INBOUND_TYPES = ("RECEIPT", "RETURN", "TRANSFER_IN", "ADJUST_GAIN")
OUTBOUND_TYPES = ("ISSUE", "TRANSFER_OUT", "ADJUST_LOSS")
WAREHOUSE_KINDS = ("DOMESTIC", "OVERSEAS", "MARKETPLACE", "THIRD_PARTY")
ALLOCATION_BASES = ("QUANTITY", "VALUE", "WEIGHT", "VOLUME")

COMPANIES = TableContract(
    name="companies",
    provenance=True,
    description="Legal entities whose books reckon keeps.",
    columns=(
        Column("company", t.ID, description="Company code."),
        Column("functional_currency", t.CODE, description="ISO 4217 code of its books."),
    ),
    key=("company",),
)

WAREHOUSES = TableContract(
    name="warehouses",
    provenance=True,
    description="Stock locations; each belongs to one company.",
    columns=(
        Column("warehouse", t.ID),
        Column("company", t.ID),
        Column("country", t.CODE, description="ISO 3166-1 alpha-2."),
        Column("kind", t.CODE, enum=WAREHOUSE_KINDS),
    ),
    key=("warehouse",),
    foreign_keys=(ForeignKey(("company",), "companies", ("company",)),),
)

SKUS = TableContract(
    name="skus",
    provenance=True,
    description="Stock-keeping units with their physical measures (landed-cost bases).",
    columns=(
        Column("sku", t.ID),
        Column("weight_kg", t.WEIGHT_KG, non_negative=True),
        Column("length_cm", t.LENGTH_CM, non_negative=True),
        Column("width_cm", t.LENGTH_CM, non_negative=True),
        Column("height_cm", t.LENGTH_CM, non_negative=True),
    ),
    key=("sku",),
)

FX_RATES = TableContract(
    name="fx_rates",
    provenance=True,
    description="Daily exchange rates: 1 `currency` = `rate` `to_currency`.",
    columns=(
        Column("rate_date", t.DATE),
        Column("currency", t.CODE),
        Column("to_currency", t.CODE),
        Column("rate", t.FX_RATE, positive=True),
    ),
    key=("rate_date", "currency", "to_currency"),
)

MOVEMENTS = TableContract(
    name="movements",
    provenance=True,
    description="The inventory movement ledger: one row per change of stock.",
    columns=(
        Column("movement_id", t.ID),
        Column("occurred_at", t.TIMESTAMP, description="When the stock moved (business time)."),
        Column("company", t.ID),
        Column("warehouse", t.ID),
        Column("sku", t.ID),
        Column("movement_type", t.CODE, enum=MOVEMENT_TYPES),
        Column(
            "quantity",
            t.QUANTITY,
            positive=True,
            description="Always > 0; the type says the direction.",
        ),
        Column(
            "unit_cost",
            t.UNIT_COST,
            required=False,
            non_negative=True,
            description="Receipts, and gains with a stated cost; in `currency`.",
        ),
        Column("currency", t.CODE, required=False),
        Column(
            "reference",
            t.ID,
            required=False,
            description=(
                "RETURN: the movement_id of the issue it returns; TRANSFER_OUT/IN: the transfer id "
                "both legs share; RECEIPT: the purchase document line (landed costs point at it); "
                "ISSUE: the sales order id (shipments carry it as order_id)."
            ),
        ),
    ),
    key=("movement_id",),
    partition_column="occurred_at",
    daily=True,
    foreign_keys=(
        ForeignKey(("company",), "companies", ("company",)),
        ForeignKey(("warehouse", "company"), "warehouses", ("warehouse", "company")),
        ForeignKey(("sku",), "skus", ("sku",)),
    ),
    rules=(
        RowRule(
            "unit_cost",
            (pl.col("movement_type") == "RECEIPT") & pl.col("unit_cost").is_null(),
            "a RECEIPT needs a unit_cost",
        ),
        RowRule(
            "currency",
            pl.col("unit_cost").is_not_null() & pl.col("currency").is_null(),
            "a unit_cost needs its currency",
        ),
        RowRule(
            "reference",
            pl.col("movement_type").is_in(["RETURN", "TRANSFER_OUT", "TRANSFER_IN"])
            & pl.col("reference").is_null(),
            "a RETURN needs the issue it returns, a transfer leg its transfer id",
        ),
    ),
)

LANDED_COSTS = TableContract(
    name="landed_costs",
    provenance=True,
    description="Freight, duty and fees attached to the receipts of one purchase document line.",
    columns=(
        Column("landed_cost_id", t.ID),
        Column("posted_at", t.TIMESTAMP),
        Column("company", t.ID),
        Column("receipt_reference", t.ID, description="Matches `movements.reference` of receipts."),
        Column("amount", t.MONEY, non_negative=True),
        Column("currency", t.CODE),
        Column("basis", t.CODE, enum=ALLOCATION_BASES),
    ),
    key=("landed_cost_id",),
    partition_column="posted_at",
    daily=True,
    foreign_keys=(ForeignKey(("company",), "companies", ("company",)),),
)

SNAPSHOTS = TableContract(
    name="snapshots",
    provenance=True,
    description="The WMS's own end-of-day stock per warehouse and SKU (the T-1 snapshot).",
    columns=(
        Column("snapshot_date", t.DATE),
        Column("warehouse", t.ID),
        Column("sku", t.ID),
        Column("quantity", t.QUANTITY, non_negative=True),
    ),
    key=("snapshot_date", "warehouse", "sku"),
    partition_column="snapshot_date",
    daily=True,
    foreign_keys=(
        ForeignKey(("warehouse",), "warehouses", ("warehouse",)),
        ForeignKey(("sku",), "skus", ("sku",)),
    ),
)

SHIPMENTS = TableContract(
    name="shipments",
    provenance=True,
    description="Parcels we handed to carriers, as our own systems measured them.",
    columns=(
        Column("shipment_id", t.ID),
        Column("tracking_number", t.ID),
        Column("carrier", t.CODE),
        Column("service", t.CODE),
        Column("shipped_at", t.TIMESTAMP),
        Column("company", t.ID),
        Column("warehouse", t.ID),
        Column("destination_country", t.CODE),
        Column("destination_postcode", t.TEXT, required=False),
        Column("parcels", t.QUANTITY, positive=True),
        Column("weight_kg", t.WEIGHT_KG, positive=True),
        Column("length_cm", t.LENGTH_CM, non_negative=True),
        Column("width_cm", t.LENGTH_CM, non_negative=True),
        Column("height_cm", t.LENGTH_CM, non_negative=True),
        Column("order_id", t.ID, required=False),
    ),
    key=("shipment_id",),
    partition_column="shipped_at",
    daily=True,
    foreign_keys=(
        ForeignKey(("company",), "companies", ("company",)),
        ForeignKey(("warehouse", "company"), "warehouses", ("warehouse", "company")),
    ),
)

REFERENCE_TABLES = (COMPANIES, WAREHOUSES, SKUS, FX_RATES)
DAILY_TABLES = (MOVEMENTS, LANDED_COSTS, SNAPSHOTS, SHIPMENTS, *ORDER_TABLES)
INPUT_TABLES = REFERENCE_TABLES + DAILY_TABLES
