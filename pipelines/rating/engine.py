"""Expected charges: a whole period's shipments priced in one set-based pass.

Issue 5 item 2 / DOMAIN.md "Carrier rate cards": for each shipment, the
contract version valid on its ship date, the zone from country and postcode
ranges, the chargeable weight (max of actual and volumetric, minimum weight,
rounded up to the increment), freight by the card's shape, the month's fuel %,
the remote-area fee, per-parcel registration and always-on accessorials, in
contract currency and in the company's functional currency. A shipment that
cannot be priced is kept with `unrated_reason`; nothing is dropped.

Speed: the work is done on a narrow, row-aligned frame of integers. Small keys
(contract version, country, zone, fuel month, FX pair and day) are looked up by
position in dense tables (lookups.py); only what depends on many values (a
postcode inside ranges, a weight inside bands) is resolved once per distinct
combination and joined back on one integer key. The output tables: outputs.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.frames import LEFT, contiguous, day_span, largest_int
from pipelines.fx import attach_fx, functional_cents, int64_is_enough, no_functional_currency
from pipelines.money import (
    PERCENT_SCALE,
    PRICE_UNITS_PER_CENT,
    div_half_up,
    kg_to_grams,
    units_of,
)
from pipelines.rating.cards import RateCard
from pipelines.rating.keys import normalise_postcode_expr
from pipelines.rating.lookups import EPOCH, CardGrid, position_in
from pipelines.rating.outputs import charge_parts, expected_charges_table, ratings_table
from pipelines.rating.pricing import chargeable_grams, price_freight, volumetric_grams
from pipelines.rating.tables import RateCardTables, build_tables
from pipelines.tracking import with_normalised_tracking


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
    return units_of(pl.col(col), 1)


def _card_index(versions: pl.DataFrame) -> pl.Expr:
    """Index of the version valid for (carrier, ship_date): versions are few, so a
    vectorised when-chain beats sorting every shipment for an as-of join. The
    carrier is compared by its position in the cards' carrier list (integers)."""
    carriers = sorted(set(versions["carrier"]))
    carrier = pl.col("_carrier_i")
    chosen = [
        pl.when(
            (carrier == carriers.index(row["carrier"]))
            & (pl.col("ship_date") >= row["valid_from"])
            & (pl.col("ship_date") <= row["valid_to"] if row["valid_to"] else pl.lit(True))
        ).then(pl.lit(i, pl.Int32))
        for i, row in enumerate(versions.iter_rows(named=True))
    ]
    return pl.coalesce(chosen) if chosen else pl.lit(None, pl.Int32)


def _carrier_position(versions: pl.DataFrame) -> pl.Expr:
    """`_carrier_i` for `_card_index`."""
    return position_in(sorted(set(versions["carrier"])), pl.col("carrier")).alias("_carrier_i")


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


def rate_shipments(
    shipments: pl.DataFrame | pl.LazyFrame,
    cards: RateCardTables | list[RateCard],
    fx_rates: pl.DataFrame,
    companies: pl.DataFrame,
) -> RatingResult:
    """Price every shipment (SHIPMENTS contract) against its carrier's rate cards."""
    tables = as_tables(cards)
    grid = CardGrid.of(tables)
    base = contiguous(shipments.collect() if isinstance(shipments, pl.LazyFrame) else shipments)
    if not base["shipment_id"].is_sorted():  # already in id order (as read): no copy
        base = base.sort("shipment_id")
    base = with_normalised_tracking(base).with_columns(ship_date=pl.col("shipped_at").dt.date())
    narrow = _weights(base, tables)
    narrow = _with_zone(narrow, base, grid)
    narrow = _with_price(narrow, tables, grid)
    narrow = _with_reasons(narrow, base, tables)
    narrow = narrow.with_columns(
        fuel_c=pl.when(pl.col("has_fuel")).then(
            div_half_up(pl.col("freight_c") * pl.col("fuel_pct_u"), 100 * PERCENT_SCALE)
        ),
        remote_c=pl.when(pl.col("is_remote")).then(
            div_half_up(pl.col("remote_fee_u"), PRICE_UNITS_PER_CENT)
        ),
    )
    narrow = _with_fx(narrow, tables, fx_rates, companies)
    identity = base.select(
        "shipment_id", "tracking_number", "order_id", "service", "destination_postcode"
    ).with_row_index("_rid")
    v = tables.versions
    wide = pl.concat([identity, narrow], how="horizontal").with_columns(
        card_key=_attr(v, "card_key"),
        contract=_attr(v, "contract"),
        contract_version=_attr(v, "contract_version"),
        currency=_attr(v, "currency"),
        destination_country=pl.col("country"),
        zone=pl.lit(pl.Series(grid.zones, dtype=pl.String)).gather(pl.col("_zi")),
    )
    amounts = [a.fill_null(0).cast(pl.Int64) for a in charge_parts(tables).values()]
    rated = pl.col("unrated_reason").is_null()
    wide = wide.with_columns(_total_c=pl.when(rated).then(pl.sum_horizontal(amounts)))
    fits = int64_is_enough(largest_int(wide["_total_c"]), largest_int(wide["_fx_u"]))
    wide = wide.with_columns(
        _total_f_c=pl.when(rated).then(
            pl.sum_horizontal([functional_cents(a, fits_int64=fits) for a in amounts])
        )
    )
    expected = expected_charges_table(wide, tables, fits)
    return RatingResult(shipment_ratings=ratings_table(wide), expected_charges=expected)


