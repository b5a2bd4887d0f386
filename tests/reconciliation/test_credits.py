"""Credits are not duplicates (issue 12): a negative line that exactly reverses an earlier
charge is a CREDIT mirroring that charge, so the pair nets out; a correction (credit + new
charge) is judged on the new charge; a credit reversing nothing is an UNMATCHED_CREDIT.

Figures are from tests/reconciliation/scenario.py (S1 FREIGHT 15.00, FUEL 10%), and the
end-to-end case reads a UPS Billing Data file written by tests/parsers/published_layouts.py.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl

from parsers.base import ParseContext
from parsers.registry import Registry
from pipelines.rating import build_tables, rate_shipments
from pipelines.reconciliation import (
    BillingPeriod,
    CarrierSettings,
    CarriersFile,
    PeriodInputs,
    reconcile,
)
from storage.dispute_workbook import dispute_sheet
from tests.parsers.published_layouts import ups_billing_data
from tests.rating import builders as b
from tests.rating.builders import line
from tests.reconciliation.scenario import FEB, by_line, run

D = Decimal
FIGURES = ("finding", "billed_amount", "expected_amount", "approved_amount", "disputed_amount")


def figures(result, bill: str, n: int) -> tuple:
    row = by_line(result)[(bill, n)]
    return tuple(row[c] for c in FIGURES)


def test_a_credit_in_the_same_bill_reverses_the_charge_and_the_pair_nets_out() -> None:
    result = run(
        line("B1", 1, "TRKS1", "FREIGHT", "15.00", "1.5"),
        line("B1", 2, "TRKS1", "FREIGHT", "-15.00", "1.5"),
    )
    assert figures(result, "B1", 1) == ("OK", D("15.00"), D("15.00"), D("15.00"), D("0.00"))
    assert figures(result, "B1", 2) == ("CREDIT", D("-15.00"), D("-15.00"), D("-15.00"), 0)
    credit = by_line(result)[("B1", 2)]
    assert credit["duplicate_of"] is None
    assert credit["evidence"] == (
        "credit of bill B1 line 1 dated 2026-01-31 for 15.00, judged OK: the pair nets to zero"
    )
    (summary,) = result.period_summary.iter_rows(named=True)
    assert (summary["count_credit"], summary["count_duplicate"]) == (1, 0)
    assert summary["billed_total"] == summary["approved_total"] == 0
    assert result.disputes.is_empty()


def test_a_correction_credits_a_disputed_charge_of_an_earlier_period_and_bills_it_again():
    """January billed 18.00 for a 15.00 freight (and fuel on it); February credits both and
    bills 15.00 and 1.50: judged on the new charges, the credits settle the disputes."""
    result = run(
        line("JAN1", 1, "TRKS1", "FREIGHT", "18.00", "1.5", bill_date=date(2026, 1, 31)),
        line("JAN1", 2, "TRKS1", "FUEL", "1.80", bill_date=date(2026, 1, 31)),
        line("FEB1", 1, "TRKS1", "FREIGHT", "-18.00", "1.5", bill_date=date(2026, 2, 28)),
        line("FEB1", 2, "TRKS1", "FREIGHT", "15.00", "1.5", bill_date=date(2026, 2, 28)),
        line("FEB1", 3, "TRKS1", "FUEL", "-1.80", bill_date=date(2026, 2, 28)),
        line("FEB1", 4, "TRKS1", "FUEL", "1.50", bill_date=date(2026, 2, 28)),
        period=FEB,
    )
    assert set(by_line(result)) == {("FEB1", n) for n in (1, 2, 3, 4)}
    credit = ("CREDIT", D("-18.00"), D("-15.00"), D("-15.00"), D("-3.00"))
    assert figures(result, "FEB1", 1) == credit
    assert figures(result, "FEB1", 2) == ("OK", D("15.00"), D("15.00"), D("15.00"), D("0.00"))
    assert figures(result, "FEB1", 3) == ("CREDIT", D("-1.80"), D("-1.50"), D("-1.50"), D("-0.30"))
    assert figures(result, "FEB1", 4) == ("OK", D("1.50"), D("1.50"), D("1.50"), D("0.00"))
    assert "judged RATE_MISMATCH" in by_line(result)[("FEB1", 1)]["evidence"]
    # the dispute list tells the carrier its credits settle the January disputes
    reasons = dispute_sheet(result.disputes)["Reason"].to_list()
    assert reasons == ["Credit of a charge we disputed (settles the dispute)"] * 2


def test_a_credited_duplicate_leaves_the_first_billing_standing() -> None:
    result = run(
        line("B1", 1, "TRKS1", "FREIGHT", "15.00", "1.5"),
        line("B1", 2, "TRKS1", "FREIGHT", "15.00", "1.5"),
        line("B1", 3, "TRKS1", "FREIGHT", "-15.00", "1.5"),
    )
    assert figures(result, "B1", 1)[0] == "OK"
    assert figures(result, "B1", 2) == ("DUPLICATE", D("15.00"), 0, 0, D("15.00"))
    # the credit reverses the duplicate (the latest charge), not the first billing
    assert figures(result, "B1", 3) == ("CREDIT", D("-15.00"), 0, 0, D("-15.00"))
    assert "credit of bill B1 line 2 " in by_line(result)[("B1", 3)]["evidence"]
    (summary,) = result.period_summary.iter_rows(named=True)
    assert (summary["billed_total"], summary["approved_total"]) == (D("15.00"), D("15.00"))
    assert summary["disputed_total"] == 0


def test_the_same_charge_billed_twice_and_not_credited_is_still_a_duplicate() -> None:
    result = run(
        line("B1", 1, "TRKS1", "FREIGHT", "15.00", "1.5"),
        line("B1", 2, "TRKS1", "FREIGHT", "-15.00", "1.5"),
        line("B1", 3, "TRKS1", "FREIGHT", "15.00", "1.5"),  # billed again after the credit
        line("B1", 4, "TRKS1", "FREIGHT", "15.00", "1.5"),  # and once more: a duplicate
    )
    assert [figures(result, "B1", n)[0] for n in (1, 2, 3, 4)] == [
        "OK",
        "CREDIT",
        "OK",
        "DUPLICATE",
    ]
    assert by_line(result)[("B1", 4)]["duplicate_of"] == "B1#3"


def test_a_credit_with_nothing_to_reverse_is_its_own_finding_taken_as_billed() -> None:
    result = run(
        line("B1", 1, "TRKS3", "FREIGHT", "-5.00"),  # goodwill: TRKS3 was never billed
        line("B1", 2, "TRKS1", "FREIGHT", "15.00", "1.5"),
        line("B1", 3, "TRKS1", "FREIGHT", "-4.00", "1.5"),  # a partial credit
        line("B1", 4, "TRKS1", "FREIGHT", "-15.00", "1.5"),  # the full reversal
        line("B1", 5, "TRKS1", "FREIGHT", "-15.00", "1.5"),  # nothing left to reverse
    )
    unmatched = ("UNMATCHED_CREDIT", D("-5.00"), D("-5.00"), D("-5.00"), D("0.00"))
    assert figures(result, "B1", 1) == unmatched
    assert figures(result, "B1", 3)[0] == "UNMATCHED_CREDIT"
    assert figures(result, "B1", 4)[0] == "CREDIT"
    assert figures(result, "B1", 5)[0] == "UNMATCHED_CREDIT"
    assert by_line(result)[("B1", 1)]["evidence"] == (
        "credit of 5.00 reverses no FREIGHT charge billed for this tracking number: taken as billed"
    )
    (summary,) = result.period_summary.iter_rows(named=True)
    assert summary["count_unmatched_credit"] == 3
    assert summary["billed_total"] == summary["approved_total"] == D("-24.00")


def test_bucketed_periods_mirror_the_same_credits() -> None:
    rows = [
        line("JAN1", 1, "TRKS1", "FREIGHT", "18.00", "1.5", bill_date=date(2026, 1, 31)),
        line("JAN1", 2, "TRKS2", "FREIGHT", "39.00", "5.0", bill_date=date(2026, 1, 31)),
        line("FEB1", 1, "TRKS1", "FREIGHT", "-18.00", "1.5", bill_date=date(2026, 2, 28)),
        line("FEB1", 2, "TRKS2", "FREIGHT", "-39.00", "5.0", bill_date=date(2026, 2, 28)),
        line("FEB1", 3, "TRKS3", "FREIGHT", "20.00", "0.5", bill_date=date(2026, 2, 28)),
    ]
    whole, buckets = run(*rows, period=FEB), run(*rows, period=FEB, bucket_lines=1)
    assert buckets.findings.equals(whole.findings)
    assert whole.findings["finding"].to_list() == ["CREDIT", "CREDIT", "OK"]


# --- end to end: a UPS Billing Data file through the parser registry -----------------

UPS_CARD = {
    "carrier": "UPS",
    "contract": "UPS-GROUND",
    "version": 1,
    "valid_from": "2026-01-01",
    "currency": "USD",
    "shape": "EXPRESS",
    "zones": [{"zone": "W", "countries": ["US", "CA", "GB", "DE"]}],
    "express": {
        "first_weight_kg": "1",
        "additional_weight_kg": "1",
        "prices": [{"zone": "W", "first": "10.00", "additional": "0.50"}],
    },
    "fuel_percent_by_month": {f"2026-{m:02d}": "10" for m in range(1, 13)},
    "accessorials": [
        {"charge_type": c, "fee": "5.00"}
        for c in ("RESIDENTIAL", "REMOTE_AREA", "OVERSIZE", "ADDRESS_CORRECTION")
    ],
    "pass_through_charge_types": ["CUSTOMS_DUTY", "IMPORT_VAT", "OTHER"],
    "allowed_charge_types": [
        "FREIGHT",
        "FUEL",
        "RESIDENTIAL",
        "REMOTE_AREA",
        "OVERSIZE",
        "ADDRESS_CORRECTION",
        "CUSTOMS_DUTY",
        "IMPORT_VAT",
        "OTHER",
    ],
}


def _ups_carriers() -> CarriersFile:
    tolerance = {"DEFAULT": {"absolute": "0.05", "relative_percent": "1"}}
    return CarriersFile.model_validate(
        {
            "carriers": [
                {
                    "carrier": "UPS",
                    "billing_cycle": "MONTHLY",
                    "currency": "USD",
                    "tolerances": {
                        "amount": tolerance,
                        "weight": {"absolute_kg": "0.1", "relative_percent": "0"},
                    },
                }
            ]
        }
    )


def test_a_ups_shipping_charge_correction_is_credits_and_a_new_charge_not_duplicates(
    tmp_path: Path,
) -> None:
    """A UPS Billing Data file whose adjustment rows credit a shipment's freight and
    residential surcharge in full and bill the freight again, parsed by the registry and
    reconciled: no false dispute, each credit mirrors the charge it reverses, the re-billed
    freight is judged against the contract, and every tracking number's lines sum to what
    UPS billed net."""
    bill = ups_billing_data(21, exact_credits=True)
    path = tmp_path / "ups.csv"
    path.write_bytes(bill.data)
    registry = Registry.default(use_entry_points=False)
    ctx = ParseContext(hashlib.sha256(bill.data).hexdigest(), path.name)
    _, parsed = registry.parse(path, ctx)
    lines, headers = parsed.lines, parsed.headers
    assert (lines["amount"] < 0).sum() == 4  # two corrected shipments, two credits each

    first_rows = lines.group_by("tracking_number").agg(
        pl.col("shipment_date").first(), pl.col("destination_country").first()
    )
    shipments = b.shipments(
        *(
            b.shipment(
                f"U{i}",
                "UPS",
                datetime.combine(shipped, datetime.min.time()),
                country,
                None,
                "1.0",
                tracking=tracking,
            )
            for i, (tracking, shipped, country) in enumerate(
                first_rows.sort("tracking_number").rows()
            )
        )
    )
    tables = build_tables(b.cards(UPS_CARD))
    rating = rate_shipments(shipments, tables, b.fx_rates(), b.companies())
    bill_date = headers["bill_date"][0]
    start = bill_date.replace(day=1)
    period = BillingPeriod("UPS", start, _month_end(start))
    result = reconcile(
        PeriodInputs(lines, headers, rating, period), CarrierSettings(tables, _ups_carriers())
    )
    findings = result.findings
    assert findings.height == len(bill.lines)
    assert "DUPLICATE" not in findings["finding"].to_list()
    credits = findings.filter(pl.col("billed_amount") < 0)
    assert credits["finding"].to_list() == ["CREDIT"] * 4

    keys = ["source_sha256", "bill_number", "line_number"]
    reversed_line = (
        credits.select(*keys, "tracking_number", "charge_type", "billed_amount", "approved_amount")
        .join(
            findings.select(
                "tracking_number",
                "charge_type",
                charge_billed="billed_amount",
                charge_approved="approved_amount",
                charge_finding="finding",
            ).filter(pl.col("charge_billed") > 0),
            on=["tracking_number", "charge_type"],
        )
        .filter(pl.col("charge_billed") == -pl.col("billed_amount"))
    )
    assert reversed_line.height == 4
    assert (reversed_line["approved_amount"] == -reversed_line["charge_approved"]).all()
    rebilled = findings.filter(
        (pl.col("charge_type") == "FREIGHT")
        & (pl.col("billed_amount") > 0)
        & pl.col("tracking_number").is_in(credits["tracking_number"].implode())
    )
    assert rebilled.height == 4  # the first billing and the new charge of both shipments
    assert "DUPLICATE" not in rebilled["finding"].to_list()

    net = lines.group_by("tracking_number").agg(net=pl.col("amount").sum())
    judged = findings.group_by("tracking_number").agg(
        billed=pl.col("billed_amount").sum(),
        settled=(pl.col("approved_amount") + pl.col("disputed_amount")).sum(),
    )
    both = net.join(judged, on="tracking_number")
    assert both.height == net.height
    assert (both["net"] == both["billed"]).all() and (both["net"] == both["settled"]).all()


def _month_end(start: date) -> date:
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)
