"""Small random ledgers for property tests, and helpers to run engine and reference."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import polars as pl
from hypothesis import strategies as st

from pipelines.contracts.inputs import COMPANIES, FX_RATES, MOVEMENTS

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


@st.composite
def ledgers(draw: st.DrawFn, max_events: int = 24) -> list[dict]:
    """Movements across 2 companies, 3 warehouses, 2 SKUs and 6 days, every rule exercised."""
    n = draw(st.integers(1, max_events))
    rows: list[dict] = []
    issues: list[tuple[datetime, str]] = []
    kinds = st.sampled_from(
        ["RECEIPT"] * 4 + ["ISSUE"] * 4 + ["TRANSFER", "RETURN", "ADJUST_GAIN", "ADJUST_LOSS"]
    )
    for i in range(n):
        kind = draw(kinds)
        day = draw(st.integers(0, DAYS - 1))
        at = datetime.combine(START + timedelta(days=day), datetime.min.time()) + timedelta(
            hours=draw(st.integers(0, 3))
        )
        company, wh = draw(st.sampled_from(WAREHOUSES))
        sku = draw(st.sampled_from(SKUS))
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
        if kind in ("RECEIPT", "ADJUST_GAIN"):
            priced = kind == "RECEIPT" or draw(st.booleans())
            if priced:
                base.update(
                    unit_cost=draw(st.sampled_from(COSTS)),
                    currency=draw(st.sampled_from(["EUR", "USD"])),
                )
            rows.append({**base, "movement_type": kind, "reference": f"po{i}"})
        elif kind in ("ISSUE", "ADJUST_LOSS"):
            rows.append({**base, "movement_type": kind, "reference": f"so{i}"})
            if kind == "ISSUE":
                issues.append((at, mid))
        elif kind == "RETURN":
            earlier = [m for t, m in issues if t < at]
            ref = draw(st.sampled_from(earlier)) if earlier and draw(st.booleans()) else "unknown"
            rows.append({**base, "movement_type": "RETURN", "reference": ref})
        else:
            dest_company, dest_wh = draw(st.sampled_from(WAREHOUSES))
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


def frames(rows: list[dict]) -> dict[str, pl.DataFrame]:
    movements = pl.DataFrame([{c: r[c] for c in COLUMNS} for r in rows], schema=MOVEMENTS.schema)
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
    return {"movements": movements, "fx_rates": fx, "companies": companies}


def in_range(rows: list[dict], end: date = END) -> list[dict]:
    return [r for r in rows if r["occurred_at"].date() <= end]


def cents(x: Decimal) -> int:
    return int(x * 100)
