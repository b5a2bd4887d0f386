"""Expected charges: a whole period's shipments priced in one set-based pass.

Issue 5 item 2 / DOMAIN.md "Carrier rate cards": for each shipment, the
contract version valid on its ship date, the zone from country and postcode
ranges, the chargeable weight (max of actual and volumetric, minimum weight,
rounded up to the increment), freight by the card's shape, the month's fuel %,
the remote-area fee, per-parcel registration and always-on accessorials, in
contract currency and in the company's functional currency. A shipment that
cannot be priced is kept with `unrated_reason`; nothing is dropped.

Speed: the work is done on a narrow, row-aligned frame of integers; lookups
that depend on few distinct values (zone and remote area per card, country and
postcode; price per card, zone, weight and parcels; FX per currency pair and
day) are computed once per distinct combination and joined back.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.contracts.rating import EXPECTED_CHARGES, SHIPMENT_RATINGS
from pipelines.rating.cards import RateCard
from pipelines.rating.fx import attach_fx, functional_cents
from pipelines.rating.keys import normalise_postcode_expr, normalise_tracking
from pipelines.rating.money import (
    cents_to_money,
    div_half_up,
    grams_to_kg,
    kg_to_grams,
)
from pipelines.rating.pricing import chargeable_grams, price_freight, volumetric_grams
from pipelines.rating.tables import RateCardTables, build_tables

LEFT = {"how": "left", "maintain_order": "left"}


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


def _price_u(col: str) -> pl.Expr:
    """Price units (1/10000) as a decimal for evidence columns."""
    return (pl.col(col).cast(pl.Decimal(38, 6)) / 10_000).cast(pl.Decimal(18, 6))


def _card_index(versions: pl.DataFrame) -> pl.Expr:
    """Index of the version valid for (carrier, ship_date): versions are few, so a
    vectorised when-chain beats sorting every shipment for an as-of join."""
    chosen = [
        pl.when(
            (pl.col("carrier") == row["carrier"])
            & (pl.col("ship_date") >= row["valid_from"])
            & (pl.col("ship_date") <= row["valid_to"] if row["valid_to"] else pl.lit(True))
        ).then(pl.lit(i, pl.Int32))
        for i, row in enumerate(versions.iter_rows(named=True))
    ]
    return pl.coalesce(chosen) if chosen else pl.lit(None, pl.Int32)


def _zones_and_remote(narrow: pl.DataFrame, tables: RateCardTables) -> pl.DataFrame:
    """Zone and remote flag per distinct (card, country, postcode).

    A postcode-range zone row beats a whole-country row of the same card."""
    combos = narrow.select("_card", "country", "_postcode").unique().with_row_index("_c")
    pc = pl.col("_postcode")
    zones = tables.zones.rename({"card_key": "_card_key"})
    keyed = combos.join(
        tables.versions.select(pl.col("card_key").alias("_card_key"))
        .with_row_index("_card")
        .with_columns(pl.col("_card").cast(pl.Int32)),
        on="_card",
        how="inner",
    )
    zone = (
        keyed.join(zones, on=["_card_key", "country"], how="inner")
        .filter(
            pl.col("postcode_from").is_null()
            | (pc.is_not_null() & (pc >= pl.col("postcode_from")) & (pc <= pl.col("postcode_to")))
        )
        .sort("_c", pl.col("postcode_from").is_null())
        .unique("_c", keep="first")
        .select("_c", "zone")
    )
    remote = (
        keyed.join(tables.remote.rename({"card_key": "_card_key"}), on=["_card_key", "country"])
        .filter(pc.is_not_null() & (pc >= pl.col("remote_from")) & (pc <= pl.col("remote_to")))
        .select("_c")
        .unique()
        .with_columns(is_remote=pl.lit(True))
    )
    return (
        combos.join(zone, on="_c", how="left")
        .join(remote, on="_c", how="left")
        .with_columns(pl.col("is_remote").fill_null(False))
        .drop("_c")
    )


def _prices(narrow: pl.DataFrame, tables: RateCardTables) -> pl.DataFrame:
    """Freight, registration and price evidence per distinct (card, zone, weight, parcels)."""
    v = tables.versions
    combos = (
        narrow.filter(pl.col("_card").is_not_null() & pl.col("zone").is_not_null())
        .select("_card", "zone", "chargeable_g", "parcels")
        .unique()
        .with_columns(
            card_key=pl.lit(v["card_key"]).gather("_card"),
            shape=pl.lit(v["shape"]).gather("_card"),
            min_charge_u=pl.lit(v["min_charge_u"]).gather("_card"),
        )
    )
    return (
        price_freight(combos.lazy(), tables, "chargeable_g")
        .drop("card_key", "shape", "min_charge_u")
        .collect()
    )


def rate_shipments(
    shipments: pl.DataFrame | pl.LazyFrame,
    cards: RateCardTables | list[RateCard],
    fx_rates: pl.DataFrame,
    companies: pl.DataFrame,
) -> RatingResult:
    """Price every shipment (SHIPMENTS contract) against its carrier's rate cards."""
    tables = as_tables(cards)
    v = tables.versions
    base = shipments.collect() if isinstance(shipments, pl.LazyFrame) else shipments
    if not base["shipment_id"].is_sorted():  # already in id order (as read): no copy
        base = base.sort("shipment_id")
    base = base.with_columns(
        tracking_number=normalise_tracking(pl.col("tracking_number")),
        ship_date=pl.col("shipped_at").dt.date(),
    )

    def attr(name: str) -> pl.Expr:
        return pl.lit(v[name]).gather(pl.col("_card"))

    narrow = (
        base.select(
            "carrier",
            "ship_date",
            "parcels",
            "company",
            pl.col("destination_country").alias("country"),
            _postcode=normalise_postcode_expr(pl.col("destination_postcode")),
            actual_g=kg_to_grams(pl.col("weight_kg")),
            _l=_tenths("length_cm"),
            _w=_tenths("width_cm"),
            _h=_tenths("height_cm"),
        )
        .with_columns(_card=_card_index(v))
        .with_columns(
            card_key=attr("card_key"),
            currency=attr("currency"),
            has_fuel=attr("has_fuel"),
            remote_fee_u=attr("remote_fee_u"),
            _month=pl.col("ship_date").dt.month_start(),
            volumetric_g=volumetric_grams(
                pl.col("_l"),
                pl.col("_w"),
                pl.col("_h"),
                pl.col("parcels"),
                attr("volumetric_divisor"),
            ),
        )
        .with_columns(
            chargeable_g=chargeable_grams(
                pl.max_horizontal("actual_g", "volumetric_g"),
                attr("min_weight_g"),
                attr("increment_g"),
            )
        )
    )
    narrow = narrow.join(
        _zones_and_remote(narrow, tables),
        on=["_card", "country", "_postcode"],
        nulls_equal=True,
        **LEFT,
    )
    narrow = narrow.join(
        _prices(narrow, tables), on=["_card", "zone", "chargeable_g", "parcels"], **LEFT
    ).join(tables.fuel.rename({"month": "_month"}), on=["card_key", "_month"], **LEFT)
    reason = (  # formatted only for the rows that need it: when/then evaluates every branch
        pl.when(pl.col("card_key").is_null())
        .then(pl.format("no {} rate card valid on {}", pl.col("carrier"), pl.col("ship_date")))
        .when(pl.col("zone").is_null())
        .then(
            pl.format(
                "{} has no zone for country {} postcode {}",
                pl.col("card_key"),
                pl.col("country"),
                pl.col("_postcode").fill_null("(none)"),
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
    unrated = (
        pl.col("card_key").is_null()
        | pl.col("zone").is_null()
        | pl.col("price_error").is_not_null()
        | (pl.col("has_fuel") & pl.col("fuel_pct_u").is_null())
    )
    narrow = narrow.with_row_index("_nid")
    reasons = narrow.filter(unrated).select("_nid", unrated_reason=reason)
    narrow = (
        narrow.join(reasons, on="_nid", **LEFT)
        .drop("_nid")
        .with_columns(
            fuel_c=pl.when(pl.col("has_fuel")).then(
                div_half_up(pl.col("freight_c") * pl.col("fuel_pct_u"), 100 * 10_000)
            ),
            remote_c=pl.when(pl.col("is_remote")).then(div_half_up(pl.col("remote_fee_u"), 100)),
        )
    )
    fx = attach_fx(
        narrow.select("currency", "company", "ship_date"), fx_rates, companies, "ship_date"
    )
    narrow = narrow.hstack(fx.select("functional_currency", "fx_rate", "_fx_u"))
    identity = base.select(
        "shipment_id", "tracking_number", "order_id", "service", "destination_postcode"
    ).with_row_index("_rid")
    wide = pl.concat([identity, narrow], how="horizontal").with_columns(
        contract=attr("contract"),
        contract_version=attr("contract_version"),
        destination_country=pl.col("country"),
    )
    expected = _charge_rows(wide, tables).select(EXPECTED_CHARGES.column_names)
    amounts = [a.fill_null(0).cast(pl.Int64) for a in _charge_parts(tables).values()]
    rated = pl.col("unrated_reason").is_null()
    wide = wide.with_columns(
        _total_c=pl.when(rated).then(pl.sum_horizontal(amounts)),
        _total_f_c=pl.when(rated).then(pl.sum_horizontal([functional_cents(a) for a in amounts])),
    )
    ratings = wide.with_columns(
        expected_total=cents_to_money(pl.col("_total_c")),
        expected_total_functional=cents_to_money(pl.col("_total_f_c")),
        actual_weight_kg=grams_to_kg(pl.col("actual_g")),
        volumetric_weight_kg=grams_to_kg(pl.col("volumetric_g")),
        chargeable_weight_kg=grams_to_kg(pl.col("chargeable_g")),
        fuel_percent=(pl.col("fuel_pct_u").cast(pl.Decimal(38, 4)) / 10_000).cast(pl.Decimal(9, 4)),
        rate_price=_price_u("rate_price_u"),
        rate_additional_price=_price_u("rate_additional_u"),
        rate_step_kg=grams_to_kg(pl.col("rate_step_g")),
        rate_band_up_to_kg=grams_to_kg(pl.col("rate_band_up_to_g")),
    ).select(SHIPMENT_RATINGS.column_names)
    return RatingResult(
        shipment_ratings=ratings.cast(SHIPMENT_RATINGS.schema),  # type: ignore[arg-type]
        expected_charges=expected.cast(EXPECTED_CHARGES.schema),  # type: ignore[arg-type]
    )


def _charge_parts(tables: RateCardTables) -> dict[str, pl.Expr]:
    """Charge type -> its amount in cents on a shipment row (null or 0: not charged)."""
    always = tables.accessorials.filter(pl.col("always") & (pl.col("fee_u") > 0))
    fees: dict[str, pl.Expr] = {}
    for card_key, charge_type, fee_u in always.select("card_key", "charge_type", "fee_u").rows():
        fee = pl.when(pl.col("card_key") == card_key).then(pl.lit(div_half_up_int(fee_u)))
        fees[charge_type] = pl.coalesce(fees[charge_type], fee) if charge_type in fees else fee
    return {
        "FREIGHT": pl.col("freight_c"),
        "FUEL": pl.col("fuel_c"),
        "REMOTE_AREA": pl.col("remote_c"),
        "REGISTRATION": pl.col("registration_c"),
        **fees,
    }


def _charge_rows(wide: pl.DataFrame, tables: RateCardTables) -> pl.DataFrame:
    """One row per rated shipment and expected charge type, in shipment then charge
    order (FREIGHT, FUEL, REMOTE_AREA, REGISTRATION, always-on accessorials): the
    long form is built and sorted on integers only, strings gathered once at the end.

    Returns the EXPECTED_CHARGES columns plus `_rid`, `expected_c` and `functional_c`
    (integer cents) for the totals."""
    parts = _charge_parts(tables)
    rated = wide.lazy().filter(pl.col("unrated_reason").is_null())
    pieces = [
        rated.select(
            "_rid", "_fx_u", _code=pl.lit(code, pl.Int8), expected_c=amount.cast(pl.Int64)
        ).filter((code == 0) | (pl.col("expected_c").is_not_null() & (pl.col("expected_c") > 0)))
        for code, amount in enumerate(parts.values())
    ]
    names = pl.Series(list(parts), dtype=pl.String)
    rows = (
        pl.concat(pieces)
        .sort("_rid", "_code")
        .with_columns(
            charge_type=pl.lit(names).gather(pl.col("_code")),
            functional_c=functional_cents(pl.col("expected_c")),
        )
        .collect()
    )
    ids = pl.col("_rid")
    return rows.select(
        "_rid",
        "expected_c",
        "functional_c",
        *(
            pl.lit(wide[c]).gather(ids).alias(c)
            for c in ("shipment_id", "carrier", "tracking_number", "ship_date")
        ),
        "charge_type",
        expected_amount=cents_to_money(pl.col("expected_c")),
        currency=pl.lit(wide["currency"]).gather(ids),
        functional_currency=pl.lit(wide["functional_currency"]).gather(ids),
        expected_amount_functional=cents_to_money(pl.col("functional_c")),
    )


def div_half_up_int(price_u: int) -> int:
    """A price in price units as whole cents, half-up (the Python twin of div_half_up)."""
    return (2 * price_u + 100) // 200
