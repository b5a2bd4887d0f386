"""The evidence of a flagged bill line, in words a carrier's dispute desk can check.

DOMAIN.md "Outputs that leave the engine": dispute lists per carrier, the evidence per
line. Each finding names what it rests on: the first billing of a duplicate, the carrier
that did ship an unknown tracking number, the contract terms and figures of a price
finding. Expressions over the judged lines of pipelines.reconciliation.findings (`*_c`
columns in cents).
"""

from __future__ import annotations

import polars as pl

from pipelines.money import cents_to_money


def evidence() -> pl.Expr:
    """The evidence of a flagged line, in words a carrier's dispute desk can check."""
    f = pl.col("finding")
    return (
        pl.when(f == "DUPLICATE")
        .then(
            pl.format(
                "first billed on bill {} line {} dated {} for {}",
                pl.col("first_bill_number"),
                pl.col("first_line_number"),
                pl.col("first_bill_date"),
                pl.col("first_amount").cast(pl.String),
            )
        )
        .when((f == "UNKNOWN_SHIPMENT") & pl.col("other_carrier").is_not_null())
        .then(
            pl.format(
                "tracking number shipped with {} (shipment {}), not {}",
                pl.col("other_carrier"),
                pl.col("other_shipment_id"),
                pl.col("carrier"),
            )
        )
        .when(f == "UNKNOWN_SHIPMENT")
        .then(pl.format("no {} shipment has this tracking number", pl.col("carrier")))
        .when((f == "UNCONTRACTED_CHARGE") & pl.col("unrated_reason").is_not_null())
        .then(pl.format("shipment cannot be priced: {}", pl.col("unrated_reason")))
        .when(f == "UNCONTRACTED_CHARGE")
        .then(
            pl.format(
                "{} is not an allowed charge type of {}", pl.col("charge_type"), pl.col("card_key")
            )
        )
        .otherwise(_price_evidence())
    )


def _price_evidence() -> pl.Expr:
    """The evidence of a line judged on its price: the contract terms and the figures."""
    f = pl.col("finding")
    money = {
        name: cents_to_money(pl.col(c)).cast(pl.String)
        for name, c in (("billed", "billed_c"), ("expected", "expected_c"), ("base", "fuel_base_c"))
    }
    card = pl.format("{} zone {}", pl.col("card_key"), pl.col("contract_zone"))
    return (
        pl.when(pl.col("charge_type") == "FUEL")
        .then(
            pl.format(
                "{}: fuel {}% of approved freight {} = {}; billed {}{}",
                card,
                pl.col("fuel_percent").cast(pl.String),
                money["base"],
                money["expected"],
                money["billed"],
                pl.when(pl.col("derived_from_freight"))
                .then(pl.lit(" (right % on the disputed freight)"))
                .otherwise(pl.lit("")),
            )
        )
        .when(f == "WEIGHT_DISCREPANCY")
        .then(
            pl.format(
                "{}: billed {} kg > our chargeable {} kg (actual {} kg, volumetric {} kg); "
                "price at our weight {}, billed {}",
                card,
                pl.col("billed_weight_kg").cast(pl.String),
                pl.col("chargeable_weight_kg").cast(pl.String),
                pl.col("actual_weight_kg").cast(pl.String),
                pl.col("volumetric_weight_kg").cast(pl.String),
                money["expected"],
                money["billed"],
            )
        )
        .when(pl.col("charge_type") == "FREIGHT")
        .then(
            pl.format(
                "{}: contract price {} at {} kg (billed weight {} kg, ours {} kg); billed {}",
                card,
                money["expected"],
                (pl.col("_rate_g").cast(pl.Decimal(38, 3)) / 1000)
                .cast(pl.String)
                .fill_null(pl.col("chargeable_weight_kg").cast(pl.String)),
                pl.col("billed_weight_kg").cast(pl.String).fill_null("-"),
                pl.col("chargeable_weight_kg").cast(pl.String),
                money["billed"],
            )
        )
        .otherwise(
            pl.format(
                "{}: {} expected {}{}; billed {}",
                card,
                pl.col("charge_type"),
                money["expected"],
                pl.when(pl.col("charge_type").eq("REMOTE_AREA") & ~pl.col("is_remote"))
                .then(pl.lit(" (postcode not in the remote-area list)"))
                .otherwise(pl.lit("")),
                money["billed"],
            )
        )
    )
