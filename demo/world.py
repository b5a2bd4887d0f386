"""The demo business: who it is, where it stocks goods, how it ships, and how big it is.

A cross-border seller with two legal entities (DOMAIN.md, "Glossary": company):
CN01 books in CNY and owns the Chinese warehouses that ship parcels direct to
consumers abroad through consolidators and DHL; US01 books in USD and owns an
overseas warehouse in Los Angeles (UPS), one in Germany (DHL) and stock in a
marketplace's fulfilment centre (the marketplace delivers, so no parcel of ours).
Everything here is data, so docs/demo-data.md and the tests read one declaration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Warehouse:
    code: str
    company: str
    country: str
    kind: str
    order_share: float
    """Share of the daily sales orders fulfilled from here."""
    stocked_share: float
    """Share of the catalogue stocked here."""
    fed_from: str | None = None
    """Replenished by transfers from this warehouse of the same company, else by purchases."""
    transit_days: tuple[int, int] = (0, 0)
    """Inclusive range of days a transfer from `fed_from` spends in transit."""
    lead_days: tuple[int, int] = (4, 9)
    """Inclusive range of days from purchase order to receipt."""
    carriers: tuple[tuple[str, float], ...] = ()
    """(carrier, share) of the parcels shipped from here; empty: the marketplace ships."""
    destinations: tuple[tuple[str, float], ...] = ()
    """(country, share) of the parcels' destinations."""
    landed_cost_share: float = 0.3
    """Share of purchase deliveries that get a landed-cost document."""
    landed_cost_currency: str = "CNY"


COMPANIES: tuple[tuple[str, str], ...] = (("CN01", "CNY"), ("US01", "USD"))

_CROSS_BORDER = (
    ("US", 0.36),
    ("GB", 0.14),
    ("DE", 0.12),
    ("FR", 0.09),
    ("CA", 0.07),
    ("AU", 0.07),
    ("ES", 0.05),
    ("IT", 0.05),
    ("NL", 0.03),
    ("JP", 0.02),
)
_CN_CARRIERS = (("YUNEXPRESS", 0.35), ("YANWEN", 0.25), ("FOURPX", 0.25), ("DHL", 0.15))

WAREHOUSES: tuple[Warehouse, ...] = (
    Warehouse(
        "CNSZ01",
        "CN01",
        "CN",
        "DOMESTIC",
        order_share=0.40,
        stocked_share=0.95,
        fed_from="CNYW01",
        transit_days=(1, 3),
        carriers=_CN_CARRIERS,
        destinations=_CROSS_BORDER,
        landed_cost_share=0.25,
    ),
    Warehouse(
        "CNYW01",
        "CN01",
        "CN",
        "DOMESTIC",
        order_share=0.10,
        stocked_share=0.45,
        lead_days=(3, 8),
        carriers=_CN_CARRIERS,
        destinations=_CROSS_BORDER,
        landed_cost_share=0.25,
    ),
    Warehouse(
        "USLA01",
        "US01",
        "US",
        "OVERSEAS",
        order_share=0.25,
        stocked_share=0.30,
        lead_days=(18, 30),
        carriers=(("UPS", 1.0),),
        destinations=(("US", 1.0),),
        landed_cost_share=0.7,
        landed_cost_currency="USD",
    ),
    Warehouse(
        "DEFR01",
        "US01",
        "DE",
        "OVERSEAS",
        order_share=0.10,
        stocked_share=0.20,
        lead_days=(20, 35),
        carriers=(("DHL", 1.0),),
        destinations=(
            ("DE", 0.45),
            ("FR", 0.15),
            ("IT", 0.1),
            ("ES", 0.1),
            ("NL", 0.2),
        ),
        landed_cost_share=0.7,
        landed_cost_currency="EUR",
    ),
    Warehouse(
        "USAMZ1",
        "US01",
        "US",
        "MARKETPLACE",
        order_share=0.15,
        stocked_share=0.15,
        fed_from="USLA01",
        transit_days=(3, 7),
    ),
)

CARRIER_SERVICE: dict[str, str] = {
    "DHL": "EXPRESS_WORLDWIDE",
    "UPS": "WW_SAVER",
    "FOURPX": "4PX_STANDARD",
    "YUNEXPRESS": "YUN_PREMIUM",
    "YANWEN": "YW_REGISTERED",
}
CARRIERS: tuple[str, ...] = tuple(CARRIER_SERVICE)


