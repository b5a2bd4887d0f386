"""Each finding with a minimal example, precedence, and tolerances at the boundary.

Figures are from tests/reconciliation/scenario.py (hand-computed there)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from tests.rating.builders import line
from tests.reconciliation.scenario import by_line, finding_of, run

D = Decimal


def test_contract_lines_are_ok_and_approved_as_billed() -> None:
    result = run(
        line("B1", 1, "trk-s1", "FREIGHT", "15.00", "1.5"),
        line("B1", 2, "TRK S1", "FUEL", "1.50"),
        line("B1", 3, "TRKS1", "OTHER", "1.00"),
        line("B1", 4, "TRKS2", "REMOTE_AREA", "15.00"),
        line("B1", 5, "TRKS2", "CUSTOMS_DUTY", "33.33"),  # pass-through: approved as billed
        line("B1", 6, "TRKS2", "RESIDENTIAL", "4.00"),  # on-demand fee from the contract
    )
    rows = by_line(result)
    assert {r["finding"] for r in rows.values()} == {"OK"}
    assert all(r["approved_amount"] == r["billed_amount"] for r in rows.values())
    assert rows[("B1", 1)]["shipment_id"] == "S1"  # matched after normalising "trk-s1"
    assert rows[("B1", 5)]["expected_amount"] == D("33.33")


def test_duplicate_in_the_same_bill_keeps_the_first_and_cites_it() -> None:
    result = run(
        line("B1", 1, "TRKS1", "FREIGHT", "15.00", "1.5"),
        line("B1", 2, "TRKS1", "FREIGHT", "15.00", "1.5"),
    )
    first, dup = by_line(result)[("B1", 1)], by_line(result)[("B1", 2)]
    assert first["finding"] == "OK"
    assert dup["finding"] == "DUPLICATE"
    assert dup["duplicate_of"] == "B1#1"
    assert dup["approved_amount"] == 0 and dup["disputed_amount"] == D("15.00")
    assert "first billed on bill B1 line 1 dated 2026-01-31" in dup["evidence"]


def test_duplicate_across_bills_orders_by_bill_date_not_input_order() -> None:
    result = run(
        line("B9", 1, "TRKS1", "FREIGHT", "15.00", "1.5", bill_date=date(2026, 1, 31)),
        line("A1", 1, "TRKS1", "FREIGHT", "15.00", "1.5", bill_date=date(2026, 1, 20)),
    )
    assert finding_of(result, "A1", 1) == "OK"
    assert finding_of(result, "B9", 1) == "DUPLICATE"


def test_duplicate_of_a_line_billed_in_an_earlier_period() -> None:
    from tests.reconciliation.scenario import FEB

    result = run(
        line("JAN1", 1, "TRKS1", "FREIGHT", "15.00", "1.5", bill_date=date(2026, 1, 31)),
        line("FEB1", 1, "TRKS1", "FREIGHT", "15.00", "1.5", bill_date=date(2026, 2, 28)),
        period=FEB,
    )
    assert set(by_line(result)) == {("FEB1", 1)}  # only this period's lines get findings
    assert finding_of(result, "FEB1", 1) == "DUPLICATE"
    assert by_line(result)[("FEB1", 1)]["duplicate_of"] == "JAN1#1"


def test_unknown_shipment_never_shipped_or_shipped_with_another_carrier() -> None:
    result = run(
        line("B1", 1, "NOPE123", "FREIGHT", "15.00", "1.5"),
        line("B1", 2, "TRKX1", "FREIGHT", "15.00", "1.5"),
    )
    rows = by_line(result)
    assert rows[("B1", 1)]["finding"] == "UNKNOWN_SHIPMENT"
    assert rows[("B1", 1)]["evidence"] == "no EXPR shipment has this tracking number"
    assert rows[("B1", 2)]["finding"] == "UNKNOWN_SHIPMENT"
    assert "shipped with POST (shipment P1)" in rows[("B1", 2)]["evidence"]
    assert all(r["disputed_amount"] == D("15.00") for r in rows.values())


def test_unknown_shipment_names_the_other_carrier_when_carriers_are_rated_apart() -> None:
    """The warehouse run rates one carrier at a time and passes every carrier's tracking
    numbers as `other_shipments`: the evidence still names the carrier that shipped it."""
    from pipelines.rating import RatingResult
    from pipelines.reconciliation import PeriodInputs, reconcile
    from tests.rating import builders as b
    from tests.reconciliation.scenario import JAN, RATING, SETTINGS

    expr = pl.col("carrier") == "EXPR"
    own = RatingResult(RATING.shipment_ratings.filter(expr), RATING.expected_charges.filter(expr))
    others = RATING.shipment_ratings.select("tracking_number", "carrier", "shipment_id")
    frame = b.bill_lines(line("B1", 1, "TRKX1", "FREIGHT", "15.00", "1.5"))
    headers = b.headers_for(frame, None)
    named = reconcile(PeriodInputs(frame, headers, own, JAN, other_shipments=others), SETTINGS)
    alone = reconcile(PeriodInputs(frame, headers, own, JAN), SETTINGS)
    assert "shipped with POST (shipment P1)" in named.findings["evidence"][0]
    assert alone.findings["evidence"][0] == "no EXPR shipment has this tracking number"


def test_uncontracted_charge_type_and_unpriceable_shipment() -> None:
    result = run(
        line("B1", 1, "TRKS3", "OVERSIZE", "9.00"),
        line("B1", 2, "TRKSB", "FREIGHT", "30.00", "0.5"),
    )
    rows = by_line(result)
    assert rows[("B1", 1)]["finding"] == "UNCONTRACTED_CHARGE"
    assert (
        "OVERSIZE is not an allowed charge type of EXPR:EXPR-WW:v1" in rows[("B1", 1)]["evidence"]
    )
    assert rows[("B1", 2)]["finding"] == "UNCONTRACTED_CHARGE"
    assert "has no zone for country BR" in rows[("B1", 2)]["evidence"]


def test_weight_discrepancy_approves_our_weight_and_the_fuel_follows() -> None:
    # S2: ours 5.0 kg -> 39.00; billed 6.0 kg -> 12 + 11 x 3 = 45.00, fuel 10% of 45 = 4.50
    result = run(
        line("B1", 1, "TRKS2", "FREIGHT", "45.00", "6.0"),
        line("B1", 2, "TRKS2", "FUEL", "4.50"),
    )
    freight, fuel = by_line(result)[("B1", 1)], by_line(result)[("B1", 2)]
    assert freight["finding"] == "WEIGHT_DISCREPANCY"
    assert (freight["expected_amount"], freight["approved_amount"], freight["disputed_amount"]) == (
        D("39.00"),
        D("39.00"),
        D("6.00"),
    )
    assert "billed 6.000 kg > our chargeable 5.000 kg" in freight["evidence"]
    assert "volumetric 4.800 kg" in freight["evidence"]
    assert fuel["finding"] == "WEIGHT_DISCREPANCY" and fuel["derived_from_freight"]
    assert (fuel["expected_amount"], fuel["disputed_amount"]) == (D("3.90"), D("0.60"))


def test_rate_mismatch_and_undercharge() -> None:
    result = run(
        line("B1", 1, "TRKS3", "FREIGHT", "21.00", "0.5"),
        line("B1", 2, "TRKS1", "FREIGHT", "14.00", "1.5"),  # below 15.00 beyond tolerance
    )
    over, under = by_line(result)[("B1", 1)], by_line(result)[("B1", 2)]
    assert over["finding"] == "RATE_MISMATCH"
    assert (over["approved_amount"], over["disputed_amount"], over["difference"]) == (
        D("20.00"),
        D("1.00"),
        D("1.00"),
    )
    assert under["finding"] == "RATE_MISMATCH"
    assert (under["approved_amount"], under["disputed_amount"]) == (D("14.00"), D("0.00"))
    assert result.disputes["tracking_number"].to_list() == ["TRKS3"]


def test_freight_is_priced_at_the_billed_weight_when_within_tolerance() -> None:
    # S2 ours 5.0 kg; billed 5.1 kg (within 0.1 kg) rounds to 5.5 kg: 12 + 10 x 3 = 42.00
    # billed 4.0 kg (below ours): 12 + 7 x 3 = 33.00 is the contract price for it
    result = run(
        line("B1", 1, "TRKS2", "FREIGHT", "42.00", "5.1"),
        line("B2", 1, "TRKS3", "FREIGHT", "20.00", "0.3"),
    )
    assert finding_of(result, "B1", 1) == "OK"
    assert by_line(result)[("B1", 1)]["expected_amount"] == D("42.00")
    assert finding_of(result, "B2", 1) == "OK"


def test_fuel_mismatch_against_the_months_percentage() -> None:
    result = run(
        line("B1", 1, "TRKS3", "FREIGHT", "20.00", "0.5"),
        line("B1", 2, "TRKS3", "FUEL", "2.50"),  # 12.5% of 20.00; January is 10% = 2.00
    )
    fuel = by_line(result)[("B1", 2)]
    assert fuel["finding"] == "FUEL_MISMATCH"
    assert (fuel["expected_amount"], fuel["approved_amount"], fuel["disputed_amount"]) == (
        D("2.00"),
        D("2.00"),
        D("0.50"),
    )
    assert "fuel 10.0000% of approved freight 20.00 = 2.00" in fuel["evidence"]


def test_fuel_without_a_freight_line_uses_our_expected_freight() -> None:
    result = run(line("B1", 1, "TRKS1", "FUEL", "1.50"))
    assert finding_of(result, "B1", 1) == "OK"


def test_remote_fee_on_a_non_remote_postcode_and_wrong_on_demand_fee() -> None:
    result = run(
        line("B1", 1, "TRKS1", "REMOTE_AREA", "15.00"),
        line("B1", 2, "TRKS1", "RESIDENTIAL", "5.00"),
    )
    remote, residential = by_line(result)[("B1", 1)], by_line(result)[("B1", 2)]
    assert remote["finding"] == "RATE_MISMATCH" and remote["expected_amount"] == 0
    assert "postcode not in the remote-area list" in remote["evidence"]
    assert residential["finding"] == "RATE_MISMATCH"
    assert residential["expected_amount"] == D("4.00")


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # a second line of an unknown tracking number: DUPLICATE beats UNKNOWN_SHIPMENT
        ((("NOPE", "FREIGHT", "9.00", "1"), ("NOPE", "FREIGHT", "9.00", "1")), "DUPLICATE"),
        # an uncontracted charge billed twice: DUPLICATE beats UNCONTRACTED_CHARGE
        ((("TRKS3", "OVERSIZE", "9.00", None), ("TRKS3", "OVERSIZE", "9.00", None)), "DUPLICATE"),
        # overweight and mispriced: WEIGHT_DISCREPANCY beats RATE_MISMATCH
        (
            (("TRKS3", "FREIGHT", "20.00", "0.5"), ("TRKS2", "FREIGHT", "99.00", "9")),
            "WEIGHT_DISCREPANCY",
        ),
        # an unknown tracking number with an uncontracted charge type: UNKNOWN_SHIPMENT first
        (
            (("TRKS3", "FREIGHT", "20.00", "0.5"), ("NOPE", "OVERSIZE", "9.00", None)),
            "UNKNOWN_SHIPMENT",
        ),
    ],
)
def test_single_finding_precedence(lines: tuple, expected: str) -> None:
    result = run(*(line("B1", i + 1, *spec) for i, spec in enumerate(lines)))
    assert finding_of(result, "B1", 2) == expected
    assert result.findings.height == 2


@pytest.mark.parametrize(
    ("billed", "finding"),
    [
        ("20.20", "OK"),  # expected 20.00: relative 1% = 0.20 beats absolute 0.05; on the boundary
        ("20.21", "RATE_MISMATCH"),
        ("19.80", "OK"),
        ("19.79", "RATE_MISMATCH"),
    ],
)
def test_relative_amount_tolerance_boundary(billed: str, finding: str) -> None:
    assert finding_of(run(line("B1", 1, "TRKS3", "FREIGHT", billed, "0.5")), "B1", 1) == finding


@pytest.mark.parametrize(
    ("billed", "finding"),
    [("1.05", "OK"), ("1.06", "RATE_MISMATCH"), ("0.95", "OK"), ("0.94", "RATE_MISMATCH")],
)
def test_absolute_amount_tolerance_boundary(billed: str, finding: str) -> None:
    # OTHER expected 1.00: absolute 0.05 beats relative 1% (0.01)
    assert finding_of(run(line("B1", 1, "TRKS3", "OTHER", billed)), "B1", 1) == finding


@pytest.mark.parametrize(("billed", "finding"), [("2.02", "OK"), ("2.03", "FUEL_MISMATCH")])
def test_fuel_tolerance_boundary(billed: str, finding: str) -> None:
    result = run(
        line("B1", 1, "TRKS3", "FREIGHT", "20.00", "0.5"),
        line("B1", 2, "TRKS3", "FUEL", billed),
    )
    assert finding_of(result, "B1", 2) == finding


@pytest.mark.parametrize(
    ("weight", "amount", "finding"),
    [
        ("0.6", "24.00", "OK"),  # ours 0.5 + 0.1 kg tolerance: priced at 0.6 -> 1.0 kg = 24.00
        ("0.601", "24.00", "WEIGHT_DISCREPANCY"),
    ],
)
def test_weight_tolerance_boundary(weight: str, amount: str, finding: str) -> None:
    result = run(line("B1", 1, "TRKS3", "FREIGHT", amount, weight))
    assert finding_of(result, "B1", 1) == finding
