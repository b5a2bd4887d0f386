"""Parcels from the day's sales: one shipment per sales order we deliver ourselves.

An order's lines leave one warehouse together, so the shipment weighs the sum
of its SKUs x quantity plus packaging and measures the largest SKU footprint
stacked to the total height. Orders from the marketplace's own warehouse are
delivered by the marketplace and produce no shipment of ours. The shipment
carries the order id the issues carry in `reference`, so per-order margin can
join COGS and freight (DOMAIN.md, "Outputs": landed margin per order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from demo.events import DAY_US, ISSUE, SECOND_US
from demo.ledger import Day, Simulation
from demo.reference import scaled_decimal
from demo.tables import padded
from demo.world import ALNUM_POSTCODES, CARRIER_SERVICE, CARRIERS, POSTCODES, WAREHOUSES
from pipelines.contracts import types as t

UNKNOWN_COUNTER_BASE = 10_000_000
"""Tracking counters at or above this are never shipped: bills use them for unknown parcels."""
_SCRAMBLE = 1_000_003
"""A prime: counter x prime + offset (mod 10^k) is a bijection, so tracking numbers never repeat."""


@dataclass(frozen=True)
class TrackingFormat:
    prefix: str
    digits: int
    suffix: str = ""


TRACKING: dict[str, TrackingFormat] = {
    "DHL": TrackingFormat("", 10),
    "UPS": TrackingFormat("1ZA8R47603", 8),
    "FOURPX": TrackingFormat("4PX", 13, "CN"),
    "YUNEXPRESS": TrackingFormat("YT", 16),
    "YANWEN": TrackingFormat("UG", 9, "CN"),
}
"""DHL: 10 digits; UPS: 1Z + shipper A8R476 + service 03 + 8 digits (1Z + 16 alphanumerics);
4PX + 13 digits + CN; YT + 16 digits; UG + 9 digits + CN (demo/world carrier table)."""


def tracking_numbers(carrier: str, counters: np.ndarray, offset: int) -> pl.Series:
    fmt = TRACKING[carrier]
    modulus = 10**fmt.digits
    # int64 is enough: counters stay below 10^8 and offsets below 10^16.
    body = (counters.astype(np.int64) * _SCRAMBLE + offset) % modulus
    values = pl.Series("n", body, dtype=pl.Int64).cast(pl.String).str.zfill(fmt.digits)
    return (fmt.prefix + values + fmt.suffix).alias("tracking_number")


def tracking_offsets(rng: np.random.Generator) -> dict[str, int]:
    """Per-carrier scramble offsets; bills reuse them so 'never shipped' numbers never collide."""
    return {c: int(rng.integers(0, 10 ** TRACKING[c].digits)) for c in CARRIERS}


def _postcodes(rng: np.random.Generator, countries: np.ndarray) -> np.ndarray:
    """Realistic postcodes per destination; a few in each country's remote-area ranges."""
    out = np.empty(len(countries), dtype=object)
    for country in np.unique(countries):
        m = np.flatnonzero(countries == country)
        if country in ALNUM_POSTCODES:
            ordinary, remote = ALNUM_POSTCODES[country]
            far = rng.random(len(m)) < 0.04
            out[m] = np.where(far, rng.choice(remote, len(m)), rng.choice(ordinary, len(m)))
            continue
        rule = POSTCODES[country]
        codes = rng.integers(rule.low, rule.high + 1, len(m))
        if rule.remote:
            far = rng.random(len(m)) < rule.remote_share
            ranges = np.array(rule.remote)[rng.integers(0, len(rule.remote), len(m))]
            codes = np.where(far, rng.integers(ranges[:, 0], ranges[:, 1] + 1), codes)
        out[m] = pl.Series(codes).cast(pl.String).str.zfill(rule.digits).to_numpy()
    return out


