"""Expected charges: a whole period's shipments priced in one set-based pass.

Issue 5 item 2 / DOMAIN.md "Carrier rate cards": for each shipment, the
contract version valid on its ship date (as-of join), the zone from country and
postcode ranges, the chargeable weight (max of actual and volumetric, minimum
weight, rounded up to the increment), freight by the card's shape, the month's
fuel %, the remote-area fee, per-parcel registration and always-on accessorials,
in contract currency and in the company's functional currency. A shipment that
cannot be priced is kept with `unrated_reason`; nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.contracts.rating import EXPECTED_CHARGES, SHIPMENT_RATINGS
from pipelines.rating.cards import RateCard
from pipelines.rating.fx import attach_fx, to_functional
from pipelines.rating.keys import normalise_postcode_expr, normalise_tracking
from pipelines.rating.money import cents_to_money, div_half_up, grams_to_kg, kg_to_grams
from pipelines.rating.pricing import chargeable_grams, price_freight, volumetric_grams
from pipelines.rating.tables import RateCardTables, build_tables


@dataclass(frozen=True)
class RatingResult:
    shipment_ratings: pl.DataFrame
    """One row per shipment (SHIPMENT_RATINGS), rated or with `unrated_reason`."""
    expected_charges: pl.DataFrame
    """One row per rated shipment and expected charge type (EXPECTED_CHARGES)."""

    @property
    def unrated(self) -> pl.DataFrame:
        return self.shipment_ratings.filter(pl.col("unrated_reason").is_not_null())


def as_tables(cards: RateCardTables | list[RateCard]) -> RateCardTables:
    return cards if isinstance(cards, RateCardTables) else build_tables(cards)


def _tenths(col: str) -> pl.Expr:
    return (pl.col(col).cast(pl.Decimal(38, 1)) * 10).cast(pl.Int64)


def _money_u(col: str) -> pl.Expr:
    """Price units (1/10000) as a 4-place decimal for evidence columns."""
    return (pl.col(col).cast(pl.Decimal(38, 6)) / 10_000).cast(pl.Decimal(18, 6))


def _zone_lookup(ships: pl.LazyFrame, zones: pl.DataFrame) -> pl.LazyFrame:
    """The zone per shipment: a postcode-range row beats a whole-country row."""
    pc = pl.col("_postcode")
    in_range = pl.col("postcode_from").is_null() | (
        pc.is_not_null() & (pc >= pl.col("postcode_from")) & (pc <= pl.col("postcode_to"))
    )
    return (
        ships.select(
            "_rid", "card_key", pl.col("destination_country").alias("country"), "_postcode"
        )
        .join(zones.lazy(), on=["card_key", "country"], how="inner")
        .filter(in_range)
        .sort("_rid", pl.col("postcode_from").is_null())
        .unique("_rid", keep="first", maintain_order=False)
        .select("_rid", "zone")
    )


def _remote_ids(ships: pl.LazyFrame, remote: pl.DataFrame) -> pl.LazyFrame:
    pc = pl.col("_postcode")
    return (
        ships.select(
            "_rid", "card_key", pl.col("destination_country").alias("country"), "_postcode"
        )
        .join(remote.lazy(), on=["card_key", "country"], how="inner")
        .filter(pc.is_not_null() & (pc >= pl.col("remote_from")) & (pc <= pl.col("remote_to")))
        .select("_rid")
        .unique()
    )


def rate_shipments(
    shipments: pl.DataFrame | pl.LazyFrame,
    cards: RateCardTables | list[RateCard],
    fx_rates: pl.DataFrame,
    companies: pl.DataFrame,
) -> RatingResult:
    """Price every shipment (SHIPMENTS contract) against its carrier's rate cards."""
    tables = as_tables(cards)
    versions = tables.versions.lazy()
    ships = (
        shipments.lazy()
        .with_row_index("_rid")
        .with_columns(
            tracking_number=normalise_tracking(pl.col("tracking_number")),
            ship_date=pl.col("shipped_at").dt.date(),
            _postcode=normalise_postcode_expr(pl.col("destination_postcode")),
        )
        .sort("ship_date")
        .join_asof(
            versions.sort("valid_from"),
            left_on="ship_date",
            right_on="valid_from",
            by="carrier",
            strategy="backward",
            check_sortedness=False,
        )
        .with_columns(
            card_key=pl.when(
                pl.col("valid_to").is_null() | (pl.col("ship_date") <= pl.col("valid_to"))
            ).then(pl.col("card_key"))
        )
    )
    ships = ships.join(_zone_lookup(ships, tables.zones), on="_rid", how="left").join(
        _remote_ids(ships, tables.remote).with_columns(is_remote=pl.lit(True)),
        on="_rid",
        how="left",
    )
    actual_g = kg_to_grams(pl.col("weight_kg"))
    vol_g = volumetric_grams(
        _tenths("length_cm"),
        _tenths("width_cm"),
        _tenths("height_cm"),
        pl.col("parcels"),
        pl.col("volumetric_divisor"),
    )
    ships = ships.with_columns(
        is_remote=pl.col("is_remote").fill_null(False),
        actual_g=actual_g,
        volumetric_g=vol_g,
        _month=pl.col("ship_date").dt.month_start(),
    ).with_columns(
        chargeable_g=chargeable_grams(
            pl.max_horizontal("actual_g", "volumetric_g"),
            pl.col("min_weight_g"),
            pl.col("increment_g"),
        )
    )
    ships = price_freight(ships, tables, "chargeable_g")
    ships = ships.join(
        tables.fuel.lazy().rename({"month": "_month"}), on=["card_key", "_month"], how="left"
    )
    reason = (
        pl.when(pl.col("card_key").is_null())
        .then(pl.format("no {} rate card valid on {}", pl.col("carrier"), pl.col("ship_date")))
        .when(pl.col("zone").is_null())
        .then(
            pl.format(
                "{} has no zone for country {} postcode {}",
                pl.col("card_key"),
                pl.col("destination_country"),
                pl.col("destination_postcode").fill_null("(none)"),
            )
        )
        .when(pl.col("price_error").is_not_null())
        .then(pl.format("{}: {}", pl.col("card_key"), pl.col("price_error")))
        .when(pl.col("has_fuel") & pl.col("fuel_pct_u").is_null())
        .then(
            pl.format(
                "{} has no fuel % for {}", pl.col("card_key"), pl.col("_month").dt.strftime("%Y-%m")
            )
        )
    )
    ships = ships.with_columns(
        unrated_reason=reason,
        fuel_c=pl.when(pl.col("has_fuel")).then(
            div_half_up(pl.col("freight_c") * pl.col("fuel_pct_u"), 100 * 10_000)
        ),
        remote_c=pl.when(pl.col("is_remote")).then(div_half_up(pl.col("remote_fee_u"), 100)),
    )
    ships = attach_fx(ships, fx_rates, companies, date_col="ship_date").collect()

    charges = _long_charges(ships.filter(pl.col("unrated_reason").is_null()), tables)
    charges = to_functional(charges.lazy(), "expected_c", "expected_amount_functional")
    charges = charges.with_columns(expected_amount=cents_to_money(pl.col("expected_c")))
    expected = (
        charges.select(EXPECTED_CHARGES.column_names).sort("shipment_id", "charge_type").collect()
    )
    totals = expected.group_by("shipment_id").agg(
        expected_total=pl.col("expected_amount").sum(),
        expected_total_functional=pl.col("expected_amount_functional").sum(),
    )
    ratings = (
        ships.lazy()
        .join(totals.lazy(), on="shipment_id", how="left")
        .with_columns(
            actual_weight_kg=grams_to_kg(pl.col("actual_g")),
            volumetric_weight_kg=grams_to_kg(pl.col("volumetric_g")),
            chargeable_weight_kg=grams_to_kg(pl.col("chargeable_g")),
            fuel_percent=(pl.col("fuel_pct_u").cast(pl.Decimal(38, 4)) / 10_000).cast(
                pl.Decimal(9, 4)
            ),
            rate_price=_money_u("rate_price_u"),
            rate_additional_price=_money_u("rate_additional_u"),
            rate_step_kg=grams_to_kg(pl.col("rate_step_g")),
            rate_band_up_to_kg=grams_to_kg(pl.col("rate_band_up_to_g")),
        )
        .select(SHIPMENT_RATINGS.column_names)
        .sort("shipment_id")
        .collect()
    )
    return RatingResult(
        shipment_ratings=ratings.cast(SHIPMENT_RATINGS.schema),  # type: ignore[arg-type]
        expected_charges=expected.cast(EXPECTED_CHARGES.schema),  # type: ignore[arg-type]
    )