def _attach(frame: pl.DataFrame, table: pl.DataFrame, on: str) -> pl.DataFrame:
    """`frame` with `table`'s columns looked up on `on` (unique in `table`): only the
    key column goes through the join, the result is attached, the frame's other
    columns are not copied."""
    found = frame.select(on).join(table, on=on, **LEFT)
    return frame.drop(on).hstack(found.drop(on).get_columns())


def _attr(versions: pl.DataFrame, name: str) -> pl.Expr:
    """The shipment's contract version's `name` (null when no version is valid)."""
    return pl.lit(versions[name]).gather(pl.col("_card"))


def _weights(base: pl.DataFrame, tables: RateCardTables) -> pl.DataFrame:
    """The narrow integer frame: contract version, actual, volumetric and chargeable grams."""
    v = tables.versions
    return (
        base.select(
            "carrier",
            "ship_date",
            "parcels",
            "company",
            pl.col("destination_country").alias("country"),
            actual_g=kg_to_grams(pl.col("weight_kg")),
            _l=_tenths("length_cm"),
            _w=_tenths("width_cm"),
            _h=_tenths("height_cm"),
        )
        .with_columns(_carrier_position(v))
        .with_columns(_card=_card_index(v))
        .with_columns(
            has_fuel=_attr(v, "has_fuel"),
            remote_fee_u=_attr(v, "remote_fee_u"),
            volumetric_g=volumetric_grams(
                pl.col("_l"),
                pl.col("_w"),
                pl.col("_h"),
                pl.col("parcels"),
                _attr(v, "volumetric_divisor"),
            ),
        )
        .with_columns(
            chargeable_g=chargeable_grams(
                pl.max_horizontal("actual_g", "volumetric_g"),
                _attr(v, "min_weight_g"),
                _attr(v, "increment_g"),
            )
        )
        .drop("_l", "_w", "_h", "_carrier_i")
    )


def _with_zone(narrow: pl.DataFrame, base: pl.DataFrame, grid: CardGrid) -> pl.DataFrame:
    """zone and is_remote: the card's zone for the whole country, except where the
    card splits the country by postcode ranges or lists remote postcodes in it;
    those shipments are resolved per distinct (card, country, postcode)."""
    whole_zone, needs_postcode = grid.whole_country_zones()
    cell = grid.country_cell(pl.col("_card"), pl.col("country"))
    narrow = narrow.with_columns(
        _zi=whole_zone.gather(cell), _needs_pc=needs_postcode.gather(cell).fill_null(False)
    )
    is_remote = pl.repeat(False, narrow.height, dtype=pl.Boolean, eager=True).alias("is_remote")
    by_postcode = (
        narrow.select("_card", "country", "_needs_pc")
        .with_row_index("_rid")
        .filter(pl.col("_needs_pc"))
        .drop("_needs_pc")
    )
    by_postcode = by_postcode.with_columns(
        _postcode=normalise_postcode_expr(base["destination_postcode"].gather(by_postcode["_rid"]))
    )
    zone = narrow["_zi"]
    if by_postcode.height:
        resolved = by_postcode.join(
            _zones_and_remote(by_postcode, grid.tables),
            on=["_card", "country", "_postcode"],
            nulls_equal=True,
            **LEFT,
        ).with_columns(_zi=position_in(grid.zones, pl.col("zone")))
        zone = zone.scatter(resolved["_rid"], resolved["_zi"])
        is_remote = is_remote.scatter(resolved["_rid"], resolved["is_remote"])
    return narrow.drop("_needs_pc").with_columns(zone, is_remote)


