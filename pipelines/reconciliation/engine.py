"""Reconcile one carrier billing period: findings, totals, vouchers, disputes, accruals.

Issue 5 items 3-4. Pure: the same inputs give the same frames, row order
included (every output is sorted on its key), so a rerun after a late bill or
a corrected rate card replaces one partition's outputs deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.contracts.bills import BILL_HEADERS
from pipelines.contracts.reconciliation import FINDINGS
from pipelines.rating.cards import RateCard
from pipelines.rating.engine import RatingResult, as_tables
from pipelines.rating.tables import RateCardTables
from pipelines.reconciliation.accruals import accrual_entries
from pipelines.reconciliation.bills import BillInputError, period_lines
from pipelines.reconciliation.config import CarriersFile, tolerance_table, weight_tolerance_table
from pipelines.reconciliation.findings import judge_lines
from pipelines.reconciliation.line_order import LINE_KEY, in_line_order, merge_in_line_order
from pipelines.reconciliation.matching import mark_billing_roles, match_shipments, only_carrier
from pipelines.reconciliation.outputs import (
    bill_totals,
    combine_bill_totals,
    dispute_rows,
    sort_disputes,
    summary_from_totals,
    vouchers_from_totals,
)
from pipelines.reconciliation.periods import BillingPeriod
from pipelines.reconciliation.result import ReconciliationResult
from pipelines.reconciliation.sink import FindingsSink
from pipelines.tracking import with_normalised_tracking


@dataclass(frozen=True)
class PeriodInputs:
    """What one carrier period is reconciled from.

    `bill_lines`/`bill_headers`: canonical BILL_LINES/BILL_HEADERS of the carrier, at
    least every bill of this and earlier periods (later bills are ignored; earlier ones
    supply the charges duplicates repeat and credits reverse, and "already billed" for
    accruals).
    `rating`: `rate_shipments` over every shipment a line may refer to and all shipments
    up to the period end. `other_shipments`: tracking_number (normalised), carrier and
    shipment_id of every carrier's shipments, searched for a line's tracking number we
    did not ship with this carrier (the evidence of an UNKNOWN_SHIPMENT); default
    `rating`'s shipments, so a caller that rates one carrier at a time passes the others.
    `quarantined_count`: bill items of the period the parsers quarantined (for parse
    coverage).
    """

    bill_lines: pl.DataFrame
    bill_headers: pl.DataFrame
    rating: RatingResult
    period: BillingPeriod
    other_shipments: pl.DataFrame | None = None
    quarantined_count: int = 0


@dataclass(frozen=True)
class CarrierSettings:
    """The contracts lines are judged against: rate cards and the carriers file."""

    cards: RateCardTables | list[RateCard]
    carriers: CarriersFile


@dataclass(frozen=True)
class _Judging:
    """What every bucket is judged with."""

    tables: RateCardTables
    carriers: CarriersFile
    period: BillingPeriod
    others: pl.DataFrame


@dataclass
class _Judged:
    """Per-bucket partials of a period, and what the accruals need afterwards."""

    own: pl.DataFrame
    history: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]
    """Tracking numbers billed before the period, billed by its end; its bills' keys."""
    totals: list[pl.DataFrame] = field(default_factory=list)
    disputed: list[pl.DataFrame] = field(default_factory=list)
    held: list[pl.DataFrame] = field(default_factory=list)
    parts: list[Path] = field(default_factory=list)
    line_buckets: pl.Series | None = None
    """Each judged line's bucket, lines in line order (to merge `held` without a sort)."""


_Frames = tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]
"""A period's bill lines, its carrier's shipment ratings and expected charges."""


def _bucket_of_frames(frames: _Frames, bucket_of: list[pl.Series], bucket: int) -> _Frames:
    """The rows of each frame in `bucket` (`bucket_of`: each frame's bucket per row)."""
    lines, own, expected = (f.filter(b == bucket) for b, f in zip(bucket_of, frames, strict=True))
    return lines, own, expected


def _judge_bucket(
    lines: pl.DataFrame, own: pl.DataFrame, expected: pl.DataFrame, judging: _Judging
) -> pl.DataFrame:
    """Findings for the period's lines among `lines` (one bucket of tracking numbers,
    with every earlier billing of them)."""
    period = judging.period
    marked = mark_billing_roles(lines if in_line_order(lines) else lines.sort(LINE_KEY))
    in_period = pl.col("period_start") == period.start
    if not marked.select(in_period.all()).item():  # earlier bills: only the period's lines
        marked = _unmirrored_as_unmatched(
            marked.filter(in_period | _credited_earlier(marked, in_period)), in_period
        )
    current = marked.with_columns(period_end=pl.lit(period.end))
    matched = match_shipments(current, own, period.carrier, judging.others)
    _refuse_other_currencies(matched, period.carrier)
    carriers = judging.carriers
    findings = judge_lines(
        matched,
        expected,
        judging.tables,
        tolerance_table(carriers),
        weight_tolerance_table(carriers),
    )
    if findings.height != current.height:
        raise AssertionError("findings lost or duplicated lines")
    if findings.height != current.select(in_period.sum()).item():
        findings = findings.filter(in_period)  # the earlier lines credits mirror
    return findings.cast(FINDINGS.schema)


