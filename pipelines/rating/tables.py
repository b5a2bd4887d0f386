"""Rate cards flattened into small Polars tables the set-based engine joins against.

Every price is an integer in price units, every weight in grams (money.py), so
a whole period's shipments are priced with joins and integer arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl

from pipelines.money import grams, percent_units, price_units
from pipelines.rating.cards import (
    Applies,
    PostcodeRange,
    RateCard,
    Shape,
    check_versions,
    normalise_postcode,
)


@dataclass(frozen=True)
class RateCardTables:
    versions: pl.DataFrame
    """One row per contract version: card_key, carrier, validity, currency, weight rules."""
    zones: pl.DataFrame
    """card_key, country, postcode_from, postcode_to (null: whole country), zone."""
    express: pl.DataFrame
    per_kg: pl.DataFrame
    weight_breaks: pl.DataFrame
    fuel: pl.DataFrame
    remote: pl.DataFrame
    accessorials: pl.DataFrame
    allowed: pl.DataFrame
    """card_key, charge_type, pass_through (approved as billed)."""


_S = pl.String
_I = pl.Int64
VERSIONS_SCHEMA = {
    "card_key": _S,
    "carrier": _S,
    "contract": _S,
    "contract_version": _I,
    "valid_from": pl.Date,
    "valid_to": pl.Date,
    "currency": _S,
    "shape": _S,
    "volumetric_divisor": _I,
    "increment_g": _I,
    "min_weight_g": _I,
    "min_charge_u": _I,
    "remote_fee_u": _I,
    "has_fuel": pl.Boolean,
}
ZONES_SCHEMA = {"card_key": _S, "country": _S, "postcode_from": _S, "postcode_to": _S, "zone": _S}
EXPRESS_SCHEMA = {
    "card_key": _S,
    "zone": _S,
    "first_g": _I,
    "step_g": _I,
    "first_u": _I,
    "additional_u": _I,
}
PER_KG_SCHEMA = {"card_key": _S, "zone": _S, "up_to_g": _I, "per_kg_u": _I, "registration_u": _I}
BREAKS_SCHEMA = {"card_key": _S, "zone": _S, "up_to_g": _I, "price_u": _I}
FUEL_SCHEMA = {"card_key": _S, "month": pl.Date, "fuel_pct_u": _I}
REMOTE_SCHEMA = {"card_key": _S, "country": _S, "remote_from": _S, "remote_to": _S}
ACCESSORIALS_SCHEMA = {"card_key": _S, "charge_type": _S, "fee_u": _I, "always": pl.Boolean}
ALLOWED_SCHEMA = {"card_key": _S, "charge_type": _S, "pass_through": pl.Boolean}

Row = dict[str, Any]


def build_tables(cards: list[RateCard]) -> RateCardTables:
    """Flatten validated cards; each version ends the day before the next starts."""
    check_versions(cards)
    ordered = sorted(cards, key=lambda c: (c.carrier, c.valid_from))
    following = [*ordered[1:], None]

    def table(rows: Callable[[RateCard], Iterator[Row]], schema: dict) -> pl.DataFrame:
        return pl.DataFrame([row for c in ordered for row in rows(c)], schema=schema)

    return RateCardTables(
        versions=pl.DataFrame(
            [_version_row(c, nxt) for c, nxt in zip(ordered, following, strict=True)],
            schema=VERSIONS_SCHEMA,
        ),
        zones=table(_zone_rows, ZONES_SCHEMA),
        express=table(_express_rows, EXPRESS_SCHEMA),
        per_kg=table(_per_kg_rows, PER_KG_SCHEMA),
        weight_breaks=table(_weight_break_rows, BREAKS_SCHEMA),
        fuel=table(_fuel_rows, FUEL_SCHEMA),
        remote=table(_remote_rows, REMOTE_SCHEMA),
        accessorials=table(_accessorial_rows, ACCESSORIALS_SCHEMA),
        allowed=table(_allowed_rows, ALLOWED_SCHEMA),
    )


def _version_row(c: RateCard, nxt: RateCard | None) -> Row:
    """The card's version row; open-ended, it ends the day before its carrier's next."""
    effective_to = c.valid_to
    if effective_to is None and nxt is not None and nxt.carrier == c.carrier:
        effective_to = nxt.valid_from - timedelta(days=1)
    return {
        "card_key": c.key,
        "carrier": c.carrier,
        "contract": c.contract,
        "contract_version": c.version,
        "valid_from": c.valid_from,
        "valid_to": effective_to,
        "currency": c.currency,
        "shape": c.shape.value,
        "volumetric_divisor": c.volumetric_divisor,
        "increment_g": grams(c.weight_increment_kg),
        "min_weight_g": grams(c.minimum_weight_kg),
        "min_charge_u": price_units(c.minimum_charge),
        "remote_fee_u": price_units(c.remote_area.fee) if c.remote_area else None,
        "has_fuel": bool(c.fuel_percent_by_month),
    }


def _zone_rows(c: RateCard) -> Iterator[Row]:
    """One row per zone, country and postcode range (null range: the whole country)."""
    for z in c.zones:
        for country in z.countries:
            ranges: list[PostcodeRange | None] = [*z.postcodes] or [None]
            for r in ranges:
                yield {
                    "card_key": c.key,
                    "country": country,
                    "postcode_from": normalise_postcode(r.start) if r else None,
                    "postcode_to": normalise_postcode(r.end) if r else None,
                    "zone": z.zone,
                }


def _express_rows(c: RateCard) -> Iterator[Row]:
    if c.shape is Shape.EXPRESS and c.express:
        for p in c.express.prices:
            yield {
                "card_key": c.key,
                "zone": p.zone,
                "first_g": grams(c.express.first_weight_kg),
                "step_g": grams(c.express.additional_weight_kg),
                "first_u": price_units(p.first),
                "additional_u": price_units(p.additional),
            }


def _per_kg_rows(c: RateCard) -> Iterator[Row]:
    for b in c.per_kg or []:
        yield {
            "card_key": c.key,
            "zone": b.zone,
            "up_to_g": grams(b.up_to_kg),
            "per_kg_u": price_units(b.per_kg),
            "registration_u": price_units(b.registration_fee),
        }


def _weight_break_rows(c: RateCard) -> Iterator[Row]:
    for w in c.weight_breaks or []:
        yield {
            "card_key": c.key,
            "zone": w.zone,
            "up_to_g": grams(w.up_to_kg),
            "price_u": price_units(w.price),
        }


def _fuel_rows(c: RateCard) -> Iterator[Row]:
    for month, pct in c.fuel_percent_by_month.items():
        y, m = month.split("-")
        yield {
            "card_key": c.key,
            "month": date(int(y), int(m), 1),
            "fuel_pct_u": percent_units(pct),
        }


def _remote_rows(c: RateCard) -> Iterator[Row]:
    if c.remote_area:
        for remote_range in c.remote_area.postcodes:
            yield {
                "card_key": c.key,
                "country": remote_range.country,
                "remote_from": normalise_postcode(remote_range.start),
                "remote_to": normalise_postcode(remote_range.end),
            }


def _accessorial_rows(c: RateCard) -> Iterator[Row]:
    for a in c.accessorials:
        yield {
            "card_key": c.key,
            "charge_type": a.charge_type,
            "fee_u": price_units(a.fee),
            "always": a.applies is Applies.ALWAYS,
        }


def _allowed_rows(c: RateCard) -> Iterator[Row]:
    for ct in dict.fromkeys(c.allowed_charge_types):
        yield {
            "card_key": c.key,
            "charge_type": ct,
            "pass_through": ct in c.pass_through_charge_types,
        }