@dataclass(frozen=True)
class PostcodeRule:
    """How a country's postcodes look, and which ranges a carrier treats as remote.

    Numeric postcodes are drawn from [low, high] and zero-padded to `digits`;
    `remote` lists inclusive numeric ranges that the demo rate cards price as
    remote areas (DOMAIN.md, "Carrier rate cards": remote-area fee).
    """

    digits: int
    low: int
    high: int
    remote: tuple[tuple[int, int], ...] = ()
    remote_share: float = 0.04


POSTCODES: dict[str, PostcodeRule] = {
    "US": PostcodeRule(5, 1001, 99950, remote=((99500, 99950), (96700, 96899))),
    "DE": PostcodeRule(5, 1067, 99998, remote=((18565, 18565), (25938, 25999), (26465, 26486))),
    "FR": PostcodeRule(5, 1000, 95999, remote=((20000, 20999),)),
    "IT": PostcodeRule(5, 10, 98168, remote=((7010, 7100), (90010, 98168))),
    "ES": PostcodeRule(5, 1001, 52080, remote=((35000, 35999), (38000, 38999))),
    "NL": PostcodeRule(4, 1011, 9999),
    "AU": PostcodeRule(4, 800, 7470, remote=((800, 899), (6700, 6799))),
    "CA": PostcodeRule(0, 0, 0),
    "GB": PostcodeRule(0, 0, 0),
    "JP": PostcodeRule(7, 1000000, 9999999),
}
"""GB and CA postcodes are alphanumeric (drawn from `ALNUM_POSTCODES`)."""

ALNUM_POSTCODES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "GB": (
        ("EC1A 1BB", "SW1A 2AA", "M1 1AE", "B33 8TH", "LS1 4AP", "CR2 6XH", "G1 1XQ"),
        ("HS1 2AD", "ZE1 0AA", "KW15 1NX", "IV27 4EJ"),
    ),
    "CA": (("M5V 3L9", "H3Z 2Y7", "V6B 4Y8", "T2P 1J9", "K1A 0B1"), ("X0A 0H0", "Y1A 2C6")),
}
"""Per country: (ordinary postcodes, remote-area postcodes)."""


@dataclass(frozen=True)
class AnomalyRates:
    """How often each injected anomaly occurs; ground_truth/ records every one.

    Rates are per eligible item (stated per field), drawn exactly (a fixed count
    = round(rate x eligible)), so the tests can check counts against the rates.
    """

    late_document: float = 0.01
    """Movements delivered 1-5 days after the day they occurred."""
    negative_stock_receipt: float = 0.02
    """Receipts recorded after the sales that consumed them (same day, 23:xx)."""
    snapshot_discrepancy: float = 0.0005
    """WMS snapshot rows whose quantity differs from the true physical stock."""
    duplicate: float = 0.005
    """Billed shipments with one charge billed again (same bill or the next one)."""
    weight_discrepancy: float = 0.005
    """Billed shipments up to 15 kg billed at a weight above ours beyond tolerance."""
    rate_mismatch: float = 0.005
    """Billed shipments whose freight amount is off contract."""
    fuel_mismatch: float = 0.004
    """Billed shipments with a fuel line whose surcharge is off the month's percentage."""
    unknown_shipment: float = 0.002
    """Extra lines per billed shipment for tracking numbers we never shipped with the carrier."""
    uncontracted_charge: float = 0.002
    """Billed shipments charged a type the contract does not allow."""
    unbilled: float = 0.004
    """Shipments of closed billing periods the carrier never billed."""


@dataclass(frozen=True)
class Volume:
    """What `--scale` multiplies (docs/demo-data.md, "Scale").

    The daily order volume grows linearly, 25 orders per scale unit on top of a
    base of 125, and the catalogue with the square root of scale (a business ten
    times the size sells more of each SKU, not ten times as many SKUs).
    """

    scale: int
    orders_per_day: int = field(init=False)
    skus: int = field(init=False)

    def __post_init__(self) -> None:
        if self.scale < 1:
            raise ValueError(f"scale must be >= 1, got {self.scale}")
        object.__setattr__(self, "orders_per_day", 25 * (self.scale + 5))
        object.__setattr__(self, "skus", round(2000 * math.sqrt(self.scale)))


WEEKDAY_FACTOR: tuple[float, ...] = (1.10, 1.05, 1.00, 1.00, 0.95, 0.85, 1.05)
"""Monday..Sunday demand multipliers: weekly seasonality of online retail."""
