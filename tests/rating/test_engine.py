"""Rating worked examples, one per rate-card shape, computed by hand (tests/rating/builders.py)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import polars as pl
import pytest

from pipelines.fx import MissingFxRate
from pipelines.rating import rate_shipments
from tests.rating import builders as b


def _rate(*rows: dict) -> tuple[dict[str, dict[str, Decimal]], pl.DataFrame]:
    result = rate_shipments(b.shipments(*rows), b.cards(), b.fx_rates(), b.companies())
    charges: dict[str, dict[str, Decimal]] = {}
    for sid, ct, amount in result.expected_charges.select(
        "shipment_id", "charge_type", "expected_amount"
    ).iter_rows():
        charges.setdefault(sid, {})[ct] = amount
    return charges, result.shipment_ratings


JAN = datetime(2026, 1, 15, 10)


def test_express_first_and_additional_steps_by_postcode_zone() -> None:
    charges, ratings = _rate(
        # US 12345 is zone A (10000-19999); 1.2 kg actual, 0.2 kg volumetric -> 1.5 kg
        # 10.00 + 2 x 2.50 = 15.00; fuel Jan 10% = 1.50; OTHER always 1.00
        b.shipment("S1", "EXPR", JAN, "US", "12345", "1.2"),
        # US 99123: zone B (whole country) and remote; 40x30x20/5000 = 4.8 kg -> 5.0 kg
        # 12.00 + 9 x 3.00 = 39.00; fuel 3.90; remote 15.00
        b.shipment("S2", "EXPR", JAN, "US", "99-123", "0.3", ("40", "30", "20")),
    )
    assert charges["S1"] == {
        "FREIGHT": Decimal("15.00"),
        "FUEL": Decimal("1.50"),
        "OTHER": Decimal("1.00"),
    }
    assert charges["S2"] == {
        "FREIGHT": Decimal("39.00"),
        "FUEL": Decimal("3.90"),
        "REMOTE_AREA": Decimal("15.00"),
        "OTHER": Decimal("1.00"),
    }
    row = ratings.filter(pl.col("shipment_id") == "S2").row(0, named=True)
    assert row["zone"] == "B"
    assert row["is_remote"] is True
    assert row["volumetric_weight_kg"] == Decimal("4.800")
    assert row["chargeable_weight_kg"] == Decimal("5.000")
    assert row["expected_total"] == Decimal("58.90")
    assert row["rate_price"] == Decimal("12") and row["rate_additional_price"] == Decimal("3")


def test_contract_version_switches_over_on_its_date() -> None:
    charges, ratings = _rate(
        b.shipment("LAST", "EXPR", datetime(2026, 1, 31, 23, 59), "US", "70000", "5"),
        b.shipment("FIRST", "EXPR", datetime(2026, 2, 1, 0, 1), "US", "70000", "5"),
    )
    # v1 zone B: 12.00 + 9 x 3.00 = 39.00, fuel Jan 10% = 3.90
    assert charges["LAST"]["FREIGHT"] == Decimal("39.00")
    assert charges["LAST"]["FUEL"] == Decimal("3.90")
    # v2 zone B: 12.70 + 9 x 3.50 = 44.20, fuel Feb 12.5% = 5.525 -> 5.53 (half-up, not 5.52)
    assert charges["FIRST"]["FREIGHT"] == Decimal("44.20")
    assert charges["FIRST"]["FUEL"] == Decimal("5.53")
    versions = dict(ratings.select("shipment_id", "contract_version").iter_rows())
    assert versions == {"LAST": 1, "FIRST": 2}


def test_per_kg_bands_registration_and_minimum_weight() -> None:
    charges, ratings = _rate(
        # 0.05 kg below the 0.1 kg minimum: 0.1 x 80 = 8.00, registration 20
        b.shipment("P1", "POST", JAN, "DE", None, "0.05"),
        # exactly 2 kg is in the band "up to 2": 2 x 70 = 140.00
        b.shipment("P2", "POST", JAN, "DE", None, "2"),
        # 2.001 kg falls in the next band: 2.001 x 60 = 120.06, registration 25
        b.shipment("P3", "POST", JAN, "DE", None, "2.001"),
        # two parcels: registration per parcel 2 x 20; 0.333 x 80 = 26.64
        b.shipment("P4", "POST", JAN, "DE", None, "0.333", parcels=2),
    )
    assert charges["P1"] == {"FREIGHT": Decimal("8.00"), "REGISTRATION": Decimal("20.00")}
    assert charges["P2"] == {"FREIGHT": Decimal("140.00"), "REGISTRATION": Decimal("20.00")}
    assert charges["P3"] == {"FREIGHT": Decimal("120.06"), "REGISTRATION": Decimal("25.00")}
    assert charges["P4"] == {"FREIGHT": Decimal("26.64"), "REGISTRATION": Decimal("40.00")}
    p1 = ratings.filter(pl.col("shipment_id") == "P1").row(0, named=True)
    assert p1["chargeable_weight_kg"] == Decimal("0.100")
    assert p1["volumetric_weight_kg"] == Decimal("0")  # no divisor: actual weight only


def test_weight_breaks_minimum_charge_and_increment() -> None:
    charges, _ = _rate(
        # 0.40 kg -> break 0.5 = 30, below the minimum charge 35
        b.shipment("F1", "FLAT", JAN, "FR", None, "0.4"),
        b.shipment("F2", "FLAT", JAN, "FR", None, "0.8"),  # break 1 = 45
        b.shipment("F3", "FLAT", JAN, "FR", None, "1"),  # exactly 1 kg: break 1 = 45
        b.shipment("F4", "FLAT", JAN, "FR", None, "1.003"),  # rounds up to 1.01: break 2 = 70
    )
    assert {k: v["FREIGHT"] for k, v in charges.items()} == {
        "F1": Decimal("35.00"),
        "F2": Decimal("45.00"),
        "F3": Decimal("45.00"),
        "F4": Decimal("70.00"),
    }


def test_unratable_shipments_are_kept_with_their_reason() -> None:
    charges, ratings = _rate(
        b.shipment("U1", "NOCARD", JAN, "US", "12345", "1"),
        b.shipment("U2", "EXPR", datetime(2025, 12, 31, 12), "US", "12345", "1"),
        b.shipment("U3", "EXPR", JAN, "BR", "01000", "1"),
        b.shipment("U4", "EXPR", datetime(2026, 4, 2), "US", "12345", "1"),
        b.shipment("U5", "FLAT", JAN, "FR", None, "0.5", ("30", "30", "30")),
        b.shipment("OK", "EXPR", JAN, "GB", "SW1A 1AA", "0.5"),
    )
    reasons = dict(ratings.select("shipment_id", "unrated_reason").iter_rows())
    assert reasons["U1"] == "no NOCARD rate card valid on 2026-01-15"
    assert reasons["U2"] == "no EXPR rate card valid on 2025-12-31"
    assert reasons["U3"] == "EXPR:EXPR-WW:v1 has no zone for country BR postcode 01000"
    assert reasons["U4"] == "EXPR:EXPR-WW:v2 has no fuel % for 2026-04"
    # 30x30x30/6000 = 4.5 kg, above the last break (2 kg)
    assert reasons["U5"] == "FLAT:FLAT-TABLE:v1: 4.500 kg is above the last weight band of zone FR"
    assert reasons["OK"] is None
    assert set(charges) == {"OK"}
    assert ratings.height == 6


def test_functional_currency_uses_the_latest_rate_on_or_before_ship_date() -> None:
    result = rate_shipments(
        b.shipments(
            # USD contract, CNY books: 15.00 x 7.1 = 106.50 (rate of 2026-01-01)
            b.shipment("S1", "EXPR", JAN, "US", "12345", "1.2", company="CN01"),
            # CNY contract, USD books: 8.00 x 0.14 = 1.12
            b.shipment("P1", "POST", JAN, "DE", None, "0.05", company="US01"),
        ),
        b.cards(),
        b.fx_rates(),
        b.companies(),
    )
    got = {
        (s, c): (a, f)
        for s, c, a, f in result.expected_charges.select(
            "shipment_id", "charge_type", "expected_amount", "expected_amount_functional"
        ).iter_rows()
    }
    assert got[("S1", "FREIGHT")] == (Decimal("15.00"), Decimal("106.50"))
    assert got[("S1", "FUEL")] == (Decimal("1.50"), Decimal("10.65"))
    assert got[("P1", "FREIGHT")] == (Decimal("8.00"), Decimal("1.12"))


def test_missing_fx_rate_names_the_pair_and_date() -> None:
    companies = pl.DataFrame(
        [{"company": "EU01", "functional_currency": "EUR"}], schema=b.companies().schema
    )
    with pytest.raises(MissingFxRate, match=r"USD->EUR on 2026-01-15"):
        rate_shipments(
            b.shipments(b.shipment("S1", "EXPR", JAN, "US", "12345", "1", company="EU01")),
            b.cards(),
            b.fx_rates(),
            companies,
        )


def test_rating_is_deterministic_and_keeps_every_shipment() -> None:
    rows = [
        b.shipment(
            f"S{i}", "EXPR", datetime(2026, 1, 1 + i % 28), "US", f"{10000 + i * 997}", "1.1"
        )
        for i in range(60)
    ]
    first = rate_shipments(b.shipments(*rows), b.cards(), b.fx_rates(), b.companies())
    again = rate_shipments(b.shipments(*reversed(rows)), b.cards(), b.fx_rates(), b.companies())
    assert first.shipment_ratings.equals(again.shipment_ratings)
    assert first.expected_charges.equals(again.expected_charges)
    assert first.shipment_ratings.height == 60
    assert first.expected_charges.filter(pl.col("charge_type") == "FREIGHT").height == 60
    assert date(2026, 1, 1) in first.shipment_ratings["ship_date"].to_list()
