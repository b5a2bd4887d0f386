"""Rate cards flattened into small Polars tables the set-based engine joins against.

Every price is an integer in price units, every weight in grams (money.py), so
a whole period's shipments are priced with joins and integer arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

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


def build_tables(cards: list[RateCard]) -> RateCardTables:
    """Flatten validated cards; each version ends the day before the next starts."""
    check_versions(cards)
    ordered = sorted(cards, key=lambda c: (c.carrier, c.valid_from))
    versions, zones, express, per_kg, breaks = [], [], [], [], []
    fuel, remote, acc, allowed = [], [], [], []
    for i, c in enumerate(ordered):
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        effective_to = c.valid_to
        if effective_to is None and nxt is not None and nxt.carrier == c.carrier:
            effective_to = nxt.valid_from - timedelta(days=1)
        k = c.key
        versions.append(
            {
                "card_key": k,
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
        )
        for z in c.zones:
            for country in z.countries:
                ranges: list[PostcodeRange | None] = [*z.postcodes] or [None]
                for r in ranges:
                    zones.append(
                        {
                            "card_key": k,
                            "country": country,
                            "postcode_from": normalise_postcode(r.start) if r else None,
                            "postcode_to": normalise_postcode(r.end) if r else None,
                            "zone": z.zone,
                        }
                    )
        if c.shape is Shape.EXPRESS and c.express:
            for p in c.express.prices:
                express.append(
                    {
                        "card_key": k,
                        "zone": p.zone,
                        "first_g": grams(c.express.first_weight_kg),
                        "step_g": grams(c.express.additional_weight_kg),
                        "first_u": price_units(p.first),
                        "additional_u": price_units(p.additional),
                    }
                )
        for b in c.per_kg or []:
            per_kg.append(
                {
                    "card_key": k,
                    "zone": b.zone,
                    "up_to_g": grams(b.up_to_kg),
                    "per_kg_u": price_units(b.per_kg),
                    "registration_u": price_units(b.registration_fee),
                }
            )
        for w in c.weight_breaks or []:
            breaks.append(
                {
                    "card_key": k,
                    "zone": w.zone,
                    "up_to_g": grams(w.up_to_kg),
                    "price_u": price_units(w.price),
                }
            )
        for month, pct in c.fuel_percent_by_month.items():
            y, m = month.split("-")
            fuel.append(
                {"card_key": k, "month": date(int(y), int(m), 1), "fuel_pct_u": percent_units(pct)}
            )
        if c.remote_area:
            for remote_range in c.remote_area.postcodes:
                remote.append(
                    {
                        "card_key": k,
                        "country": remote_range.country,
                        "remote_from": normalise_postcode(remote_range.start),
                        "remote_to": normalise_postcode(remote_range.end),
                    }
                )
        for a in c.accessorials:
            acc.append(
                {
                    "card_key": k,
                    "charge_type": a.charge_type,
                    "fee_u": price_units(a.fee),
                    "always": a.applies is Applies.ALWAYS,
                }
            )
        for ct in dict.fromkeys(c.allowed_charge_types):
            allowed.append(
                {
                    "card_key": k,
                    "charge_type": ct,
                    "pass_through": ct in c.pass_through_charge_types,
                }
            )
    return RateCardTables(
        versions=pl.DataFrame(
            versions,
            schema={
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
            },
        ),
        zones=pl.DataFrame(
            zones,
            schema={
                "card_key": _S,
                "country": _S,
                "postcode_from": _S,
                "postcode_to": _S,
                "zone": _S,
            },
        ),
        express=pl.DataFrame(
            express,
            schema={
                "card_key": _S,
                "zone": _S,
                "first_g": _I,
                "step_g": _I,
                "first_u": _I,
                "additional_u": _I,
            },
        ),
        per_kg=pl.DataFrame(
            per_kg,
            schema={
                "card_key": _S,
                "zone": _S,
                "up_to_g": _I,
                "per_kg_u": _I,
                "registration_u": _I,
            },
        ),
        weight_breaks=pl.DataFrame(
            breaks, schema={"card_key": _S, "zone": _S, "up_to_g": _I, "price_u": _I}
        ),
        fuel=pl.DataFrame(fuel, schema={"card_key": _S, "month": pl.Date, "fuel_pct_u": _I}),
        remote=pl.DataFrame(
            remote,
            schema={"card_key": _S, "country": _S, "remote_from": _S, "remote_to": _S},
        ),
        accessorials=pl.DataFrame(
            acc, schema={"card_key": _S, "charge_type": _S, "fee_u": _I, "always": pl.Boolean}
        ),
        allowed=pl.DataFrame(
            allowed, schema={"card_key": _S, "charge_type": _S, "pass_through": pl.Boolean}
        ),
    )