def _long_charges(rated: pl.DataFrame, tables: RateCardTables) -> pl.DataFrame:
    """One row per shipment and expected charge type, amount in cents (`expected_c`)."""
    keep = [
        "shipment_id",
        "carrier",
        "tracking_number",
        "ship_date",
        "company",
        "order_id",
        "currency",
        "functional_currency",
        "fx_rate",
        "_fx_u",
        "card_key",
        "contract",
        "contract_version",
    ]
    base = rated.lazy()

    def part(charge_type: str, amount: pl.Expr) -> pl.LazyFrame:
        return base.filter(amount.is_not_null() & (amount > 0)).select(
            *keep, charge_type=pl.lit(charge_type), expected_c=amount
        )

    parts = [
        base.select(*keep, charge_type=pl.lit("FREIGHT"), expected_c=pl.col("freight_c")),
        part("FUEL", pl.col("fuel_c")),
        part("REMOTE_AREA", pl.col("remote_c")),
        part("REGISTRATION", pl.col("registration_c")),
    ]
    always = tables.accessorials.filter(pl.col("always") & (pl.col("fee_u") > 0)).lazy()
    parts.append(
        base.join(always, on="card_key", how="inner").select(
            *keep,
            pl.col("charge_type"),
            expected_c=div_half_up(pl.col("fee_u"), 100),
        )
    )
    return pl.concat(parts, how="vertical_relaxed").collect()