class ShipmentMaker:
    """Turns each day's issues into shipments; keeps per-carrier tracking counters."""

    def __init__(self, sim: Simulation, offsets: dict[str, int]) -> None:
        self.sim = sim
        self.counters = dict.fromkeys(CARRIERS, 0)
        self.offsets = offsets

    def day(self, day: Day) -> pl.DataFrame:
        sim, rng, m = self.sim, self.sim.rng, day.movements
        cat, n = sim.catalogue, sim.catalogue.size
        issues = np.flatnonzero(m.kind == ISSUE)
        wh = m.pool[issues] // n
        ships = np.isin(wh, [i for i, w in enumerate(WAREHOUSES) if w.carriers])
        issues, wh = issues[ships], wh[ships]
        sku, qty = m.pool[issues] % n, m.qty[issues]
        lines = pl.DataFrame(
            {
                "order": m.ref[issues],
                "wh": wh,
                "time_us": m.time_us[issues],
                "weight_g": cat.weight_g[sku] * qty,
                "length_mm": cat.length_mm[sku],
                "width_mm": cat.width_mm[sku],
                "height_mm": cat.height_mm[sku] * qty,
            }
        )
        orders = (
            lines.group_by("order")
            .agg(
                pl.col("wh").first(),
                pl.col("time_us").max(),
                pl.col("weight_g").sum(),
                pl.col("length_mm").max(),
                pl.col("width_mm").max(),
                pl.col("height_mm").sum().clip(upper_bound=1500),
            )
            .sort("order")
        )
        count = orders.height
        wh_of = orders["wh"].to_numpy()
        carrier = np.empty(count, dtype=object)
        country = np.empty(count, dtype=object)
        for w, house in enumerate(WAREHOUSES):
            sel = np.flatnonzero(wh_of == w)
            if not len(sel) or not house.carriers:
                continue
            names, shares = zip(*house.carriers, strict=True)
            carrier[sel] = rng.choice(names, len(sel), p=np.array(shares) / sum(shares))
            names, shares = zip(*house.destinations, strict=True)
            country[sel] = rng.choice(names, len(sel), p=np.array(shares) / sum(shares))
        tracking = pl.Series("tracking_number", [""] * count, dtype=pl.String)
        for c in CARRIERS:
            sel = np.flatnonzero(carrier == c)
            if len(sel):
                counters = np.arange(self.counters[c] + 1, self.counters[c] + 1 + len(sel))
                self.counters[c] += len(sel)
                tracking = tracking.scatter(sel, tracking_numbers(c, counters, self.offsets[c]))
        day_end = sim.day_us(day.index) + DAY_US - SECOND_US
        shipped = np.minimum(
            orders["time_us"].to_numpy() + rng.integers(3600, 4 * 3600, count) * SECOND_US, day_end
        )
        packaging_g = rng.integers(40, 200, count)
        frame = orders.with_columns(
            pl.Series("carrier", carrier.astype(str) if count else [], dtype=pl.String),
            pl.Series("country", country.astype(str) if count else [], dtype=pl.String),
            pl.Series("postcode", _postcodes(rng, country) if count else [], dtype=pl.String),
            tracking,
            pl.Series("shipped_us", shipped, dtype=pl.Int64),
            (pl.col("weight_g") + pl.Series(packaging_g, dtype=pl.Int64)).alias("weight_g"),
        )
        return frame.select(
            padded("SH", pl.col("order"), 10).alias("shipment_id"),
            "tracking_number",
            "carrier",
            pl.col("carrier")
            .replace_strict(CARRIER_SERVICE, return_dtype=pl.String)
            .alias("service"),
            pl.col("shipped_us").cast(pl.Datetime("us")).alias("shipped_at"),
            pl.col("wh")
            .replace_strict(dict(enumerate(w.company for w in WAREHOUSES)), return_dtype=pl.String)
            .alias("company"),
            pl.col("wh")
            .replace_strict(dict(enumerate(w.code for w in WAREHOUSES)), return_dtype=pl.String)
            .alias("warehouse"),
            pl.col("country").alias("destination_country"),
            pl.col("postcode").alias("destination_postcode"),
            pl.lit(1, dtype=t.QUANTITY).alias("parcels"),
            scaled_decimal(pl.col("weight_g"), 3, t.WEIGHT_KG).alias("weight_kg"),
            scaled_decimal(pl.col("length_mm"), 1, t.LENGTH_CM).alias("length_cm"),
            scaled_decimal(pl.col("width_mm"), 1, t.LENGTH_CM).alias("width_cm"),
            scaled_decimal(pl.col("height_mm"), 1, t.LENGTH_CM).alias("height_cm"),
            padded("SO", pl.col("order"), 10).alias("order_id"),
        )