def _credited_earlier(marked: pl.DataFrame, in_period: pl.Expr) -> pl.Expr:
    """Lines of earlier periods a CREDIT of this period mirrors: each charge it reverses,
    with the lines of the same bill and tracking number (a fuel charge is judged on its
    bill's freight). Judged again with the period's lines, they give what their own
    period gave (a line's role depends only on the lines billed before it), and are
    dropped once the credits have taken their approved and expected amounts."""
    reversed_bills = (
        marked.filter(in_period & (pl.col("billing_role") == "CREDIT"))
        .select(
            "tracking_number",
            source_sha256="reversed_source_sha256",
            bill_number="reversed_bill_number",
        )
        .unique()
    )
    if reversed_bills.is_empty():
        return pl.lit(False)
    keys = ["tracking_number", "source_sha256", "bill_number"]
    earlier = marked.select(*keys, "period_start").with_row_index("line_row").filter(~in_period)
    rows = earlier.join(reversed_bills, on=keys, how="semi")["line_row"].cast(pl.Int64)
    return pl.int_range(pl.len(), dtype=pl.Int64).is_in(rows.implode())


def _unmirrored_as_unmatched(marked: pl.DataFrame, in_period: pl.Expr) -> pl.DataFrame:
    """An earlier period's credit, judged again only because it shares a bill with a charge
    this period's credit reverses, may reverse a charge left out of the frame: it is judged
    as UNMATCHED_CREDIT here (its own finding stays its period's; it is dropped after
    judging). A credit of this period always finds its reversed charge in the frame."""
    keys = ["tracking_number", "source_sha256", "bill_number", "line_number"]
    present = marked.select(keys)
    reversed_key = [f"reversed_{k}" if k != "tracking_number" else k for k in keys]
    earlier_credits = marked.with_row_index("_row").filter(
        ~in_period & (pl.col("billing_role") == "CREDIT")
    )
    if earlier_credits.is_empty():
        return marked
    orphans = earlier_credits.join(present, left_on=reversed_key, right_on=keys, how="anti")["_row"]
    if orphans.is_empty():
        return marked
    orphan = pl.int_range(pl.len(), dtype=pl.UInt32).is_in(orphans.implode())
    role = marked.schema["billing_role"]
    return marked.with_columns(
        billing_role=pl.when(orphan)
        .then(pl.lit("UNMATCHED_CREDIT", dtype=role))
        .otherwise(pl.col("billing_role"))
    )


def _refuse_other_currencies(matched: pl.DataFrame, carrier: str) -> None:
    """A bill line must be in its contract's currency: amounts in two currencies are
    never compared or added (docs/reconciliation.md, "Currency")."""
    wrong_currency = matched.filter(
        pl.col("contract_currency").is_not_null()
        & (pl.col("currency") != pl.col("contract_currency"))
    )
    if wrong_currency.height:
        bill, billed_in, contracted_in = wrong_currency.select(
            "bill_number", "currency", "contract_currency"
        ).row(0)
        raise BillInputError(
            f"{wrong_currency.height} {carrier} lines are billed in a currency other than "
            f"the contract's, e.g. bill {bill} in {billed_in}, contract in {contracted_in}"
        )


