"""Reconcile one carrier billing period: findings, totals, vouchers, disputes, accruals.

Issue 5 items 3-4. Pure: the same inputs give the same frames, row order
included (every output is sorted on its key), so a rerun after a late bill or
a corrected rate card replaces one partition's outputs deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.contracts.bills import BILL_HEADERS, BILL_LINES
from pipelines.contracts.reconciliation import FINDINGS
from pipelines.rating.cards import RateCard
from pipelines.rating.engine import RatingResult, as_tables
from pipelines.rating.tables import RateCardTables
from pipelines.reconciliation.accruals import accrual_entries
from pipelines.reconciliation.config import CarriersFile, tolerance_table, weight_tolerance_table
from pipelines.reconciliation.findings import judge_lines
from pipelines.reconciliation.matching import mark_first_occurrences, match_shipments, only_carrier
from pipelines.reconciliation.outputs import (
    bill_totals,
    combine_bill_totals,
    dispute_rows,
    sort_disputes,
    summary_from_totals,
    vouchers_from_totals,
)
from pipelines.reconciliation.periods import BillingPeriod, bill_periods
from pipelines.tracking import with_normalised_tracking
from storage.parts import clear_parts, scan_parts, write_part


class BillInputError(ValueError):
    """Bill lines that cannot be reconciled as given (no header, wrong currency)."""


@dataclass(frozen=True)
class ReconciliationResult:
    """What `reconcile` returns. The findings are either held in memory (no sink) or
    in Parquet parts (`finding_parts`, one per bucket): read them lazily with
    `scan_findings()`, or collect them in line order with `findings`."""

    period_summary: pl.DataFrame
    payable_vouchers: pl.DataFrame
    disputes: pl.DataFrame
    accruals: pl.DataFrame
    """The accrual journal: ACCRUE and RELEASE entries of the period."""
    accrual_rollforward: pl.DataFrame
    finding_parts: tuple[Path, ...] = ()
    """With a sink: the Parquet parts holding the findings, bucket by bucket (each in
    line order; buckets are by tracking number, so the parts together are not)."""
    findings_in_memory: pl.DataFrame | None = None
    """Without a sink: the findings, in line order."""

    @property
    def findings(self) -> pl.DataFrame:
        """Every finding, in line order (FINDINGS schema). With a sink this reads and
        sorts all the parts: for small periods and tests; use `scan_findings()` for
        large ones. Not cached, so it holds no memory after use."""
        if self.findings_in_memory is not None:
            return self.findings_in_memory
        whole = scan_parts(self.finding_parts).collect()
        return _merge_in_line_order([whole]) if not _in_line_order(whole) else whole

    def scan_findings(self) -> pl.LazyFrame:
        """The findings as a LazyFrame: the parts (bucket order) or the in-memory frame
        (line order). Aggregate or filter it without loading every finding."""
        if self.findings_in_memory is not None:
            return self.findings_in_memory.lazy()
        return scan_parts(self.finding_parts)

    @property
    def line_count(self) -> int:
        """Lines judged (= findings) in the period."""
        return int(self.period_summary["line_count"].sum())

    @property
    def unbilled(self) -> pl.DataFrame:
        """Shipments of the period never billed (finding UNBILLED), accrued."""
        return self.accruals.filter(pl.col("entry") == "ACCRUE")

    @property
    def accrual_releases(self) -> pl.DataFrame:
        return self.accruals.filter(pl.col("entry") == "RELEASE")


def _period_lines(
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


def _in_line_order(frame: pl.DataFrame) -> bool:
    """True if `frame` is already sorted on the bill line key (bills are read in line order), so
    the sort, which copies every column, can be skipped. Null keys: False (sort)."""
    if frame.height < 2:
        return True
    cols = [pl.col(k) for k in BILL_LINES.key]
    ordered = cols[-1] >= cols[-1].shift(1)
    for col in reversed(cols[:-1]):
        ordered = (col > col.shift(1)) | ((col == col.shift(1)) & ordered)
    return bool(frame.select(ordered.slice(1).all(ignore_nulls=False)).item())


def _merge_in_line_order(
    parts: list[pl.DataFrame], bucket_of_line: pl.Series | None = None
) -> pl.DataFrame:
    """Concatenate per-bucket findings (each already in line order) in line order.

    Sorting the whole frame would hold it twice; instead the order is computed on
    the key columns only and the columns are gathered one at a time. With
    `bucket_of_line` (each judged line's bucket, the lines being in line order) the
    order is an integer permutation: no sort on the string keys at all."""
    whole = pl.concat(parts, rechunk=False)
    parts.clear()
    if bucket_of_line is not None and bucket_of_line.len() == whole.height:
        # concatenated row k is line perm[k]; line i is concatenated row inverse[i]
        perm = (bucket_of_line.to_frame("_b").with_row_index("_i").sort("_b", maintain_order=True))[
            "_i"
        ]
        order = perm.arg_sort()
    else:
        order = whole.select(BILL_LINES.key).with_row_index("_i").sort(BILL_LINES.key)["_i"]
    columns = []
    for name in whole.columns:
        columns.append(whole[name].gather(order))
        whole = whole.drop(name)
    return pl.DataFrame(columns)


def _judge_bucket(
    lines: pl.DataFrame,
    own: pl.DataFrame,
    expected: pl.DataFrame,
    all_ratings: pl.DataFrame,
    tables: RateCardTables,
    carriers: CarriersFile,
    period: BillingPeriod,
) -> pl.DataFrame:
    """Findings for the period's lines among `lines` (one bucket of tracking numbers,
    with every earlier occurrence of them)."""
    marked = mark_first_occurrences(lines if _in_line_order(lines) else lines.sort(BILL_LINES.key))
    in_period = pl.col("period_start") == period.start
    if not marked.select(in_period.all()).item():  # earlier bills: only the period's lines
        marked = marked.filter(in_period)
    current = marked.with_columns(period_end=pl.lit(period.end))
    del marked
    matched = match_shipments(current, own, period.carrier, all_ratings)
    wrong_ccy = matched.filter(
        pl.col("contract_currency").is_not_null()
        & (pl.col("currency") != pl.col("contract_currency"))
    )
    if wrong_ccy.height:
        b, c, k = wrong_ccy.select("bill_number", "currency", "contract_currency").row(0)
        raise BillInputError(
            f"{wrong_ccy.height} {period.carrier} lines are billed in a currency other than "
            f"the contract's, e.g. bill {b} in {c}, contract in {k}"
        )
    findings = judge_lines(
        matched, expected, tables, tolerance_table(carriers), weight_tolerance_table(carriers)
    )
    if findings.height != current.height:
        raise AssertionError("findings lost or duplicated lines")
    return findings


def reconcile(
    bill_lines: pl.DataFrame,
    bill_headers: pl.DataFrame,
    rating: RatingResult,
    cards: RateCardTables | list[RateCard],
    carriers: CarriersFile,
    period: BillingPeriod,
    prior_lines: pl.DataFrame | None = None,
    quarantined_count: int = 0,
    bucket_lines: int = 500_000,
    sink: Path | None = None,
    other_shipments: pl.DataFrame | None = None,
) -> ReconciliationResult:
    """Reconcile the bills of `period` (one carrier) against our shipments and contracts.

    `bill_lines`/`bill_headers`: canonical BILL_LINES/BILL_HEADERS of the carrier,
    at least every bill of this and earlier periods (later bills are ignored;
    earlier ones supply first occurrences for duplicates and "already billed"
    for accruals). `prior_lines`: optionally, earlier lines held separately.
    `rating`: `rate_shipments` over every shipment a line may refer to and all
    shipments up to the period end. `quarantined_count`: bill items of the
    period the parsers quarantined (for parse coverage). `bucket_lines`: above this
    many lines, lines and shipments are split into buckets by a hash of the tracking
    number and judged bucket by bucket (duplicates and matching never cross a
    tracking number), which bounds memory without changing a single finding.

    `sink`: a folder for this period's findings. Each bucket's findings are written
    there as a Parquet part (atomically; the previous run's parts are removed first,
    and a failed run removes its own) and dropped, so the findings are never all in
    memory: the summary, vouchers and disputes are built from per-bucket partials,
    and the result exposes the parts (`scan_findings()`, `finding_parts`). The caller
    owns the folder (one per period; two runs of one period must not share it at
    the same time). Without a sink the findings are held and returned in line order.

    `other_shipments`: tracking_number (normalised), carrier and shipment_id of every
    carrier's shipments, searched for a line's tracking number we did not ship with
    this carrier (the evidence of an UNKNOWN_SHIPMENT); default `rating`'s shipments,
    so a caller that rates one carrier at a time passes the others here.
    """
    tables = as_tables(cards)
    if prior_lines is not None:
        bill_lines = pl.concat([bill_lines, prior_lines], how="diagonal_relaxed").unique(
            BILL_LINES.key, keep="first", maintain_order=True
        )
    lines = with_normalised_tracking(_period_lines(bill_lines, bill_headers, carriers, period))
    tracking = pl.col("tracking_number")
    keys = lines.select("period_start", "source_sha256", "bill_number", tracking)  # no copy
    billed_before = keys.filter(pl.col("period_start") < period.start).select(tracking).unique()
    billed_by_end = keys.select(tracking).unique()
    bill_keys = (
        keys.filter(pl.col("period_start") == period.start)
        .select("source_sha256", "bill_number")
        .unique()
    )
    del keys
    own = only_carrier(rating.shipment_ratings, period.carrier)
    expected = only_carrier(rating.expected_charges, period.carrier)
    others = rating.shipment_ratings if other_shipments is None else other_shipments
    buckets = max(1, -(-lines.height // bucket_lines))
    bucket_of = {}  # each frame's bucket per row, hashed once (not once per bucket)
    if buckets > 1:
        for name, f in (("lines", lines), ("own", own), ("expected", expected)):
            bucket_of[name] = f.select(tracking.hash(seed=7) % buckets).to_series()
    if sink is not None:
        sink.mkdir(parents=True, exist_ok=True)
        clear_parts(sink)
    held: list[pl.DataFrame] = []  # findings per bucket, without a sink
    written: list[Path] = []  # parts, with a sink
    totals: list[pl.DataFrame] = []  # per-bill partial sums and counts per bucket
    disputed: list[pl.DataFrame] = []  # disputed lines per bucket
    try:
        for bucket in range(buckets):
            if buckets == 1:
                mine = [lines, own, expected]
            else:
                frames = (lines, own, expected)
                mine = [
                    f.filter(b == bucket) for b, f in zip(bucket_of.values(), frames, strict=True)
                ]
            judged = _judge_bucket(*mine, others, tables, carriers, period)
            del mine
            judged = judged.cast(FINDINGS.schema)  # type: ignore[arg-type]
            totals.append(bill_totals(judged))
            disputed.append(dispute_rows(judged))
            if sink is None:
                held.append(judged)
            else:
                written.append(write_part(judged, sink, bucket))
            del judged
    except BaseException:
        if sink is not None:
            clear_parts(sink)
        raise
    findings = None
    if sink is None:
        judged_buckets = None
        if buckets > 1 and _in_line_order(lines):
            judged_buckets = bucket_of["lines"].filter(lines["period_start"] == period.start)
        del lines, expected, bucket_of
        findings = held[0] if buckets == 1 else _merge_in_line_order(held, judged_buckets)
    else:
        del lines, expected, bucket_of
    del held
    journal, roll = accrual_entries(own, billed_before, billed_by_end, period)
    del own
    headers = bill_headers.join(bill_keys, on=["source_sha256", "bill_number"])
    per_bill = combine_bill_totals(totals)
    summary = summary_from_totals(
        per_bill,
        headers,
        journal,
        period,
        carriers.get(period.carrier).currency,
        quarantined_count,
    )
    return ReconciliationResult(
        period_summary=summary,
        payable_vouchers=vouchers_from_totals(per_bill, headers),
        disputes=sort_disputes(disputed),
        accruals=journal,
        accrual_rollforward=roll,
        finding_parts=tuple(written),
        findings_in_memory=findings,
    )


__all__ = ["BillInputError", "ReconciliationResult", "reconcile"]
