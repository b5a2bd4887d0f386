"""Accounting invariants of credits on arbitrary bills (issue 12, docs/reconciliation.md
"Duplicates and credits"): nothing is lost in netting, every credit nets out with the
charge it reverses, and a line with its exact reversal changes no other line's finding."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.rating import builders as b
from tests.reconciliation.scenario import FEB, JAN, run

TRACKING = ["TRKS1", "TRKS2", "TRKS3", "NOPE"]
CHARGES = ["FREIGHT", "FUEL", "OTHER", "OVERSIZE"]
DAYS = [date(2026, 1, 20), date(2026, 1, 31), date(2026, 2, 14), date(2026, 2, 27)]
AMOUNTS = st.sampled_from([-1500, -700, 0, 150, 700, 1500, 1800, 3900])


@st.composite
def charge_keys(draw: st.DrawFn) -> tuple[str, str, int]:
    return draw(st.sampled_from(TRACKING)), draw(st.sampled_from(CHARGES)), draw(AMOUNTS)


@st.composite
def bills(draw: st.DrawFn) -> list[dict]:
    """Bills of a few tracking numbers and charge types, with repeated amounts so that
    charges, duplicates, credits of them and unmatched credits all occur."""
    rows: list[dict] = []
    for bill in range(draw(st.integers(1, 4))):
        day = draw(st.sampled_from(DAYS))
        for n in range(1, draw(st.integers(1, 7)) + 1):
            tracking, charge, cents = draw(charge_keys())
            if rows and draw(st.booleans()):  # reverse a line already drawn
                earlier = draw(st.sampled_from(rows))
                tracking, charge = earlier["tracking_number"], earlier["charge_type"]
                cents = -int(earlier["amount"] * 100)
            rows.append(_line(f"B{bill}", n, tracking, charge, cents, day))
    return rows


def _line(bill: str, n: int, tracking: str, charge: str, cents: int, day: date) -> dict:
    weight = "1.5" if charge == "FREIGHT" else None
    return b.line(bill, n, tracking, charge, str(Decimal(cents) / 100), weight, bill_date=day)


def _findings(rows: list[dict]) -> pl.DataFrame:
    """The findings of every line: January's and February's periods together."""
    return pl.concat([run(*rows, period=JAN).findings, run(*rows, period=FEB).findings])


@settings(max_examples=40, deadline=None)
@given(bills())
def test_netting_keeps_what_the_carrier_billed_and_each_credit_nets_out(rows) -> None:
    findings = _findings(rows)
    net = b.bill_lines(*rows).group_by("tracking_number").agg(net=pl.col("amount").sum())
    judged = findings.group_by("tracking_number").agg(
        billed=pl.col("billed_amount").sum(),
        settled=(pl.col("approved_amount") + pl.col("disputed_amount")).sum(),
    )
    both = net.join(judged, on="tracking_number")
    assert both.height == net.height == judged.height
    assert (both["net"] == both["billed"]).all() and (both["net"] == both["settled"]).all()

    # every CREDIT names the charge it reverses; with it, it sums to zero in every figure
    sums = ["billed_amount", "expected_amount", "approved_amount", "disputed_amount"]
    credits = findings.filter(pl.col("finding") == "CREDIT")
    reversed_key = pl.col("evidence").str.extract(r"^credit of bill (\S+) line (\d+) ", 1)
    reversed_line = pl.col("evidence").str.extract(r"^credit of bill \S+ line (\d+) ", 1)
    pairs = credits.with_columns(rev_bill=reversed_key, rev_line=reversed_line.cast(pl.Int64)).join(
        findings.select(
            "tracking_number",
            "charge_type",
            rev_bill="bill_number",
            rev_line="line_number",
            rev_finding="finding",
            **{f"rev_{c}": c for c in sums},
        ),
        on=["tracking_number", "charge_type", "rev_bill", "rev_line"],
        how="left",
    )
    assert pairs.height == credits.height
    assert pairs["rev_finding"].is_not_null().all()
    assert not pairs["rev_finding"].is_in(["CREDIT", "UNMATCHED_CREDIT"]).any()
    for c in sums:
        assert (pairs[c] + pairs[f"rev_{c}"] == 0).all(), c
    # a negative line is a credit of either kind, never a duplicate or a dispute of its own
    negative = findings.filter(pl.col("billed_amount") < 0)
    assert negative["finding"].is_in(["CREDIT", "UNMATCHED_CREDIT"]).all()


@settings(max_examples=40, deadline=None)
@given(bills(), charge_keys(), st.sampled_from(DAYS))
def test_a_line_and_its_exact_reversal_change_no_other_finding(rows, key, day) -> None:
    tracking, charge, cents = key
    cents = abs(cents) or 150
    pair = [
        _line("PAIR", 1, tracking, charge, cents, day),
        _line("PAIR", 2, tracking, charge, -cents, day),
    ]
    before = _findings(rows)
    after = _findings([*rows, *pair])
    others = after.filter(pl.col("bill_number") != "PAIR")
    key_cols = ["bill_number", "line_number"]
    assert others.sort(key_cols).equals(before.sort(key_cols))
    added = after.filter(pl.col("bill_number") == "PAIR").sort("line_number")
    assert added["finding"][1] == "CREDIT"
    assert added["billed_amount"].sum() == added["approved_amount"].sum() == 0
