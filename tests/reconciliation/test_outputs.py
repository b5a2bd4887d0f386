"""Period summary, payable vouchers, dispute list, errors and reproducibility."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from pipelines.reconciliation import (
    BillInputError,
    PeriodInputs,
    billed_not_split,
    lines_without_one_finding,
    reconcile,
)
from pipelines.reconciliation.matching import AmbiguousShipment, match_shipments
from tests.rating import builders as b
from tests.rating.builders import line
from tests.reconciliation.scenario import JAN, RATING, SETTINGS, run

D = Decimal
LINES = (
    line("B1", 1, "TRKS1", "FREIGHT", "15.00", "1.5"),  # OK
    line("B1", 2, "TRKS1", "FUEL", "1.50"),  # OK
    line("B1", 3, "TRKS3", "FREIGHT", "21.00", "0.5"),  # RATE_MISMATCH, 1.00 disputed
    line("B2", 1, "TRKS1", "FREIGHT", "15.00", "1.5", bill_date=date(2026, 1, 25)),  # first
    line("B2", 2, "NOPE", "FREIGHT", "10.00", "1", bill_date=date(2026, 1, 25)),  # UNKNOWN
)


def test_period_summary_totals_counts_and_shares() -> None:
    result = run(*LINES, stated={"B1": "37.50", "B2": "99.99"}, quarantined_count=1)
    (s,) = result.period_summary.iter_rows(named=True)
    assert (s["bill_count"], s["line_count"]) == (2, 5)
    assert s["billed_total"] == D("62.50")
    # B1#1 is a duplicate of B2#1 (earlier bill date): expected 0
    assert s["expected_total"] == D("15.00") + D("1.50") + D("20.00")
    assert s["approved_total"] == D("36.50")
    assert s["disputed_total"] == D("26.00")
    assert (
        s["count_ok"],
        s["count_duplicate"],
        s["count_rate_mismatch"],
        s["count_unknown_shipment"],
    ) == (
        2,
        1,
        1,
        1,
    )
    assert s["auto_approved_share"] == D("40.0000")
    assert s["parse_coverage"] == D("83.3333")  # 5 lines, 1 quarantined item
    assert s["bills_total_mismatch"] == 1  # B2 states 99.99, its lines sum to 25.00


def test_payable_vouchers_per_bill_and_disputes_list() -> None:
    result = run(*LINES)
    vouchers = {r["voucher_id"]: r for r in result.payable_vouchers.iter_rows(named=True)}
    assert set(vouchers) == {"EXPR-B1", "EXPR-B2"}
    assert (vouchers["EXPR-B1"]["approved_total"], vouchers["EXPR-B1"]["disputed_total"]) == (
        D("21.50"),
        D("16.00"),
    )
    assert vouchers["EXPR-B2"]["approved_total"] == D("15.00")
    disputes = result.disputes.select("bill_number", "line_number", "reason", "disputed_amount")
    assert disputes.rows() == [
        ("B1", 1, "DUPLICATE", D("15.00")),
        ("B1", 3, "RATE_MISMATCH", D("1.00")),
        ("B2", 2, "UNKNOWN_SHIPMENT", D("10.00")),
    ]


def test_every_line_has_one_finding_and_billed_splits_exactly() -> None:
    result = run(*LINES)
    assert lines_without_one_finding(b.bill_lines(*LINES), result.findings).is_empty()
    assert billed_not_split(result.findings).is_empty()
    broken = result.findings.with_columns(approved_amount=pl.col("billed_amount"))
    assert billed_not_split(broken).height == 3
    missing = lines_without_one_finding(b.bill_lines(*LINES), result.findings.head(4))
    assert missing.select("bill_number", "line_number").rows() == [("B2", 2)]


def test_same_inputs_in_any_order_give_the_same_outputs() -> None:
    first = run(*LINES)
    shuffled = list(LINES)
    random.Random(3).shuffle(shuffled)
    again = run(*shuffled)
    for name in ("findings", "period_summary", "payable_vouchers", "disputes", "accruals"):
        assert getattr(first, name).equals(getattr(again, name)), name


def test_a_period_without_bills_still_reports_its_accruals() -> None:
    result = run(line("X", 1, "TRKS1", "FREIGHT", "15.00", "1.5", bill_date=date(2026, 3, 3)))
    (s,) = result.period_summary.iter_rows(named=True)
    assert (s["line_count"], s["billed_total"], s["currency"]) == (0, D("0.00"), "USD")
    assert s["unbilled_count"] == 4  # S1 (billed only in March), S2, S3, SB


def test_lines_without_header_are_refused() -> None:
    lines = b.bill_lines(*LINES)
    with pytest.raises(BillInputError, match=r"have no bill header, e\.g\. bill B2"):
        reconcile(
            PeriodInputs(
                lines, b.headers_for(lines.filter(pl.col("bill_number") == "B1")), RATING, JAN
            ),
            SETTINGS,
        )


def test_lines_in_another_currency_than_the_contract_are_refused() -> None:
    with pytest.raises(BillInputError, match="bill B1 in EUR, contract in USD"):
        run(line("B1", 1, "TRKS1", "FREIGHT", "15.00", "1.5", currency="EUR"))


def test_two_shipments_with_one_tracking_number_are_refused() -> None:
    ratings = pl.concat(
        [
            RATING.shipment_ratings,
            RATING.shipment_ratings.filter(pl.col("shipment_id") == "S1").with_columns(
                shipment_id=pl.lit("S1bis")
            ),
        ]
    )
    with pytest.raises(AmbiguousShipment, match="TRKS1: S1, S1bis"):
        match_shipments(b.bill_lines(*LINES), ratings, "EXPR")


def test_judging_in_buckets_of_tracking_numbers_changes_nothing() -> None:
    more = (
        *LINES,
        line("B2", 3, "TRKS2", "FREIGHT", "45.00", "6", bill_date=date(2026, 1, 25)),
        line("B2", 4, "TRKS2", "FUEL", "4.50", bill_date=date(2026, 1, 25)),
        line("B2", 5, "TRKX1", "FREIGHT", "1.00", "1", bill_date=date(2026, 1, 25)),
    )
    whole = run(*more)
    for size in (1, 2, 3):
        split = run(*more, bucket_lines=size)
        for name in ("findings", "period_summary", "payable_vouchers", "disputes", "accruals"):
            assert getattr(split, name).equals(getattr(whole, name)), (size, name)
        # lines not in line order: the merge falls back to sorting on the line key
        unordered = run(*reversed(more), bucket_lines=size)
        assert unordered.findings.equals(whole.findings), size
