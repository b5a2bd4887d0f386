"""The carrier's bill lines that one billing period reconciles, each with its period.

A bill belongs to the period its header places it in (pipelines.reconciliation.periods);
lines of later periods are ignored, and a line without a header is refused rather than
guessed, so every line of the period's bills is judged exactly once
(pipelines.reconciliation.invariants.lines_without_one_finding).
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts.bills import BILL_HEADERS
from pipelines.reconciliation.config import CarriersFile
from pipelines.reconciliation.matching import only_carrier
from pipelines.reconciliation.periods import BillingPeriod, bill_periods


class BillInputError(ValueError):
    """Bill lines that cannot be reconciled as given (no header, wrong currency)."""


def period_lines(
    bill_lines: pl.DataFrame, headers: pl.DataFrame, carriers: CarriersFile, period: BillingPeriod
) -> pl.DataFrame:
    """The carrier's lines of bills belonging to this or an earlier period, with period_start."""
    cfg = carriers.get(period.carrier)
    keys = list(BILL_HEADERS.key)
    periods = bill_periods(headers, cfg).unique(keys)
    lines = only_carrier(bill_lines, period.carrier)
    pairs = lines.select(keys).unique().join(periods, on=keys, how="left")
    orphans = pairs.filter(pl.col("period_start").is_null())
    if orphans.height:
        count = lines.join(orphans.select(keys), on=keys, how="semi").height
        bills = orphans.sort("bill_number").head(5)
        raise BillInputError(
            f"{count} {period.carrier} bill lines have no bill header, e.g. "
            + ", ".join(f"bill {b} (file {s[:12]})" for s, b, _ in bills.iter_rows())
        )
    if lines.is_empty():
        # A carrier with no bills yet. (replace_strict with an empty mapping would keep the
        # String type whatever return_dtype says, and the comparison below would fail.)
        return lines.with_columns(period_start=pl.lit(None, dtype=pl.Date))
    by_bill = pairs.group_by("bill_number").agg(pl.col("period_start").unique())
    if (by_bill["period_start"].list.len() == 1).all():
        # each bill number has one period: map it, no join (and no copy) over every line
        mapping = dict(
            zip(by_bill["bill_number"], by_bill["period_start"].list.first(), strict=True)
        )
        start = pl.col("bill_number").replace_strict(mapping, return_dtype=pl.Date)
        lines = lines.with_columns(period_start=start)
    else:
        joined = lines.select(keys).join(periods, on=keys, how="left", maintain_order="left")
        lines = lines.with_columns(joined["period_start"])
    known = pl.col("period_start") <= period.start
    return lines if lines.select(known.all()).item() else lines.filter(known)
