"""Row-by-row reference pricer: plain Python and Decimal, one shipment at a time.

Not for production: it is the test oracle for the set-based engine and the
baseline the benchmark measures it against (issue 5 item 8). It reads the
validated RateCard objects directly, so it shares no code with the engine's
joins and integer arithmetic, only the rules of DOMAIN.md "Carrier rate cards".
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal

import polars as pl

from pipelines.contracts.rating import EXPECTED_CHARGES
from pipelines.money import ceil_to, round_cents
from pipelines.rating.cards import Applies, RateCard, Shape, normalise_postcode
from pipelines.tracking import normal_tracking


@dataclass(frozen=True)
class ReferenceRating:
    card_key: str | None
    zone: str | None
    chargeable_weight_kg: Decimal | None
    charges: dict[str, Decimal]
    unrated_reason: str | None = None


def _card_for(cards: list[RateCard], carrier: str, day: date) -> RateCard | None:
    mine = sorted((c for c in cards if c.carrier == carrier), key=lambda c: c.valid_from)
    chosen = None
    for i, c in enumerate(mine):
        end = c.valid_to
        if end is None and i + 1 < len(mine):
            end = date.fromordinal(mine[i + 1].valid_from.toordinal() - 1)
        if c.valid_from <= day and (end is None or day <= end):
            chosen = c
    return chosen


def _zone(card: RateCard, country: str, postcode: str | None) -> str | None:
    pc = normalise_postcode(postcode) if postcode else None
    whole = None
    for z in card.zones:
        if country not in z.countries:
            continue
        if not z.postcodes:
            whole = whole or z.zone
            continue
        for r in z.postcodes:
            if pc is not None and normalise_postcode(r.start) <= pc <= normalise_postcode(r.end):
                return z.zone
    return whole


def price_freight(
    card: RateCard, zone: str, weight: Decimal, parcels: int
) -> tuple[Decimal, Decimal] | None:
    """(freight, registration) for a chargeable weight, or None if no price exists."""
    registration = Decimal(0)
    if card.shape is Shape.EXPRESS and card.express:
        row = next((p for p in card.express.prices if p.zone == zone), None)
        if row is None:
            return None
        extra = max(weight - card.express.first_weight_kg, Decimal(0))
        steps = (extra / card.express.additional_weight_kg).to_integral_value(
            rounding=ROUND_CEILING
        )
        freight = row.first + steps * row.additional
    else:
        rows = card.per_kg if card.shape is Shape.PER_KG else card.weight_breaks
        fits = sorted(
            (r for r in rows or [] if r.zone == zone and weight <= r.up_to_kg),
            key=lambda r: r.up_to_kg,
        )
        if not fits:
            return None
        band = fits[0]
        if card.shape is Shape.PER_KG:
            freight = band.per_kg * weight
            registration = round_cents(band.registration_fee * parcels)
        else:
            freight = band.price
    return max(round_cents(freight), round_cents(card.minimum_charge)), registration


def chargeable_weight(
    card: RateCard, weight_kg: Decimal, dims: tuple[Decimal, Decimal, Decimal], parcels: int
) -> Decimal:
    volumetric = Decimal(0)
    if card.volumetric_divisor:
        length, width, height = dims
        volumetric = length * width * height * parcels / card.volumetric_divisor
    return ceil_to(max(weight_kg, volumetric, card.minimum_weight_kg), card.weight_increment_kg)


def rate_one(
    cards: list[RateCard],
    carrier: str,
    shipped_at: datetime,
    country: str,
    postcode: str | None,
    parcels: int,
    weight_kg: Decimal,
    dims: tuple[Decimal, Decimal, Decimal],
) -> ReferenceRating:
    day = shipped_at.date()
    card = _card_for(cards, carrier, day)
    if card is None:
        return ReferenceRating(None, None, None, {}, f"no {carrier} rate card valid on {day}")
    zone = _zone(card, country, postcode)
    if zone is None:
        return ReferenceRating(card.key, None, None, {}, "no zone")
    weight = chargeable_weight(card, weight_kg, dims, parcels)
    priced = price_freight(card, zone, weight, parcels)
    if priced is None:
        return ReferenceRating(card.key, zone, weight, {}, "no price")
    freight, registration = priced
    charges = {"FREIGHT": freight}
    if card.fuel_percent_by_month:
        pct = card.fuel_percent_by_month.get(day.strftime("%Y-%m"))
        if pct is None:
            return ReferenceRating(card.key, zone, weight, {}, "no fuel %")
        if round_cents(freight * pct / 100) > 0:
            charges["FUEL"] = round_cents(freight * pct / 100)
    if card.remote_area and postcode:
        pc = normalise_postcode(postcode)
        if (
            any(
                r.country == country
                and normalise_postcode(r.start) <= pc <= normalise_postcode(r.end)
                for r in card.remote_area.postcodes
            )
            and card.remote_area.fee > 0
        ):
            charges["REMOTE_AREA"] = round_cents(card.remote_area.fee)
    if registration > 0:
        charges["REGISTRATION"] = registration
    for acc in card.accessorials:
        if acc.applies is Applies.ALWAYS and acc.fee > 0:
            charges[acc.charge_type] = round_cents(acc.fee)
    return ReferenceRating(card.key, zone, weight, charges)


def rate_rows(cards: list[RateCard], shipments: list[dict]) -> dict[str, ReferenceRating]:
    """shipment_id -> rating, one shipment at a time (the benchmark baseline)."""
    return {s["shipment_id"]: rate_row(cards, s) for s in shipments}


def rate_row(cards: list[RateCard], s: dict) -> ReferenceRating:
    """`rate_one` of a SHIPMENTS row given as a dict."""
    return rate_one(
        cards,
        s["carrier"],
        s["shipped_at"],
        s["destination_country"],
        s["destination_postcode"],
        s["parcels"],
        s["weight_kg"],
        (s["length_cm"], s["width_cm"], s["height_cm"]),
    )


class _FxBook:
    """Rates per (currency, to_currency), looked up as the latest on or before a day."""

    def __init__(self, fx_rates: pl.DataFrame, companies: pl.DataFrame) -> None:
        self.functional = dict(companies.select("company", "functional_currency").iter_rows())
        self.rates: dict[tuple[str, str], tuple[list[date], list[Decimal]]] = {}
        for day, ccy, to_ccy, rate in (
            fx_rates.sort("rate_date")
            .select("rate_date", "currency", "to_currency", "rate")
            .iter_rows()
        ):
            days, values = self.rates.setdefault((ccy, to_ccy), ([], []))
            days.append(day)
            values.append(Decimal(rate))

    def rate(self, currency: str, company: str, day: date) -> tuple[str, Decimal]:
        functional = self.functional[company]
        if functional == currency:
            return functional, Decimal(1)
        days, values = self.rates[(currency, functional)]
        return functional, values[bisect_right(days, day) - 1]


def expected_charges_rows(
    cards: list[RateCard], shipments: pl.DataFrame, fx_rates: pl.DataFrame, companies: pl.DataFrame
) -> pl.DataFrame:
    """The EXPECTED_CHARGES table built row by row: each shipment read as a Python
    row, priced by `rate_one`, converted to functional currency with the rate of its
    ship date, and appended as rows; the frame is made once at the end.

    The benchmark baseline for `rate_shipments` (issue 5 item 8): same input frame,
    same output table (the benchmark checks they are equal), one row at a time.
    """
    book = _FxBook(fx_rates, companies)
    out: list[tuple] = []
    for s in shipments.iter_rows(named=True):
        rating = rate_row(cards, s)
        if rating.unrated_reason is not None:
            continue
        card = next(c for c in cards if c.key == rating.card_key)
        day = s["shipped_at"].date()
        functional, rate = book.rate(card.currency, s["company"], day)
        tracking = normal_tracking(s["tracking_number"])
        for charge_type, amount in rating.charges.items():
            out.append(
                (
                    s["shipment_id"],
                    s["carrier"],
                    tracking,
                    day,
                    charge_type,
                    amount,
                    card.currency,
                    functional,
                    round_cents(amount * rate),
                )
            )
    return pl.DataFrame(out, schema=EXPECTED_CHARGES.schema, orient="row")
