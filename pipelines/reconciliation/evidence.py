"""The evidence of a flagged bill line, in words a carrier's dispute desk can check.

DOMAIN.md "Outputs that leave the engine": dispute lists per carrier, the evidence per
line. Each finding names what it rests on: the first billing of a duplicate, the charge a
credit reverses, the carrier that did ship an unknown tracking number, the contract terms
and figures of a price finding. Expressions over the judged lines of
pipelines.reconciliation.findings (`*_c` columns in cents).
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
        .when(f == "CREDIT")
        .then(
            pl.format(
                "credit of bill {} line {} dated {} for {}, judged {}: the pair nets to zero",
                pl.col("reversed_bill_number"),
                pl.col("reversed_line_number"),
                pl.col("reversed_bill_date"),
                pl.col("reversed_amount").cast(pl.String),
                pl.col("reversed_finding"),
            )
        )
        .when(f == "UNMATCHED_CREDIT")
        .then(
            pl.format(
                "credit of {} reverses no {} charge billed for this tracking number: taken "
                "as billed",
                cents_to_money(-pl.col("billed_c")).cast(pl.String),
                pl.col("charge_type"),
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
    """The evidence of a line judged on its price: the contract terms and the figures.

    One sentence per kind of price judgement, each naming what the carrier's desk needs
    to check it: the fuel base, the weights, the contract row, the accessorial fee."""
    figures = _Figures()
    return (
        pl.when(pl.col("charge_type") == "FUEL")
        .then(_fuel_evidence(figures))
        .when(pl.col("finding") == "WEIGHT_DISCREPANCY")
        .then(_weight_evidence(figures))
        .when(pl.col("charge_type") == "FREIGHT")
        .then(_freight_evidence(figures))
        .otherwise(_accessorial_evidence(figures))
    )


class _Figures:
    """The contract row and the money figures every price sentence quotes."""

    def __init__(self) -> None:
        self.card = pl.format("{} zone {}", pl.col("card_key"), pl.col("contract_zone"))
        self.billed = cents_to_money(pl.col("billed_c")).cast(pl.String)
        self.expected = cents_to_money(pl.col("expected_c")).cast(pl.String)
        self.fuel_base = cents_to_money(pl.col("fuel_base_c")).cast(pl.String)


def _fuel_evidence(figures: _Figures) -> pl.Expr:
    """Fuel: the month's % of the approved freight, and whether the % was right on a
    disputed freight (then fixing the freight fixes the fuel)."""
    return pl.format(
        "{}: fuel {}% of approved freight {} = {}; billed {}{}",
        figures.card,
        pl.col("fuel_percent").cast(pl.String),
        figures.fuel_base,
        figures.expected,
        figures.billed,
        pl.when(pl.col("derived_from_freight"))
        .then(pl.lit(" (right % on the disputed freight)"))
        .otherwise(pl.lit("")),
    )


def _weight_evidence(figures: _Figures) -> pl.Expr:
    """A weight discrepancy: the billed weight against ours and what ours is made of."""
    return pl.format(
        "{}: billed {} kg > our chargeable {} kg (actual {} kg, volumetric {} kg); "
        "price at our weight {}, billed {}",
        figures.card,
        pl.col("billed_weight_kg").cast(pl.String),
        pl.col("chargeable_weight_kg").cast(pl.String),
        pl.col("actual_weight_kg").cast(pl.String),
        pl.col("volumetric_weight_kg").cast(pl.String),
        figures.expected,
        figures.billed,
    )


def _freight_evidence(figures: _Figures) -> pl.Expr:
    """Freight at a wrong price: the contract price at the weight it was rated at."""
    rated_kg = (pl.col("_rate_g").cast(pl.Decimal(38, 3)) / 1000).cast(pl.String)
    return pl.format(
        "{}: contract price {} at {} kg (billed weight {} kg, ours {} kg); billed {}",
        figures.card,
        figures.expected,
        rated_kg.fill_null(pl.col("chargeable_weight_kg").cast(pl.String)),
        pl.col("billed_weight_kg").cast(pl.String).fill_null("-"),
        pl.col("chargeable_weight_kg").cast(pl.String),
        figures.billed,
    )


def _accessorial_evidence(figures: _Figures) -> pl.Expr:
    """Any other charge: its expected fee, and why a remote-area fee is not expected."""
    return pl.format(
        "{}: {} expected {}{}; billed {}",
        figures.card,
        pl.col("charge_type"),
        figures.expected,
        pl.when(pl.col("charge_type").eq("REMOTE_AREA") & ~pl.col("is_remote"))
        .then(pl.lit(" (postcode not in the remote-area list)"))
        .otherwise(pl.lit("")),
        figures.billed,
    )
