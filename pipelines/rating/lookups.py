"""Per-shipment look-ups against the rate cards, by integer position.

A rate card has few versions, countries, zones and months, but a period has a
million shipments. Joining a million rows on string keys (card, country, zone,
month) is what made rating slow; here every small key is turned into its
position in a short list (a Polars Enum cast is a hash look-up of a handful of
values), the few combinations are laid out as a dense table, and each shipment
takes its value with one `gather` by `card × width + position`. Only what truly
depends on many values (a postcode inside ranges, a weight inside bands) is
resolved per distinct combination and joined back on one integer key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import polars as pl

from pipelines.rating.tables import RateCardTables

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

EPOCH = date(1970, 1, 1)


def position_in(values: Sequence[str], expr: pl.Expr) -> pl.Expr:
    """Position of `expr` in `values` as Int64; null for a value not in the list."""
    if not values:
        return pl.lit(None, pl.Int64)
    return expr.cast(pl.Enum(list(values)), strict=False).to_physical().cast(pl.Int64)


def dense(values: list, dtype: PolarsDataType) -> pl.Expr:
    """A literal lookup table to `gather` from."""
    return pl.lit(pl.Series(values, dtype=dtype))


@dataclass(frozen=True)
class CardGrid:
    """Positions of the cards' small keys: versions (in `tables.versions` order),
    countries and zone labels."""

    tables: RateCardTables
    countries: list[str]
    zones: list[str]

    @staticmethod
    def of(tables: RateCardTables) -> CardGrid:
        countries = sorted(set(tables.zones["country"]) | set(tables.remote["country"]))
        zones = sorted(
            set(tables.zones["zone"])
            | set(tables.express["zone"])
            | set(tables.per_kg["zone"])
            | set(tables.weight_breaks["zone"])
        )
        return CardGrid(tables, countries, zones)

    @property
    def cards(self) -> dict[str, int]:
        return {k: i for i, k in enumerate(self.tables.versions["card_key"])}

    def country_cell(self, card: pl.Expr, country: pl.Expr) -> pl.Expr:
        return card.cast(pl.Int64) * len(self.countries) + position_in(self.countries, country)

    def zone_cell(self, card: pl.Expr, zone_position: pl.Expr) -> pl.Expr:
        return card.cast(pl.Int64) * len(self.zones) + zone_position

    def whole_country_zones(self) -> tuple[pl.Expr, pl.Expr]:
        """(zone position, needs the postcode) per country cell: a country whose card
        splits it by postcode ranges, or lists remote postcodes in it, is resolved
        per postcode; every other shipment takes the card's zone for the country."""
        width = len(self.countries)
        cells = len(self.cards) * width
        zone: list[int | None] = [None] * cells
        needs: list[bool] = [False] * cells
        cards, countries = self.cards, {c: i for i, c in enumerate(self.countries)}
        zones = {z: i for i, z in enumerate(self.zones)}
        for key, country, start, label in self.tables.zones.select(
            "card_key", "country", "postcode_from", "zone"
        ).iter_rows():
            cell = cards[key] * width + countries[country]
            if start is None:
                zone[cell] = zones[label] if zone[cell] is None else zone[cell]
            else:
                needs[cell] = True
        for key, country in self.tables.remote.select("card_key", "country").iter_rows():
            needs[cards[key] * width + countries[country]] = True
        return dense(zone, pl.Int64), dense(needs, pl.Boolean)

    def fuel_percent_by_day(self, card: pl.Expr, day: pl.Expr, first: date, last: date) -> pl.Expr:
        """fuel_pct_u of the card's month for each shipment (null: no % for that month).

        Laid out per card and per day of [first, last] (the shipments' dates), so the
        look-up is integer arithmetic and one gather, with no date parts extracted."""
        fuel = {
            (self.cards[key], _month_number(month)): pct
            for key, month, pct in self.tables.fuel.select(
                "card_key", "month", "fuel_pct_u"
            ).iter_rows()
        }
        days = (last - first).days + 1
        months = [_month_number(first + timedelta(days=d)) for d in range(days)]
        values = [fuel.get((c, m)) for c in range(len(self.cards)) for m in months]
        offset = day.cast(pl.Int64) - (first - EPOCH).days
        return dense(values, pl.Int64).gather(card.cast(pl.Int64) * days + offset)


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1
