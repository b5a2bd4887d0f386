"""Freight per shipment, as the reconciliation left it: the figure a line's freight shares.

DOMAIN.md ("Bill reconciliation", "Order profitability"): a billed shipment costs what we
approved of its bill lines, an unbilled one its expected price (the accrual), and what we
dispute is shown apart, not in the margin until the carrier concedes or wins. Approved and
disputed amounts are in the bill currency (the contract's), converted with the shipment's
own ship-date rate from its rating, as `order_logistics_cost` does (pipelines/fx.py).
"""

from __future__ import annotations

import polars as pl

from pipelines.fx import functional_cents, fx_units
from pipelines.money import cents_to_money, money_to_cents

SHIPMENT_FREIGHT_SCHEMA = pl.Schema(
    {
        "shipment_id": pl.String(),
        "order_id": pl.String(),
        "billed": pl.Boolean(),
        "freight": pl.Decimal(18, 2),
        "disputed": pl.Decimal(18, 2),
        "bill_lines": pl.String(),
    }
)
"""What the profit engine takes per shipment (functional currency)."""


def shipment_freight(findings: pl.DataFrame, ratings: pl.DataFrame) -> pl.DataFrame:
    """One row per rated shipment with an order (`SHIPMENT_FREIGHT_SCHEMA`)."""
    billed = (
        findings.filter(pl.col("shipment_id").is_not_null())
        .group_by("shipment_id")
        .agg(
            money_to_cents("approved_amount").sum().alias("_approved_c"),
            money_to_cents("disputed_amount").sum().alias("_disputed_c"),
            pl.format("{}#{}", "bill_number", "line_number")
            .sort()
            .str.join(",")
            .alias("bill_lines"),
        )
    )
    ships = (
        ratings.filter(pl.col("order_id").is_not_null())
        .join(billed, on="shipment_id", how="left")
        .with_columns(_fx_u=fx_units(pl.col("fx_rate")))
    )
    is_billed = pl.col("_approved_c").is_not_null()
    expected = money_to_cents(pl.col("expected_total_functional").fill_null(0))
    return (
        ships.select(
            "shipment_id",
            "order_id",
            is_billed.alias("billed"),
            cents_to_money(
                pl.when(is_billed).then(functional_cents(pl.col("_approved_c"))).otherwise(expected)
            ).alias("freight"),
            cents_to_money(functional_cents(pl.col("_disputed_c").fill_null(0))).alias("disputed"),
            "bill_lines",
        )
        .with_columns(pl.col("freight", "disputed").fill_null(0))
        .cast(SHIPMENT_FREIGHT_SCHEMA)
    )
