"""Invariants of a reconciliation, each returning the violating rows (empty = holds).

These back the asset checks (issue 5 item 5): every bill line has exactly one
finding; billed = approved + disputed on every line; accruals roll forward
(opening + accrued − released = closing, and each period opens where the
previous one closed).
"""

from __future__ import annotations

import polars as pl

from pipelines.reconciliation.line_order import LINE_KEY


def lines_without_one_finding(
    bill_lines: pl.DataFrame | pl.LazyFrame, findings: pl.DataFrame | pl.LazyFrame
) -> pl.DataFrame:
    """Lines of the period's bills with no finding or more than one, and findings of no line.

    `bill_lines`: the lines of the bills assigned to the period. `findings` may be lazy
    (`ReconciliationResult.scan_findings()`): only the line key is read. The bills
    (few) are numbered first and lines counted on (bill id, line number), integers,
    not on the file hash and bill number strings of every line: a 6M-line period's
    check took 1.7 GB the string way.
    """
    bill = LINE_KEY[:2]
    lines = bill_lines.lazy().select(LINE_KEY)
    found = findings.lazy().select(LINE_KEY)
    bills = (
        pl.concat([lines.select(bill), found.select(bill)])
        .unique()
        .with_row_index("_bill")
        .collect()
        .lazy()
    )

    def numbered(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.join(bills, on=bill, nulls_equal=True).select("_bill", "line_number")

    key = ["_bill", "line_number"]
    counts = numbered(found).group_by(key).agg(findings=pl.len())
    bad = (
        numbered(lines)
        .with_columns(_line=pl.lit(True))
        .join(counts, on=key, how="full", coalesce=True)
        .with_columns(pl.col("findings").fill_null(0), pl.col("_line").fill_null(False))
        .filter((pl.col("findings") != 1) | ~pl.col("_line"))
    )
    return (
        bad.join(bills, on="_bill", how="left")
        .rename({"_line": "is_bill_line"})
        .select(*LINE_KEY, "is_bill_line", "findings")
        .collect()
    )


def billed_not_split(findings: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Findings where billed ≠ approved + disputed (`findings` may be lazy)."""
    return (
        findings.lazy()
        .filter(pl.col("billed_amount") != pl.col("approved_amount") + pl.col("disputed_amount"))
        .collect()
    )


def rollforward_breaks(rollforward: pl.DataFrame) -> pl.DataFrame:
    """Rows where opening + accrued − released ≠ closing."""
    return rollforward.filter(
        pl.col("opening") + pl.col("accrued") - pl.col("released") != pl.col("closing")
    )


def rollforward_chain_breaks(previous: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Companies whose opening this period differs from the previous period's closing."""
    key = ["carrier", "company", "functional_currency"]
    return (
        previous.select(*key, previous_closing="closing")
        .join(current.select(*key, "opening"), on=key, how="full", coalesce=True)
        .with_columns(pl.col("previous_closing", "opening").fill_null(0))
        .filter(pl.col("previous_closing") != pl.col("opening"))
    )
