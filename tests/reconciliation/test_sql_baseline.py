"""The benchmark's DuckDB SQL baseline does the engine's work (issue 14 point 5): on random
shipments (every card shape, versions, postcode zones, remote areas, unratable ones, FX
rates changing over the dates) and random bills (duplicates, credits, re-billings,
unknown tracking numbers, one shipped by another carrier), its ratings, expected charges
and matched lines equal the engine's, so the benchmark's ratio compares equal work."""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings

from benchmarks.reconciliation_sql import (
    EngineOutputs,
    check_equal,
    engine_outputs,
    rate_and_match,
)
from tests.rating import builders as b
from tests.rating.test_oracle import _fx_history, shipment_rows
from tests.reconciliation.test_credits_property import bills

CARDS = b.cards()


def _inputs(rows: list[dict], lines: list[dict]) -> dict[str, pl.DataFrame]:
    """Shipment i is tracked as 'trk-s{i}' (TRKS{i} once normalised): the bills' TRKS1-3
    are shipments of whichever carrier drew them, NOPE none; bill lines print theirs in
    lower case with a dash, so both sides must normalise."""
    for i, row in enumerate(rows):
        row["tracking_number"] = f"trk-s{i}"
    for line in lines:
        line["tracking_number"] = line["tracking_number"].lower().replace("trk", "trk-")
    return {
        "shipments": b.shipments(*rows),
        "fx_rates": _fx_history(),
        "companies": b.companies(),
        "bill_lines": b.bill_lines(*lines),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shipment_rows(), bills())
def test_sql_rates_and_matches_as_the_engine(rows: list[dict], lines: list[dict]) -> None:
    inputs = _inputs(rows, lines)
    with duckdb.connect() as con:
        rate_and_match(con, inputs, CARDS)
        counts = check_equal(con, engine_outputs(inputs, CARDS))
    assert counts["shipment_ratings"] == len(rows) and counts["matched"] == len(lines)


def _edge_world() -> dict[str, pl.DataFrame]:
    """What random draws rarely hit: a shipment on the day its FX rate changes (CNY->USD
    from 2026-01-31), an EXPR line for a tracking number FLAT and POST both shipped
    (the first carrier by name is named), a duplicate."""
    rows = [
        b.shipment("S0", "POST", datetime(2026, 1, 31, 9), "DE", None, "0.4"),
        b.shipment("S1", "FLAT", datetime(2026, 1, 5, 9), "FR", None, "0.7"),
    ]
    inputs = _inputs(rows, [])
    inputs["shipments"] = inputs["shipments"].with_columns(tracking_number=pl.lit("TRK-S0"))
    lines = [
        b.line("B1", 1, "TRKS0", "FREIGHT", "32.00", carrier="POST", currency="CNY"),
        b.line("B1", 2, "TRKS0", "FREIGHT", "32.00", carrier="POST", currency="CNY"),
        b.line("B2", 1, "TRKS0", "FREIGHT", "9.00"),
    ]
    inputs["bill_lines"] = b.bill_lines(*lines)
    return inputs


def test_rate_dates_and_other_carriers_match_the_engine() -> None:
    inputs = _edge_world()
    with duckdb.connect() as con:
        rate_and_match(con, inputs, CARDS)
        other = con.sql("SELECT other_carrier FROM matched WHERE carrier = 'EXPR'").fetchall()
        functional = con.sql(
            "SELECT expected_amount_functional FROM expected_charges "
            "WHERE shipment_id = 'S0' AND charge_type = 'FREIGHT'"
        ).fetchall()
        counts = check_equal(con, engine_outputs(inputs, CARDS))
    assert counts == {"shipment_ratings": 2, "expected_charges": 3, "matched": 3}
    assert other == [("FLAT",)]
    assert str(functional[0][0]) == "4.53"  # 32.00 CNY x 0.1417 (the rate of 2026-01-31)


def test_a_cent_of_difference_fails_the_check() -> None:
    """The check is what makes the ratio honest: one expected charge a cent off, or one
    line's role changed, and it raises."""
    inputs = _edge_world()
    engine = engine_outputs(inputs, CARDS)
    cent = pl.lit(1).cast(pl.Decimal(18, 2)) / 100
    off = engine.expected_charges.with_columns(pl.col("expected_amount") + cent)
    roles = engine.matched.with_columns(pl.col("billing_role").cast(pl.String).reverse())
    for wrong in (
        EngineOutputs(engine.ratings, off, engine.matched),
        EngineOutputs(engine.ratings, engine.expected_charges, roles),
    ):
        with duckdb.connect() as con, pytest.raises(AssertionError):
            rate_and_match(con, inputs, CARDS)
            check_equal(con, wrong)
