"""The set-based engine agrees to the cent with the row-by-row reference pricer."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from oracles.rating import expected_charges_rows, rate_rows
from pipelines.contracts.inputs import FX_RATES
from pipelines.rating import rate_shipments
from tests.rating import builders as b

CARDS = b.cards()
DESTINATIONS = {
    "EXPR": [
        ("US", None),
        ("US", "12345"),
        ("US", "99999"),
        ("US", "5"),
        ("GB", "EC1"),
        ("BR", "1"),
    ],
    "POST": [("DE", None), ("DE", "10115"), ("FR", None)],
    "FLAT": [("FR", None), ("FR", "75001")],
}


@st.composite
def shipment_rows(draw: st.DrawFn) -> list[dict]:
    n = draw(st.integers(min_value=1, max_value=40))
    rows = []
    for i in range(n):
        carrier = draw(st.sampled_from(sorted(DESTINATIONS)))
        country, postcode = draw(st.sampled_from(DESTINATIONS[carrier]))
        grams = draw(st.integers(min_value=1, max_value=40_000))
        dims = tuple(
            str(Decimal(draw(st.integers(min_value=0, max_value=800))) / 10) for _ in range(3)
        )
        rows.append(
            b.shipment(
                f"S{i}",
                carrier,
                datetime(2025, 12, 25) + timedelta(minutes=draw(st.integers(0, 60 * 24 * 110))),
                country,
                postcode,
                str(Decimal(grams) / 1000),
                dims,  # type: ignore[arg-type]
                parcels=draw(st.integers(min_value=1, max_value=3)),
            )
        )
    return rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shipment_rows())
def test_engine_matches_row_by_row_reference(rows: list[dict]) -> None:
    result = rate_shipments(b.shipments(*rows), CARDS, b.fx_rates(), b.companies())
    reference = rate_rows(CARDS, rows)
    engine: dict[str, dict[str, Decimal]] = {}
    for sid, ct, amount in result.expected_charges.select(
        "shipment_id", "charge_type", "expected_amount"
    ).iter_rows():
        engine.setdefault(sid, {})[ct] = amount
    ratings = {r["shipment_id"]: r for r in result.shipment_ratings.iter_rows(named=True)}
    for sid, ref in reference.items():
        got = ratings[sid]
        assert (got["unrated_reason"] is None) == (ref.unrated_reason is None), (sid, got, ref)
        if ref.unrated_reason is None:
            assert engine[sid] == ref.charges, sid
            assert got["chargeable_weight_kg"] == ref.chargeable_weight_kg, sid
            assert got["zone"] == ref.zone
            assert got["card_key"] == ref.card_key


def _fx_history() -> pl.DataFrame:
    """Rates that change over the shipments' dates, so the as-of rule is exercised:
    a shipment takes the latest rate on or before its ship date."""
    rows = [
        (date(2025, 12, 1), "USD", "CNY", "7.1234"),
        (date(2026, 1, 10), "USD", "CNY", "7.0567"),
        (date(2026, 2, 20), "USD", "CNY", "7.2001"),
        (date(2025, 12, 1), "CNY", "USD", "0.14037"),
        (date(2026, 1, 31), "CNY", "USD", "0.1417"),
    ]
    return pl.DataFrame(
        [
            {"rate_date": d, "currency": c, "to_currency": t, "rate": Decimal(r)}
            for d, c, t, r in rows
        ],
        schema=FX_RATES.schema,
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shipment_rows(), st.lists(st.sampled_from(["US01", "CN01"]), min_size=40, max_size=40))
def test_expected_charges_table_equals_the_row_by_row_table(
    rows: list[dict], companies_drawn: list[str]
) -> None:
    """The whole EXPECTED_CHARGES table, functional currency included, equals the one
    `reference.expected_charges_rows` builds one shipment at a time (the benchmark's
    baseline): same rows, same amounts to the cent, same currencies."""
    for row, company in zip(rows, companies_drawn, strict=False):
        row["company"] = company
        row["tracking_number"] = f"t-{row['shipment_id'].lower()} x"  # normalised by both
    frame = b.shipments(*rows)
    engine = rate_shipments(frame, CARDS, _fx_history(), b.companies()).expected_charges
    reference = expected_charges_rows(CARDS, frame, _fx_history(), b.companies())
    key = ["shipment_id", "charge_type"]
    assert_frame_equal(engine.sort(key), reference.sort(key))
