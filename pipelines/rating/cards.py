"""Rate cards: one validated model for the three price-list shapes in DOMAIN.md.

DOMAIN.md ("Carrier rate cards"): express first/additional weight steps by zone,
postal/consolidator price per kg by weight band plus a registration fee per
parcel, and a flat table of prices per weight break. All share validity dates,
currency, a volumetric divisor, a weight increment, a minimum weight and charge,
fuel % by month, remote-area postcodes, other accessorials and the list of
charge types the contract allows. One YAML file holds one contract version
(docs/rate-cards.md), read by storage/config.py; errors name the file and the field.
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.contracts.bills import CHARGE_TYPES

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

PositiveDecimal = Annotated[Decimal, Field(gt=0)]
NonNegativeDecimal = Annotated[Decimal, Field(ge=0)]


class RateCardError(ValueError):
    """Rate cards that cannot be used together; the message names the cards."""


class Shape(StrEnum):
    EXPRESS = "EXPRESS"
    PER_KG = "PER_KG"
    WEIGHT_BREAK = "WEIGHT_BREAK"


class Applies(StrEnum):
    ALWAYS = "ALWAYS"
    """Charged on every shipment: expected (and accrued) for all of them."""
    ON_DEMAND = "ON_DEMAND"
    """Charged only when the carrier observes a condition we cannot see
    (residential address, address correction): checked against the fee when
    billed, never accrued."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PostcodeRange(_Strict):
    start: str = Field(alias="from", min_length=1)
    end: str = Field(alias="to", min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> PostcodeRange:
        if normalise_postcode(self.start) > normalise_postcode(self.end):
            raise ValueError(f"postcode range {self.start}..{self.end} is reversed")
        return self


class Zone(_Strict):
    zone: str = Field(min_length=1)
    countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = Field(min_length=1)
    postcodes: list[PostcodeRange] = Field(default_factory=list)
    """Empty: the whole of each country. Otherwise only these ranges."""


class ExpressPrice(_Strict):
    zone: str
    first: NonNegativeDecimal
    additional: NonNegativeDecimal


class Express(_Strict):
    first_weight_kg: PositiveDecimal
    additional_weight_kg: PositiveDecimal
    prices: list[ExpressPrice] = Field(min_length=1)


class PerKgBand(_Strict):
    zone: str
    up_to_kg: PositiveDecimal
    per_kg: NonNegativeDecimal
    registration_fee: NonNegativeDecimal = Decimal(0)


class WeightBreak(_Strict):
    zone: str
    up_to_kg: PositiveDecimal
    price: NonNegativeDecimal


class RemoteRange(_Strict):
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    start: str = Field(alias="from", min_length=1)
    end: str = Field(alias="to", min_length=1)


class RemoteArea(_Strict):
    fee: NonNegativeDecimal
    postcodes: list[RemoteRange] = Field(min_length=1)


class Accessorial(_Strict):
    charge_type: str
    fee: NonNegativeDecimal
    applies: Applies = Applies.ON_DEMAND


class RateCard(_Strict):
    carrier: str = Field(pattern=r"^[A-Z0-9_]+$")
    contract: str = Field(min_length=1)
    version: int = Field(ge=1)
    valid_from: date
    valid_to: date | None = None
    """Inclusive; when absent the version runs until the next one starts."""
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    shape: Shape
    volumetric_divisor: int | None = Field(default=None, gt=0)
    """cm³ per kg; absent: the contract bills actual weight only."""
    weight_increment_kg: PositiveDecimal = Decimal("0.001")
    minimum_weight_kg: NonNegativeDecimal = Decimal(0)
    minimum_charge: NonNegativeDecimal = Decimal(0)
    zones: list[Zone] = Field(min_length=1)
    express: Express | None = None
    per_kg: list[PerKgBand] | None = None
    weight_breaks: list[WeightBreak] | None = None
    fuel_percent_by_month: dict[str, NonNegativeDecimal] = Field(default_factory=dict)
    remote_area: RemoteArea | None = None
    accessorials: list[Accessorial] = Field(default_factory=list)
    pass_through_charge_types: list[str] = Field(default_factory=list)
    """Allowed charges the contract cannot price (duties, import VAT): approved as billed."""
    allowed_charge_types: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> RateCard:
        problems = _problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def key(self) -> str:
        return f"{self.carrier}:{self.contract}:v{self.version}"


def _problems(card: RateCard) -> list[str]:
    """Every inconsistency of a card at once (not the first), so one read of the error
    fixes the file: validity, shape tables, charge types, prices per zone, grams."""
    out: list[str] = []
    if card.valid_to is not None and card.valid_to < card.valid_from:
        out.append(f"valid_to {card.valid_to} is before valid_from {card.valid_from}")
    out += _shape_problems(card)
    out += _charge_type_problems(card)
    out += _priced_charge_problems(card)
    for month in card.fuel_percent_by_month:
        if not MONTH.match(month):
            out.append(f"fuel_percent_by_month key {month!r} is not YYYY-MM")
    out += _zone_price_problems(card)
    out += _gram_problems(card)
    return out


def _shape_problems(card: RateCard) -> list[str]:
    """The card's shape has its price table, and no other shape's table is given."""
    out: list[str] = []
    tables = {
        Shape.EXPRESS: card.express,
        Shape.PER_KG: card.per_kg,
        Shape.WEIGHT_BREAK: card.weight_breaks,
    }
    for shape, table in tables.items():
        field = shape.value.lower() if shape is not Shape.WEIGHT_BREAK else "weight_breaks"
        if shape is card.shape and not table:
            out.append(f"shape {shape.value} needs a non-empty '{field}' table")
        if shape is not card.shape and table:
            out.append(f"'{field}' is given but shape is {card.shape.value}")
    return out


def _charge_type_problems(card: RateCard) -> list[str]:
    """Every charge type named is a canonical one, and each accessorial is priced once."""
    out: list[str] = []
    for name in [
        *card.allowed_charge_types,
        *card.pass_through_charge_types,
        *(a.charge_type for a in card.accessorials),
    ]:
        if name not in CHARGE_TYPES:
            out.append(f"unknown charge type {name!r} (known: {', '.join(CHARGE_TYPES)})")
    accessorial_types = [a.charge_type for a in card.accessorials]
    repeated = sorted({c for c in accessorial_types if accessorial_types.count(c) > 1})
    if repeated:
        out.append(f"accessorials repeat charge types {repeated}")
    return out


def _priced_charge_problems(card: RateCard) -> list[str]:
    """The allowed charge types are exactly the ones the card can price (or passes
    through): an allowed charge without a price could never be checked."""
    out: list[str] = []
    allowed = set(card.allowed_charge_types)
    priced = {"FREIGHT"}
    if card.fuel_percent_by_month:
        priced.add("FUEL")
    if card.remote_area:
        priced.add("REMOTE_AREA")
    if card.per_kg and any(b.registration_fee > 0 for b in card.per_kg):
        priced.add("REGISTRATION")
    priced |= {a.charge_type for a in card.accessorials}
    priced |= set(card.pass_through_charge_types)
    missing = sorted(priced - allowed)
    if missing:
        out.append(f"allowed_charge_types must include the priced charges {missing}")
    unpriced = sorted(allowed - priced)
    if unpriced:
        out.append(
            f"allowed charge types {unpriced} have no price: give them a fee (accessorials, "
            "fuel_percent_by_month, remote_area, registration_fee) or list them in "
            "pass_through_charge_types"
        )
    return out


def _zone_price_problems(card: RateCard) -> list[str]:
    """Each declared zone has a price, each price a declared zone, each band one row."""
    out: list[str] = []
    zones = {z.zone for z in card.zones}
    price_zones: list[str] = []
    if card.express:
        price_zones = [p.zone for p in card.express.prices]
        repeated_zones = {z for z in price_zones if price_zones.count(z) > 1}
        if repeated_zones:
            out.append(f"express prices repeat zones {sorted(repeated_zones)}")
    for rows, label in ((card.per_kg, "per_kg"), (card.weight_breaks, "weight_breaks")):
        if rows:
            price_zones = [r.zone for r in rows]
            bands = [(r.zone, r.up_to_kg) for r in rows]
            repeated_bands = {band for band in bands if bands.count(band) > 1}
            if repeated_bands:
                out.append(f"{label} repeats (zone, up_to_kg) {sorted(repeated_bands)}")
    unpriced = sorted(zones - set(price_zones))
    if price_zones and unpriced:
        out.append(f"zones without a price: {unpriced}")
    unknown = sorted(set(price_zones) - zones)
    if unknown:
        out.append(f"prices for zones not declared in 'zones': {unknown}")
    return out


def _gram_problems(card: RateCard) -> list[str]:
    """Weights are computed in whole grams: a finer increment or minimum would be rounded."""
    out: list[str] = []
    for name, value in (
        ("weight_increment_kg", card.weight_increment_kg),
        ("minimum_weight_kg", card.minimum_weight_kg),
    ):
        if value * 1000 != (value * 1000).to_integral_value():
            out.append(f"{name} {value} is finer than a gram")
    return out


def normalise_postcode(code: str) -> str:
    """Upper case without spaces or dashes: ranges compare as strings of this form."""
    return re.sub(r"[\s\-]", "", code).upper()


def check_versions(cards: list[RateCard], names: list[str] | None = None) -> None:
    """Versions of one carrier must not overlap: a new version replaces the old
    one from its `valid_from` (DOMAIN.md, "validity dates"), so two versions
    starting the same day, or an explicit `valid_to` reaching into the next
    version, are errors rather than a silent choice."""
    names = names or [c.key for c in cards]
    by_carrier: dict[str, list[tuple[RateCard, str]]] = {}
    for card, name in zip(cards, names, strict=True):
        by_carrier.setdefault(card.carrier, []).append((card, name))
    for carrier, items in by_carrier.items():
        items.sort(key=lambda x: x[0].valid_from)
        for (a, a_name), (b, b_name) in itertools.pairwise(items):
            if a.valid_from == b.valid_from:
                raise RateCardError(
                    f"{a_name} and {b_name}: two {carrier} versions start on {a.valid_from}"
                )
            if a.valid_to is not None and a.valid_to >= b.valid_from:
                raise RateCardError(
                    f"{a_name}: valid_to {a.valid_to} overlaps {b_name} from {b.valid_from}"
                )
