"""Build small hand-written ledgers for worked examples."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import polars as pl

from pipelines.contracts.inputs import COMPANIES, FX_RATES, MOVEMENTS

COMPANY_CURRENCY = {"C1": "EUR", "C2": "USD"}


def move(
    mid: str,
    at: str,
    mtype: str,
    qty: int,
    *,
    wh: str = "W1",
    sku: str = "S1",
    company: str = "C1",
    cost: str | None = None,
    currency: str | None = None,
    ref: str | None = None,
) -> dict:
    return {
        "movement_id": mid,
        "occurred_at": datetime.fromisoformat(at),
        "company": company,
        "warehouse": wh,
        "sku": sku,
        "movement_type": mtype,
        "quantity": qty,
        "unit_cost": Decimal(cost) if cost is not None else None,
        "currency": (currency or COMPANY_CURRENCY[company]) if cost is not None else None,
        "reference": ref,
    }


def inputs(rows: list[dict], fx: list[tuple[str, str, str, str]] = ()) -> dict[str, pl.DataFrame]:
    return {
        "movements": pl.DataFrame(rows, schema=MOVEMENTS.schema),
        "fx_rates": pl.DataFrame(
            [
                {
                    "rate_date": date.fromisoformat(d),
                    "currency": a,
                    "to_currency": b,
                    "rate": Decimal(r),
                }
                for d, a, b, r in fx
            ],
            schema=FX_RATES.schema,
        ),
        "companies": pl.DataFrame(
            {
                "company": list(COMPANY_CURRENCY),
                "functional_currency": list(COMPANY_CURRENCY.values()),
            },
            schema=COMPANIES.schema,
        ),
    }


def amounts(frame: pl.DataFrame, key: str = "movement_id", col: str = "amount") -> dict:
    return {r[key]: r[col] for r in frame.iter_rows(named=True)}
