"""Realistic rate cards and carriers.yaml for the five demo carriers.

One YAML file per contract version (docs/rate-cards.md): DHL express by zone
with two versions switching over mid-range and fuel % changing monthly, UPS
express with on-demand accessorials, 4PX a flat weight-break table, YunExpress
and Yanwen postal per-kg bands with a registration fee and a minimum weight.
Every card covers `DEMO_COUNTRIES`, so any demo shipment to them can be rated.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from storage.layout import DataLayout

DEMO_COUNTRIES = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "CA", "AU", "JP")
"""Destinations every demo rate card prices."""

DEMO_REMOTE_POSTCODES = {
    "DHL": (("US", "99500", "99999"), ("AU", "0800", "0899")),
}
"""Remote-area postcode ranges (country, from, to) of the cards that charge one."""

DHL_SWITCH_FRACTION = Decimal("0.5")
"""DHL v2 starts this far into the requested range."""


def _months(start: date, end: date) -> list[str]:
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _fuel(months: list[str], base: str, step: str) -> dict[str, str]:
    """A fuel % that moves every month (up, up, down...) as fuel indices do."""
    pattern = (0, 1, 2, 1, 3, 2)
    return {
        mo: str(Decimal(base) + Decimal(step) * pattern[i % len(pattern)])
        for i, mo in enumerate(months)
    }


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


_EXPRESS_ZONES = [
    {"zone": "1", "countries": ["CA"]},
    {"zone": "2", "countries": ["US"], "postcodes": [{"from": "00000", "to": "49999"}]},
    {"zone": "3", "countries": ["US"], "postcodes": [{"from": "50000", "to": "99999"}]},
    {"zone": "4", "countries": ["GB", "DE", "FR", "NL"]},
    {"zone": "5", "countries": ["ES", "IT"]},
    {"zone": "6", "countries": ["AU", "JP"]},
]
_EXPRESS_PRICES = {  # zone: (first 0.5 kg, each further 0.5 kg), USD
    "1": ("24.50", "4.10"),
    "2": ("27.80", "4.60"),
    "3": ("29.40", "4.95"),
    "4": ("22.90", "3.85"),
    "5": ("25.60", "4.25"),
    "6": ("31.20", "5.40"),
}


def _dhl(version: int, valid_from: date, months: list[str], uplift: Decimal) -> dict[str, Any]:
    return {
        "carrier": "DHL",
        "contract": "DHL-EXPRESS-WW",
        "version": version,
        "valid_from": valid_from.isoformat(),
        "currency": "USD",
        "shape": "EXPRESS",
        "volumetric_divisor": 5000,
        "weight_increment_kg": "0.5",
        "minimum_weight_kg": "0.5",
        "zones": _EXPRESS_ZONES,
        "express": {
            "first_weight_kg": "0.5",
            "additional_weight_kg": "0.5",
            "prices": [
                {
                    "zone": z,
                    "first": _money(Decimal(f) * uplift),
                    "additional": _money(Decimal(a) * uplift),
                }
                for z, (f, a) in _EXPRESS_PRICES.items()
            ],
        },
        "fuel_percent_by_month": _fuel(months, "18.50" if version == 1 else "19.75", "0.75"),
        "remote_area": {
            "fee": "32.50",
            "postcodes": [
                {"country": c, "from": f, "to": t} for c, f, t in DEMO_REMOTE_POSTCODES["DHL"]
            ],
        },
        "pass_through_charge_types": ["CUSTOMS_DUTY", "IMPORT_VAT"],
        "allowed_charge_types": ["FREIGHT", "FUEL", "REMOTE_AREA", "CUSTOMS_DUTY", "IMPORT_VAT"],
    }


def _ups(start: date, months: list[str]) -> dict[str, Any]:
    return {
        "carrier": "UPS",
        "contract": "UPS-WW-SAVER",
        "version": 1,
        "valid_from": start.isoformat(),
        "currency": "USD",
        "shape": "EXPRESS",
        "volumetric_divisor": 5000,
        "weight_increment_kg": "0.5",
        "minimum_weight_kg": "0.5",
        "zones": _EXPRESS_ZONES,
        "express": {
            "first_weight_kg": "0.5",
            "additional_weight_kg": "0.5",
            "prices": [
                {
                    "zone": z,
                    "first": _money(Decimal(f) * Decimal("0.96")),
                    "additional": _money(Decimal(a) * Decimal("1.02")),
                }
                for z, (f, a) in _EXPRESS_PRICES.items()
            ],
        },
        "fuel_percent_by_month": _fuel(months, "17.25", "0.50"),
        "accessorials": [
            {"charge_type": "RESIDENTIAL", "fee": "5.85", "applies": "ON_DEMAND"},
            {"charge_type": "ADDRESS_CORRECTION", "fee": "21.00", "applies": "ON_DEMAND"},
        ],
        "allowed_charge_types": ["FREIGHT", "FUEL", "RESIDENTIAL", "ADDRESS_CORRECTION"],
    }


_COUNTRY_FACTOR = {  # relative postal cost per destination
    "US": "1.00",
    "GB": "0.92",
    "DE": "0.95",
    "FR": "0.97",
    "ES": "1.02",
    "IT": "1.04",
    "NL": "0.94",
    "CA": "1.10",
    "AU": "1.18",
    "JP": "0.88",
}


def _country_zones() -> list[dict[str, Any]]:
    return [{"zone": c, "countries": [c]} for c in DEMO_COUNTRIES]


def _fourpx(start: date) -> dict[str, Any]:
    breaks = [  # up to kg: CNY for a US parcel
        ("0.1", "38.00"),
        ("0.25", "52.00"),
        ("0.5", "71.00"),
        ("1", "108.00"),
        ("2", "176.00"),
        ("3", "238.00"),
        ("5", "352.00"),
        ("10", "610.00"),
        ("20", "1120.00"),
        ("30", "1590.00"),
        ("70", "3480.00"),
    ]
    return {
        "carrier": "FOURPX",
        "contract": "4PX-GLOBAL-DIRECT",
        "version": 1,
        "valid_from": start.isoformat(),
        "currency": "CNY",
        "shape": "WEIGHT_BREAK",
        "volumetric_divisor": 8000,
        "weight_increment_kg": "0.01",
        "minimum_charge": "38.00",
        "zones": _country_zones(),
        "weight_breaks": [
            {"zone": c, "up_to_kg": w, "price": _money(Decimal(p) * Decimal(_COUNTRY_FACTOR[c]))}
            for c in DEMO_COUNTRIES
            for w, p in breaks
        ],
        "allowed_charge_types": ["FREIGHT"],
    }


def _postal(
    carrier: str, contract: str, start: date, per_kg: str, registration: str, minimum: str
) -> dict[str, Any]:
    bands = (("0.5", "1.00", "1.00"), ("2", "0.93", "1.00"), ("30", "0.86", "1.10"))
    return {
        "carrier": carrier,
        "contract": contract,
        "version": 1,
        "valid_from": start.isoformat(),
        "currency": "CNY",
        "shape": "PER_KG",
        "weight_increment_kg": "0.001",
        "minimum_weight_kg": minimum,
        "zones": _country_zones(),
        "per_kg": [
            {
                "zone": c,
                "up_to_kg": up_to,
                "per_kg": _money(Decimal(per_kg) * Decimal(_COUNTRY_FACTOR[c]) * Decimal(f)),
                "registration_fee": _money(Decimal(registration) * Decimal(r)),
            }
            for c in DEMO_COUNTRIES
            for up_to, f, r in bands
        ],
        "allowed_charge_types": ["FREIGHT", "REGISTRATION"],
    }


def demo_rate_cards(start: date, end: date) -> dict[str, dict[str, Any]]:
    """File name -> card mapping for the demo range (pure; `write_demo_rate_cards` writes it)."""
    span = (end - start).days
    switch = date.fromordinal(start.toordinal() + int(span * DHL_SWITCH_FRACTION))
    if switch <= start:
        switch = date.fromordinal(start.toordinal() + 1)
    months = _months(start, end)
    v1_months = _months(start, min(end, switch))
    v2_months = _months(switch, max(end, switch))
    yun = _postal("YUNEXPRESS", "YT-ECONOMY-REG", start, "72.00", "18.00", "0.05")
    yun["fuel_percent_by_month"] = _fuel(months, "4.00", "0.50")
    yun["allowed_charge_types"] = ["FREIGHT", "REGISTRATION", "FUEL"]
    return {
        "dhl_v1.yaml": _dhl(1, start, v1_months, Decimal(1)),
        "dhl_v2.yaml": _dhl(2, switch, v2_months, Decimal("1.045")),
        "ups_v1.yaml": _ups(start, months),
        "fourpx_v1.yaml": _fourpx(start),
        "yunexpress_v1.yaml": yun,
        "yanwen_v1.yaml": _postal("YANWEN", "YW-POST-REG", start, "66.00", "16.50", "0.03"),
    }


def demo_carriers() -> dict[str, Any]:
    """carriers.yaml content: cycle, currency, bill format, tolerances, API settings."""

    def tol(amount: str, rel: str, fuel: str, weight_kg: str, weight_rel: str) -> dict[str, Any]:
        return {
            "amount": {
                "DEFAULT": {"absolute": amount, "relative_percent": rel},
                "FUEL": {"absolute": fuel, "relative_percent": "0"},
            },
            "weight": {"absolute_kg": weight_kg, "relative_percent": weight_rel},
        }

    return {
        "carriers": [
            {
                "carrier": "DHL",
                "name": "DHL Express",
                "billing_cycle": "MONTHLY",
                "currency": "USD",
                "bill_format": "CSV",
                "tolerances": tol("0.05", "0.5", "0.02", "0.1", "2"),
            },
            {
                "carrier": "UPS",
                "name": "UPS Worldwide Saver",
                "billing_cycle": "WEEKLY",
                "currency": "USD",
                "bill_format": "JSON_API",
                "api": {
                    "endpoint": "http://127.0.0.1:8765/carriers/UPS/bills",
                    "token_env": "RECKON_UPS_TOKEN",
                    "page_size": 100,
                },
                "tolerances": tol("0.05", "0.5", "0.02", "0.1", "2"),
            },
            {
                "carrier": "FOURPX",
                "name": "4PX Global Direct",
                "billing_cycle": "SEMI_MONTHLY",
                "currency": "CNY",
                "bill_format": "XML",
                "tolerances": tol("0.10", "0", "0.10", "0.02", "0"),
            },
            {
                "carrier": "YUNEXPRESS",
                "name": "YunExpress",
                "billing_cycle": "MONTHLY",
                "currency": "CNY",
                "bill_format": "XLSX",
                "tolerances": tol("0.10", "0", "0.05", "0.01", "0"),
            },
            {
                "carrier": "YANWEN",
                "name": "Yanwen Logistics",
                "billing_cycle": "SEMI_MONTHLY",
                "currency": "CNY",
                "bill_format": "PDF",
                "tolerances": tol("0.10", "0", "0.05", "0.01", "0"),
            },
        ]
    }


def write_demo_rate_cards(root: Path, start: date, end: date) -> None:
    """Write the demo rate cards under `rate_cards/` and `carriers.yaml` (DataLayout)."""
    layout = DataLayout(root)
    layout.rate_cards_dir.mkdir(parents=True, exist_ok=True)
    for name, card in demo_rate_cards(start, end).items():
        (layout.rate_cards_dir / name).write_text(
            yaml.safe_dump(card, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
    layout.carriers_file.write_text(
        yaml.safe_dump(demo_carriers(), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