def _with_price(narrow: pl.DataFrame, tables: RateCardTables, grid: CardGrid) -> pl.DataFrame:
    """Freight, registration, the price evidence and the month's fuel %: freight is
    priced once per distinct (card, zone, chargeable weight, parcels), found by one
    integer key, and joined back on it."""
    priced_key = grid.zone_cell(pl.col("_card"), pl.col("_zi")) * (1 << 40) + pl.col("chargeable_g")
    narrow = narrow.with_columns(
        _pk=priced_key,
        fuel_pct_u=_fuel_percent(narrow, grid),
    )
    v = tables.versions
    combos = (
        narrow.select("_pk", "_card", "_zi", "chargeable_g")
        .filter(pl.col("_pk").is_not_null())
        .unique(subset="_pk")
        .with_columns(
            zone=pl.lit(pl.Series(grid.zones, dtype=pl.String)).gather(pl.col("_zi")),
            parcels=pl.lit(1, pl.Int64),
            card_key=_attr(v, "card_key"),
            shape=_attr(v, "shape"),
            min_charge_u=_attr(v, "min_charge_u"),
        )
    )
    prices = (
        price_freight(combos.lazy(), tables, "chargeable_g")
        .drop(
            "_card",
            "_zi",
            "zone",
            "chargeable_g",
            "parcels",
            "card_key",
            "shape",
            "min_charge_u",
            "registration_c",
        )
        .collect()
    )
    return (
        _attach(narrow, prices, "_pk")
        .with_columns(
            registration_c=div_half_up(
                pl.col("registration_u") * pl.col("parcels"), PRICE_UNITS_PER_CENT
            )
        )
        .drop("registration_u")
    )


def _fuel_percent(narrow: pl.DataFrame, grid: CardGrid) -> pl.Expr:
    span = day_span(narrow["ship_date"])
    if span is None:
        return pl.lit(None, pl.Int64)
    return grid.fuel_percent_by_day(pl.col("_card"), pl.col("ship_date"), *span)


def _with_reasons(narrow: pl.DataFrame, base: pl.DataFrame, tables: RateCardTables) -> pl.DataFrame:
    """unrated_reason, formatted only for the shipments that cannot be priced (a
    when/then chain evaluates every branch on every row)."""
    unrated = (
        pl.col("_card").is_null()
        | pl.col("_zi").is_null()
        | pl.col("price_error").is_not_null()
        | (pl.col("has_fuel") & pl.col("fuel_pct_u").is_null())
    )
    rows = narrow.with_row_index("_nid").filter(unrated)
    if not rows.height:
        return narrow.with_columns(unrated_reason=pl.lit(None, pl.String))
    card_key = pl.col("card_key")
    reason = (
        pl.when(pl.col("_card").is_null())
        .then(pl.format("no {} rate card valid on {}", pl.col("carrier"), pl.col("ship_date")))
        .when(pl.col("_zi").is_null())
        .then(
            pl.format(
                "{} has no zone for country {} postcode {}",
                card_key,
                pl.col("country"),
                pl.col("_postcode").fill_null("(none)"),
            )
        )
        .when(pl.col("price_error").is_not_null())
        .then(pl.format("{}: {}", card_key, pl.col("price_error")))
        .otherwise(
            pl.format("{} has no fuel % for {}", card_key, pl.col("ship_date").dt.strftime("%Y-%m"))
        )
    )
    postcode = base["destination_postcode"].gather(rows["_nid"])
    reasons = rows.with_columns(
        card_key=_attr(tables.versions, "card_key"), _postcode=normalise_postcode_expr(postcode)
    ).select("_nid", unrated_reason=reason)
    unrated_reason = pl.repeat(None, narrow.height, dtype=pl.String, eager=True)
    unrated_reason = unrated_reason.alias("unrated_reason")
    return narrow.with_columns(unrated_reason.scatter(reasons["_nid"], reasons["unrated_reason"]))


def _with_fx(
    narrow: pl.DataFrame, tables: RateCardTables, fx_rates: pl.DataFrame, companies: pl.DataFrame
) -> pl.DataFrame:
    """functional_currency, fx_rate and `_fx_u` of the ship date: looked up once per
    distinct (contract currency, company, day), found by one integer key."""
    v = tables.versions
    currencies = sorted(set(v["currency"]))
    known = companies["company"].unique().sort().to_list()
    company = position_in(known, pl.col("company"))
    unknown = narrow.select("company", "_card").filter(
        pl.col("_card").is_not_null() & company.is_null()
    )
    if unknown.height:
        raise no_functional_currency(unknown["company"])
    span = day_span(narrow["ship_date"])
    if span is None:
        first, days = 0, 1
    else:
        first_day, last_day = span
        first, days = (first_day - EPOCH).days, (last_day - first_day).days + 1
    currency = position_in(currencies, _attr(v, "currency"))
    narrow = narrow.with_columns(
        _fxk=(currency * len(known) + company) * days + (pl.col("ship_date").cast(pl.Int64) - first)
    )
    combos = (
        narrow.select("_fxk", "company", "ship_date", currency=_attr(v, "currency"))
        .filter(pl.col("_fxk").is_not_null())
        .unique(subset="_fxk")
    )
    rates = attach_fx(combos, fx_rates, companies, "ship_date")
    # laid out per (currency, company, day) cell, so each shipment takes its rate by a gather
    cells = len(currencies) * len(known) * days
    key = narrow["_fxk"]
    looked_up = [
        pl.repeat(None, cells, dtype=rates[name].dtype, eager=True)
        .scatter(combos["_fxk"], rates[name])
        .gather(key)
        .alias(name)
        for name in ("functional_currency", "fx_rate", "_fx_u")
    ]
    return narrow.drop("_fxk").hstack(looked_up)
