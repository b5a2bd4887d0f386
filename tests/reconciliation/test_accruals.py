"""Unbilled shipments are accrued at the expected price and released when billed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

from pipelines.reconciliation import rollforward_breaks, rollforward_chain_breaks
from tests.rating.builders import line
from tests.reconciliation.scenario import FEB, JAN, run

D = Decimal
JAN_BILL = line("J1", 1, "TRKS1", "FREIGHT", "15.00", "1.5", bill_date=date(2026, 1, 31))
FEB_BILL = line("F1", 1, "TRKS2", "FREIGHT", "39.00", "5", bill_date=date(2026, 2, 28))


def _entries(result) -> dict[tuple[str, str], Decimal]:
    return {
        (e, s): a
        for e, s, a in result.accruals.select("entry", "shipment_id", "amount").iter_rows()
    }


def test_unbilled_shipments_of_the_period_are_accrued_at_expected() -> None:
    jan = run(JAN_BILL, FEB_BILL, period=JAN)
    # S2 58.90, S3 23.00 and SB (cannot be priced: accrued at 0 with its reason);
    # S1 billed; S4 shipped in February; P1 is another carrier's
    assert _entries(jan) == {
        ("ACCRUE", "S2"): D("58.90"),
        ("ACCRUE", "S3"): D("23.00"),
        ("ACCRUE", "SB"): D("0.00"),
    }
    sb = jan.unbilled.filter(pl.col("shipment_id") == "SB").row(0, named=True)
    assert "no zone for country BR" in sb["unrated_reason"]
    (roll,) = jan.accrual_rollforward.iter_rows(named=True)
    assert (roll["opening"], roll["accrued"], roll["released"], roll["closing"]) == (
        D("0.00"),
        D("81.90"),
        D("0.00"),
        D("81.90"),
    )
    summary = jan.period_summary.row(0, named=True)
    assert (summary["unbilled_count"], summary["unrated_unbilled_count"]) == (3, 1)
    assert summary["accrued_total"] == D("81.90")


def test_accrual_is_released_when_the_bill_arrives_and_rolls_forward() -> None:
    jan = run(JAN_BILL, FEB_BILL, period=JAN)
    feb = run(JAN_BILL, FEB_BILL, period=FEB)
    # S2 billed in February: released; S4 (February, 23.50) unbilled: accrued
    assert _entries(feb) == {("RELEASE", "S2"): D("-58.90"), ("ACCRUE", "S4"): D("23.50")}
    (roll,) = feb.accrual_rollforward.iter_rows(named=True)
    assert (roll["opening"], roll["accrued"], roll["released"], roll["closing"]) == (
        D("81.90"),
        D("23.50"),
        D("58.90"),
        D("46.50"),
    )
    assert rollforward_breaks(feb.accrual_rollforward).is_empty()
    assert rollforward_chain_breaks(jan.accrual_rollforward, feb.accrual_rollforward).is_empty()
    assert feb.accrual_releases["shipment_id"].to_list() == ["S2"]


def test_a_late_bill_for_a_closed_period_changes_its_rerun_consistently() -> None:
    late = line("J2", 1, "TRKS2", "FREIGHT", "39.00", "5", bill_date=date(2026, 1, 31))
    jan = run(JAN_BILL, late, FEB_BILL, period=JAN)
    feb = run(JAN_BILL, late, FEB_BILL, period=FEB)
    assert ("ACCRUE", "S2") not in _entries(jan)
    assert ("RELEASE", "S2") not in _entries(feb)
    assert rollforward_chain_breaks(jan.accrual_rollforward, feb.accrual_rollforward).is_empty()
    # and the February line for S2 is now a duplicate of the late January one
    assert feb.findings.filter(pl.col("bill_number") == "F1")["finding"].to_list() == ["DUPLICATE"]


def test_a_carrier_with_no_bills_yet_accrues_every_priced_shipment() -> None:
    """Regression: with no bill lines at all, the period mapping kept a String column."""
    jan = run(period=JAN)
    assert _entries(jan) == {
        ("ACCRUE", "S1"): D("17.50"),
        ("ACCRUE", "S2"): D("58.90"),
        ("ACCRUE", "S3"): D("23.00"),
        ("ACCRUE", "SB"): D("0.00"),
    }
    assert jan.findings.is_empty()
