"""Invariants on arbitrary bills: one finding per line, billed = approved + disputed,
accruals roll forward, and the findings do not depend on the order of the lines."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.reconciliation import (
    billed_not_split,
    lines_without_one_finding,
    rollforward_breaks,
    rollforward_chain_breaks,
)
from tests.rating import builders as b
from tests.reconciliation.scenario import FEB, JAN, run

TRACKING = ["TRKS1", "TRKS2", "TRKS3", "TRKS4", "TRKSB", "TRKX1", "NOPE"]
CHARGES = ["FREIGHT", "FUEL", "OTHER", "REMOTE_AREA", "RESIDENTIAL", "CUSTOMS_DUTY", "OVERSIZE"]


@st.composite
def bills(draw: st.DrawFn) -> list[dict]:
    rows = []
    for bill in range(draw(st.integers(1, 4))):
        day = draw(st.sampled_from([date(2026, 1, 20), date(2026, 1, 31), date(2026, 2, 27)]))
        for n in range(1, draw(st.integers(1, 8)) + 1):
            cents = draw(st.integers(-500, 6000))
            grams = draw(st.one_of(st.none(), st.integers(1, 9000)))
            rows.append(
                b.line(
                    f"B{bill}",
                    n,
                    draw(st.sampled_from(TRACKING)),
                    draw(st.sampled_from(CHARGES)),
                    str(Decimal(cents) / 100),
                    None if grams is None else str(Decimal(grams) / 1000),
                    bill_date=day,
                )
            )
    return rows


@settings(max_examples=40, deadline=None)
@given(bills(), st.randoms(use_true_random=False))
def test_reconciliation_invariants(rows: list[dict], rnd) -> None:
    jan, feb = run(*rows, period=JAN), run(*rows, period=FEB)
    lines = b.bill_lines(*rows)
    for result in (jan, feb):
        period_lines = lines.join(
            result.payable_vouchers.select("source_sha256", "bill_number"),
            on=["source_sha256", "bill_number"],
        )
        assert lines_without_one_finding(period_lines, result.findings).is_empty()
        assert billed_not_split(result.findings).is_empty()
        assert rollforward_breaks(result.accrual_rollforward).is_empty()
        charges = result.findings.filter(pl.col("billed_amount") >= 0)
        assert charges.filter(
            (pl.col("approved_amount") < 0) | (pl.col("approved_amount") > pl.col("billed_amount"))
        ).is_empty()
    assert jan.findings.height + feb.findings.height == lines.height
    assert rollforward_chain_breaks(jan.accrual_rollforward, feb.accrual_rollforward).is_empty()
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    assert run(*shuffled, period=JAN).findings.equals(jan.findings)