def _billing_history(
    lines: pl.DataFrame, period: BillingPeriod
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Tracking numbers billed before the period and by its end, and the period's bills."""
    tracking = pl.col("tracking_number")
    keys = lines.select("period_start", "source_sha256", "bill_number", tracking)  # no copy
    billed_before = keys.filter(pl.col("period_start") < period.start).select(tracking).unique()
    billed_by_end = keys.select(tracking).unique()
    bill_keys = (
        keys.filter(pl.col("period_start") == period.start)
        .select("source_sha256", "bill_number")
        .unique()
    )
    return billed_before, billed_by_end, bill_keys


def _keep(judged: _Judged, findings: pl.DataFrame, bucket: int, sink: FindingsSink | None) -> None:
    """Fold one bucket's findings into the partials; hold them or hand them to the sink."""
    judged.totals.append(bill_totals(findings))
    judged.disputed.append(dispute_rows(findings))
    if sink is None:
        judged.held.append(findings)
    else:
        judged.parts.append(sink.write(findings, bucket))


def _judge_period(
    inputs: PeriodInputs, judging: _Judging, sink: FindingsSink | None, bucket_lines: int
) -> _Judged:
    """Judge the period's lines bucket by bucket (the frames of one bucket at a time)."""
    period = inputs.period
    lines = with_normalised_tracking(
        period_lines(inputs.bill_lines, inputs.bill_headers, judging.carriers, period)
    )
    own = only_carrier(inputs.rating.shipment_ratings, period.carrier)
    expected = only_carrier(inputs.rating.expected_charges, period.carrier)
    judged = _Judged(own, _billing_history(lines, period))
    buckets = max(1, -(-lines.height // bucket_lines))
    frames: _Frames = (lines, own, expected)
    if buckets == 1:
        _keep(judged, _judge_bucket(*frames, judging), 0, sink)
        return judged
    # each frame's bucket per row, hashed once (not once per bucket)
    bucket_of = [
        f.select(pl.col("tracking_number").hash(seed=7) % buckets).to_series() for f in frames
    ]
    for bucket in range(buckets):
        # no name holds a bucket's frames or findings: each is freed before the next bucket
        _keep(
            judged,
            _judge_bucket(*_bucket_of_frames(frames, bucket_of, bucket), judging),
            bucket,
            sink,
        )
    if sink is None and in_line_order(lines):
        judged.line_buckets = bucket_of[0].filter(lines["period_start"] == period.start)
    return judged


def reconcile(
    inputs: PeriodInputs,
    settings: CarrierSettings,
    sink: FindingsSink | None = None,
    *,
    bucket_lines: int = 500_000,
) -> ReconciliationResult:
    """Reconcile the bills of `inputs.period` (one carrier) against our shipments and contracts.

    `bucket_lines`: above this many lines, lines and shipments are split into buckets by
    a hash of the tracking number and judged bucket by bucket (duplicates and matching
    never cross a tracking number), which bounds memory without changing a single finding.

    `sink` (e.g. storage.parts.ParquetFindingsSink, one per period): each bucket's
    findings are handed to it and dropped, so the findings are never all in memory; the
    previous run's parts are cleared first, and a failed run clears its own. The summary,
    vouchers and disputes are built from per-bucket partials, and the result exposes the
    parts (`scan_findings()`, `finding_parts`). Without a sink the findings are held and
    returned in line order.
    """
    others = inputs.other_shipments
    judging = _Judging(
        as_tables(settings.cards),
        settings.carriers,
        inputs.period,
        inputs.rating.shipment_ratings if others is None else others,
    )
    judged = _judge_into_sink(inputs, judging, sink, bucket_lines)
    return _period_outputs(inputs, settings.carriers, judged, sink)


def _judge_into_sink(
    inputs: PeriodInputs, judging: _Judging, sink: FindingsSink | None, bucket_lines: int
) -> _Judged:
    """`_judge_period` with the sink cleared first, and again if judging fails, so the
    sink holds one complete run's parts or none (a rerun replaces, never adds)."""
    if sink is not None:
        sink.clear()
    try:
        return _judge_period(inputs, judging, sink, bucket_lines)
    except BaseException:
        if sink is not None:
            sink.clear()
        raise


def _period_outputs(
    inputs: PeriodInputs, carriers: CarriersFile, judged: _Judged, sink: FindingsSink | None
) -> ReconciliationResult:
    """The period's outputs from the per-bucket partials: the summary and vouchers from the
    per-bill totals, the dispute list from the disputed lines, the accruals from the
    billing history; the findings themselves only when held in memory (no sink)."""
    period = inputs.period
    findings = None
    if sink is None:
        held = judged.held
        findings = held[0] if len(held) == 1 else merge_in_line_order(held, judged.line_buckets)
    billed_before, billed_by_end, bill_keys = judged.history
    journal, roll = accrual_entries(judged.own, billed_before, billed_by_end, period)
    headers = inputs.bill_headers.join(bill_keys, on=list(BILL_HEADERS.key))
    per_bill = combine_bill_totals(judged.totals)
    summary = summary_from_totals(
        per_bill,
        headers,
        journal,
        period,
        carriers.get(period.carrier).currency,
        inputs.quarantined_count,
    )
    return ReconciliationResult(
        period_summary=summary,
        payable_vouchers=vouchers_from_totals(per_bill, headers),
        disputes=sort_disputes(judged.disputed),
        accruals=journal,
        accrual_rollforward=roll,
        finding_parts=tuple(judged.parts),
        findings_in_memory=findings,
        sink=sink,
    )


__all__ = [
    "BillInputError",
    "CarrierSettings",
    "PeriodInputs",
    "ReconciliationResult",
    "reconcile",
]
