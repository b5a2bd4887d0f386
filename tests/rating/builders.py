"""Small hand-written rate cards, shipments and bills for worked examples.

The three cards below are the ones every hand-computed figure in the tests
refers to; keep them and the comments in the tests in step.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from pipelines.contracts.bills import BILL_HEADERS, BILL_LINES
from pipelines.contracts.inputs import COMPANIES, FX_RATES, SHIPMENTS
from pipelines.rating.cards import RateCard
from pipelines.reconciliation.config import CarriersFile

EXPR_V1: dict[str, Any] = {
    "carrier": "EXPR",
    "contract": "EXPR-WW",
    "version": 1,
    "valid_from": "2026-01-01",
    "currency": "USD",
    "shape": "EXPRESS",
    "volumetric_divisor": 5000,
    "weight_increment_kg": "0.5",
    "zones": [
        {"zone": "A", "countries": ["US"], "postcodes": [{"from": "10000", "to": "19999"}]},
        {"zone": "B", "countries": ["US"]},
        {"zone": "C", "countries": ["GB"]},
    ],
    "express": {
        "first_weight_kg": "0.5",
        "additional_weight_kg": "0.5",
        "prices": [
            {"zone": "A", "first": "10.00", "additional": "2.50"},
            {"zone": "B", "first": "12.00", "additional": "3.00"},
            {"zone": "C", "first": "20.00", "additional": "4.00"},
        ],
    },
    "fuel_percent_by_month": {"2026-01": "10", "2026-02": "12.5", "2026-03": "11"},
    "remote_area": {
        "fee": "15.00",
        "postcodes": [{"country": "US", "from": "99000", "to": "99999"}],
    },
    "accessorials": [
        {"charge_type": "RESIDENTIAL", "fee": "4.00", "applies": "ON_DEMAND"},
        {"charge_type": "OTHER", "fee": "1.00", "applies": "ALWAYS"},
    ],
    "pass_through_charge_types": ["CUSTOMS_DUTY"],
    "allowed_charge_types": [
        "FREIGHT",
        "FUEL",
        "REMOTE_AREA",
        "RESIDENTIAL",
        "OTHER",
        "CUSTOMS_DUTY",
    ],
}
EXPR_V2 = {
    **EXPR_V1,
    "version": 2,
    "valid_from": "2026-02-01",
    "express": {
        "first_weight_kg": "0.5",
        "additional_weight_kg": "0.5",
        "prices": [
            {"zone": "A", "first": "10.00", "additional": "2.50"},
            {"zone": "B", "first": "12.70", "additional": "3.50"},
            {"zone": "C", "first": "20.00", "additional": "4.00"},
        ],
    },
}
POST: dict[str, Any] = {
    "carrier": "POST",
    "contract": "POST-REG",
    "version": 1,
    "valid_from": "2026-01-01",
    "currency": "CNY",
    "shape": "PER_KG",
    "weight_increment_kg": "0.001",
    "minimum_weight_kg": "0.1",
    "zones": [{"zone": "DE", "countries": ["DE"]}],
    "per_kg": [
        {"zone": "DE", "up_to_kg": "0.5", "per_kg": "80", "registration_fee": "20"},
        {"zone": "DE", "up_to_kg": "2", "per_kg": "70", "registration_fee": "20"},
        {"zone": "DE", "up_to_kg": "30", "per_kg": "60", "registration_fee": "25"},
    ],
    "allowed_charge_types": ["FREIGHT", "REGISTRATION"],
}
FLAT: dict[str, Any] = {
    "carrier": "FLAT",
    "contract": "FLAT-TABLE",
    "version": 1,
    "valid_from": "2026-01-01",
    "currency": "CNY",
    "shape": "WEIGHT_BREAK",
    "volumetric_divisor": 6000,
    "weight_increment_kg": "0.01",
    "minimum_charge": "35",
    "zones": [{"zone": "FR", "countries": ["FR"]}],
    "weight_breaks": [
        {"zone": "FR", "up_to_kg": "0.5", "price": "30"},
        {"zone": "FR", "up_to_kg": "1", "price": "45"},
        {"zone": "FR", "up_to_kg": "2", "price": "70"},
    ],
    "allowed_charge_types": ["FREIGHT"],
}


def cards(*raw: dict[str, Any]) -> list[RateCard]:
    return [RateCard.model_validate(r) for r in (raw or (EXPR_V1, EXPR_V2, POST, FLAT))]


def carriers() -> CarriersFile:
    def tol(cycle: str, ccy: str, code: str) -> dict[str, Any]:
        return {
            "carrier": code,
            "billing_cycle": cycle,
            "currency": ccy,
            "tolerances": {
                "amount": {
                    "DEFAULT": {"absolute": "0.05", "relative_percent": "1"},
                    "FUEL": {"absolute": "0.02", "relative_percent": "0"},
                },
                "weight": {"absolute_kg": "0.1", "relative_percent": "0"},
            },
        }

    return CarriersFile.model_validate(
        {
            "carriers": [
                tol("MONTHLY", "USD", "EXPR"),
                tol("SEMI_MONTHLY", "CNY", "POST"),
                tol("WEEKLY", "CNY", "FLAT"),
            ]
        }
    )


def shipment(
    sid: str,
    carrier: str,
    shipped: datetime,
    country: str,
    postcode: str | None,
    weight: str,
    dims: tuple[str, str, str] = ("10", "10", "10"),
    tracking: str | None = None,
    company: str = "US01",
    parcels: int = 1,
    order_id: str | None = None,
) -> dict[str, Any]:
    return {
        "shipment_id": sid,
        "tracking_number": tracking or f"TRK{sid}",
        "carrier": carrier,
        "service": "STD",
        "shipped_at": shipped,
        "company": company,
        "warehouse": "W1",
        "destination_country": country,
        "destination_postcode": postcode,
        "parcels": parcels,
        "weight_kg": Decimal(weight),
        "length_cm": Decimal(dims[0]),
        "width_cm": Decimal(dims[1]),
        "height_cm": Decimal(dims[2]),
        "order_id": order_id or f"O{sid}",
    }


def shipments(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=SHIPMENTS.schema)


def fx_rates() -> pl.DataFrame:
    rows = [
        {
            "rate_date": date(2026, 1, 1),
            "currency": "USD",
            "to_currency": "CNY",
            "rate": Decimal("7.1"),
        },
        {
            "rate_date": date(2026, 1, 1),
            "currency": "CNY",
            "to_currency": "USD",
            "rate": Decimal("0.14"),
        },
    ]
    return pl.DataFrame(rows, schema=FX_RATES.schema)


def companies() -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"company": "US01", "functional_currency": "USD"},
            {"company": "CN01", "functional_currency": "CNY"},
        ],
        schema=COMPANIES.schema,
    )


def line(
    bill: str,
    n: int,
    tracking: str,
    charge: str,
    amount: str,
    weight: str | None = None,
    carrier: str = "EXPR",
    bill_date: date = date(2026, 1, 31),
    currency: str = "USD",
) -> dict[str, Any]:
    return {
        "source_sha256": f"sha-{bill}",
        "carrier": carrier,
        "bill_number": bill,
        "bill_date": bill_date,
        "currency": currency,
        "line_number": n,
        "tracking_number_raw": tracking,
        "tracking_number": tracking.upper().replace("-", "").replace(" ", ""),
        "shipment_date": None,
        "billed_weight": Decimal(weight) if weight else None,
        "weight_unit": "KG" if weight else None,
        "billed_weight_kg": Decimal(weight) if weight else None,
        "zone": None,
        "destination_country": None,
        "charge_type": charge,
        "charge_code": None,
        "charge_description": None,
        "amount": Decimal(amount),
        "parser": "test",
        "parser_version": "1",
        "template_id": None,
        "locator": f"row={n}",
    }


def bill_lines(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=BILL_LINES.schema)


def headers_for(lines: pl.DataFrame, stated: dict[str, str] | None = None) -> pl.DataFrame:
    """One header per bill of `lines`, with period_end left empty (bill date decides)."""
    stated = stated or {}
    rows = []
    for (sha, carrier, bill, bill_date, ccy), group in lines.group_by(
        "source_sha256", "carrier", "bill_number", "bill_date", "currency", maintain_order=True
    ):
        rows.append(
            {
                "source_sha256": sha,
                "source_name": f"{bill}.csv",
                "carrier": carrier,
                "account": None,
                "bill_number": bill,
                "bill_date": bill_date,
                "period_start": None,
                "period_end": None,
                "currency": ccy,
                "stated_total": Decimal(stated[bill]) if bill in stated else None,
                "parsed_total": group["amount"].sum(),
                "line_count": group.height,
                "parser": "test",
                "parser_version": "1",
                "template_id": None,
            }
        )
    return pl.DataFrame(rows, schema=BILL_HEADERS.schema)
