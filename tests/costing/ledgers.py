"""Small random ledgers for property tests, and helpers to run engine and reference."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import polars as pl
from hypothesis import strategies as st

from pipelines.contracts.inputs import COMPANIES, FX_RATES, LANDED_COSTS, MOVEMENTS
from pipelines.contracts.inputs import SKUS as SKU_TABLE

START = date(2026, 1, 1)
DAYS = 6
END = START + timedelta(days=DAYS - 1)
FUNCTIONAL = {"C1": "EUR", "C2": "USD"}
WAREHOUSES = [("C1", "W1"), ("C1", "W2"), ("C2", "W3")]
SKUS = ["S1", "S2"]
COSTS = [Decimal("1"), Decimal("0.333333"), Decimal("1.005"), Decimal("2.5"), Decimal("7.123456")]
FX = {
    (START + timedelta(days=d), a, b): r
    for d in range(DAYS + 5)
    for a, b, r in (("EUR", "USD", Decimal("1.08123456")), ("USD", "EUR", Decimal("0.92487500")))
}
COLUMNS = list(MOVEMENTS.schema)
PURCHASE_LINES = ["po1", "po2", "po3"]
AMOUNTS = [Decimal("1.00"), Decimal("0.37"), Decimal("12.99"), Decimal("5.55")]
SKU_MEASURES = {
    "S1": (Decimal("0.250"), Decimal("10.0"), Decimal("5.5"), Decimal("2.0")),
    "S2": (Decimal("1.125"), Decimal("30.0"), Decimal("20.0"), Decimal("10.5")),
}


KINDS = (
    ["RECEIPT"] * 4
    + ["ISSUE"] * 4
    + [
        "TRANSFER",
        "RETURN",
        "ADJUST_GAIN",
        "ADJUST_LOSS",
        "LANDED_COST",
    ]
)
LANDED_REFERENCE_KINDS = (
    ["RECEIPT"] * 3
    + ["ISSUE"] * 3
    + ["LANDED_COST"] * 3
    + [
        "ADJUST_GAIN",
        "ADJUST_GAIN",
        "RETURN",
        "RETURN",
        "TRANSFER",
    ]
)
"""Weighted towards the reference unit cost after landed cost: landed costs on receipt
lines, then gains without cost, returns, and issues running short."""


@st.composite
def ledgers(
    draw: st.DrawFn,
    max_events: int = 24,
    kinds_pool: list[str] = KINDS,
    warehouses: list[tuple[str, str]] = WAREHOUSES,
    skus: list[str] = SKUS,
) -> list[dict]:
    """Movements across 2 companies, 3 warehouses, 2 SKUs and 6 days, every rule exercised."""
    n = draw(st.integers(1, max_events))
    rows: list[dict] = []
    issues: list[tuple[datetime, str, str, str]] = []
    kinds = st.sampled_from(kinds_pool)
    for i in range(n):
        kind = draw(kinds)
        day = draw(st.integers(0, DAYS - 1))
        at = datetime.combine(START + timedelta(days=day), datetime.min.time()) + timedelta(
            hours=draw(st.integers(0, 3))
        )
        company, wh = draw(st.sampled_from(warehouses))
        sku = draw(st.sampled_from(skus))
        qty = draw(st.integers(1, 8))
        mid = f"m{i:03d}"
        base = dict(
            movement_id=mid,
            occurred_at=at,
            company=company,
            warehouse=wh,
            sku=sku,
            quantity=qty,
            unit_cost=None,
            currency=None,
            reference=None,
        )
        if kind == "LANDED_COST":
            rows.append(
                {
                    "landed_cost_id": f"L{i:03d}",
                    "posted_at": at,
                    "company": company,
                    "receipt_reference": draw(st.sampled_from(PURCHASE_LINES)),
                    "amount": draw(st.sampled_from(AMOUNTS)),
                    "currency": draw(st.sampled_from(["EUR", "USD"])),
                    "basis": draw(st.sampled_from(["QUANTITY", "VALUE", "WEIGHT", "VOLUME"])),
                }
            )
        elif kind in ("RECEIPT", "ADJUST_GAIN"):
            priced = kind == "RECEIPT" or draw(st.booleans())
            if priced:
                base.update(
                    unit_cost=draw(st.sampled_from(COSTS)),
                    currency=draw(st.sampled_from(["EUR", "USD"])),
                )
            ref = draw(st.sampled_from(PURCHASE_LINES)) if kind == "RECEIPT" else None
            rows.append({**base, "movement_type": kind, "reference": ref})
        elif kind in ("ISSUE", "ADJUST_LOSS"):
            rows.append({**base, "movement_type": kind, "reference": f"so{i}"})
            if kind == "ISSUE":
                issues.append((at, mid, company, sku))
        elif kind == "RETURN":
            earlier = [i for i in issues if i[0] < at]
            ref = "unknown"
            if earlier and draw(st.booleans()):
                _, ref, issue_company, issue_sku = draw(st.sampled_from(earlier))
                if draw(st.booleans()):  # to where it was sold from; else maybe elsewhere
                    same = [w for w in warehouses if w[0] == issue_company]
                    company, wh = draw(st.sampled_from(same)) if same else (company, wh)
                    base.update(company=company, warehouse=wh, sku=issue_sku)
            rows.append({**base, "movement_type": "RETURN", "reference": ref})
        else:
            dest_company, dest_wh = draw(st.sampled_from(warehouses))
            arrive = at + timedelta(days=draw(st.integers(1, 3)), hours=draw(st.integers(0, 3)))
            rows.append({**base, "movement_type": "TRANSFER_OUT", "reference": f"T{i}"})
            inbound = {
                **base,
                "movement_id": f"m{i:03d}b",
                "occurred_at": arrive,
                "company": dest_company,
                "warehouse": dest_wh,
                "movement_type": "TRANSFER_IN",
                "reference": f"T{i}",
            }
            if dest_company != company and draw(st.booleans()):
                inbound.update(
                    unit_cost=draw(st.sampled_from(COSTS)),
                    currency=draw(st.sampled_from(["EUR", "USD"])),
                )
            rows.append(inbound)
    return rows


def movements_of(rows: list[dict]) -> list[dict]:
    return [r for r in rows if "movement_id" in r]


def landed_of(rows: list[dict]) -> list[dict]:
    return [r for r in rows if "landed_cost_id" in r]


def frames(rows: list[dict]) -> dict[str, pl.DataFrame]:
    movements = pl.DataFrame(
        [{c: r[c] for c in COLUMNS} for r in movements_of(rows)], schema=MOVEMENTS.schema
    )
    landed = pl.DataFrame(landed_of(rows), schema=LANDED_COSTS.schema)
    skus = pl.DataFrame(
        [
            {"sku": k, "weight_kg": w, "length_cm": a, "width_cm": b, "height_cm": c}
            for k, (w, a, b, c) in SKU_MEASURES.items()
        ],
        schema=SKU_TABLE.schema,
    )
    fx = pl.DataFrame(
        [
            {"rate_date": d, "currency": a, "to_currency": b, "rate": r}
            for (d, a, b), r in FX.items()
        ],
        schema=FX_RATES.schema,
    )
    companies = pl.DataFrame(
        {"company": list(FUNCTIONAL), "functional_currency": list(FUNCTIONAL.values())},
        schema=COMPANIES.schema,
    )
    return {
        "movements": movements,
        "fx_rates": fx,
        "companies": companies,
        "landed_costs": landed,
        "skus": skus,
    }


def in_range(rows: list[dict], end: date = END) -> list[dict]:
    return [r for r in movements_of(rows) if r["occurred_at"].date() <= end]


def cents(x: Decimal) -> int:
    return int(x * 100)
