"""What leaves the reconciliation per carrier period (DOMAIN.md, "Outputs"): the
period summary, payable vouchers per bill for the ERP and the dispute list."""

from __future__ import annotations

import polars as pl

from pipelines.contracts.bills import BILL_HEADERS
from pipelines.contracts.reconciliation import (
    DISPUTES,
    FINDING_CODES,
    PAYABLE_VOUCHERS,
    PERIOD_SUMMARY,
)
from pipelines.contracts.types import MONEY, PERCENT
from pipelines.money import div_half_up
from pipelines.reconciliation.periods import BillingPeriod


def _share(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """part/whole in % to 4 places, half-up (integers only); 100 when whole is 0.

    In Int64: the counts come as UInt32, and 2 × part × 10^6 overflows 32 bits from
    2,148 lines on (a 6M-line period read 0.0110% for 83.3333%)."""
    part, whole = part.cast(pl.Int64), whole.cast(pl.Int64)
    units = div_half_up(part * 1_000_000, whole)
    return (
        pl.when(whole == 0)
        .then(pl.lit(100).cast(pl.Decimal(38, 4)))
        .otherwise(units.cast(pl.Decimal(38, 4)) / 10_000)
        .cast(PERCENT)
    )


BILL_KEY = list(BILL_HEADERS.key)
VOUCHER_GROUP = [
    "carrier",
    "period_start",
    "period_end",
    "source_sha256",
    "bill_number",
    "bill_date",
    "currency",
]
_SUMS = ("billed", "expected", "approved", "disputed")


def bill_totals(findings: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Per bill (and bill date and currency): line count, the four sums and a count per
    finding. Everything the vouchers and the period summary need, so they can be built
    from bucket partials (`combine_bill_totals`) without holding every finding at once.
    Sums of decimals are exact, so summing partials gives the same totals."""
    counts = [(pl.col("finding") == c).sum().alias(f"count_{c.lower()}") for c in FINDING_CODES]
    return (
        findings.lazy()
        .group_by(VOUCHER_GROUP)
        .agg(
            *counts,
            line_count=pl.len(),
            **{f"{s}_total": pl.col(f"{s}_amount").sum() for s in _SUMS},
        )
        .collect()
    )


def combine_bill_totals(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Bill totals of several buckets (a bill's lines fall in many buckets) summed per bill."""
    if len(parts) == 1:
        return parts[0]
    whole = pl.concat(parts, how="vertical")
    return whole.group_by(VOUCHER_GROUP).agg(pl.exclude(VOUCHER_GROUP).sum())


def vouchers_from_totals(totals: pl.DataFrame, headers: pl.DataFrame) -> pl.DataFrame:
    """One payable voucher per bill, from the per-bill totals."""
    stated = headers.select(*BILL_KEY, "stated_total")
    return (
        totals.join(stated, on=BILL_KEY, how="left")
        .with_columns(voucher_id=pl.format("{}-{}", pl.col("carrier"), pl.col("bill_number")))
        .select(PAYABLE_VOUCHERS.column_names)
        .cast(PAYABLE_VOUCHERS.schema)
        .sort("bill_date", "bill_number", "source_sha256")
    )


def dispute_rows(findings: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """The disputed lines of `findings`, unsorted, with `source_sha256` kept for the order
    (`dispute_list` / `sort_disputes`); a bucket's share of the dispute list."""
    return (
        findings.lazy()
        .filter(pl.col("disputed_amount") != 0)
        .with_columns(reason=pl.col("finding"))
        .select(*DISPUTES.column_names, "source_sha256")
        .collect()
    )


def sort_disputes(rows: list[pl.DataFrame]) -> pl.DataFrame:
    """Dispute rows of every bucket as the dispute list: by bill and line (the file hash
    breaks the tie of a bill re-sent in another file, so the order is total)."""
    whole = pl.concat(rows, how="vertical") if len(rows) != 1 else rows[0]
    return (
        whole.sort("bill_number", "line_number", "source_sha256")
        .drop("source_sha256")
        .cast(DISPUTES.schema)
    )


def summary_from_totals(
    totals: pl.DataFrame,
    headers: pl.DataFrame,
    journal: pl.DataFrame,
    period: BillingPeriod,
    currency: str,
    quarantined_count: int,
) -> pl.DataFrame:
    """One row per bill currency (the carrier's currency when nothing was billed), from
    the per-bill totals: a few rows per bill instead of a pass over every line."""
    per_ccy = _billed_per_currency(totals, currency)
    accrued = _accrued_per_currency(journal, currency)
    return (
        per_ccy.join(accrued, on="currency", how="full", coalesce=True)
        .with_columns(
            pl.col(
                "^count_.*$", "bill_count", "line_count", "unbilled_count", "unrated_unbilled_count"
            ).fill_null(0),
            pl.col(
                "billed_total",
                "expected_total",
                "approved_total",
                "disputed_total",
                "accrued_total",
                "released_total",
            )
            .fill_null(0)
            .cast(MONEY),
            carrier=pl.lit(period.carrier),
            period_start=pl.lit(period.start),
            period_end=pl.lit(period.end),
            quarantined_count=pl.lit(quarantined_count),
            bills_total_mismatch=pl.lit(_mismatched_bills(totals, headers)),
        )
        .with_columns(
            auto_approved_share=_share(pl.col("count_ok"), pl.col("line_count")),
            parse_coverage=_share(
                pl.col("line_count"), pl.col("line_count") + pl.col("quarantined_count")
            ),
        )
        .select(PERIOD_SUMMARY.column_names)
        .cast(PERIOD_SUMMARY.schema)
        .sort("currency")
    )


def _mismatched_bills(totals: pl.DataFrame, headers: pl.DataFrame) -> int:
    """How many bills state a total their lines do not sum to."""
    line_sums = totals.group_by(BILL_KEY).agg(lines_total=pl.col("billed_total").sum())
    mismatched = headers.join(line_sums, on=BILL_KEY, how="inner").filter(
        pl.col("stated_total").is_not_null() & (pl.col("stated_total") != pl.col("lines_total"))
    )
    return mismatched.height


def _billed_per_currency(totals: pl.DataFrame, currency: str) -> pl.DataFrame:
    """Bill, line and finding counts and money totals per bill currency; one row of zeros
    in the carrier's `currency` when nothing was billed."""
    per_ccy = totals.group_by("currency").agg(
        pl.col("^count_.*$").sum(),
        bill_count=pl.struct(BILL_KEY).n_unique(),
        line_count=pl.col("line_count").sum(),
        **{f"{s}_total": pl.col(f"{s}_total").sum() for s in _SUMS},
    )
    if per_ccy.is_empty():
        zero = {
            c: 0
            for c in ("bill_count", "line_count", *(f"count_{x.lower()}" for x in FINDING_CODES))
        }
        money = dict.fromkeys(
            ("billed_total", "expected_total", "approved_total", "disputed_total"), 0
        )
        per_ccy = pl.DataFrame([{"currency": currency, **zero, **money}]).with_columns(
            pl.col(list(money)).cast(MONEY)
        )
    return per_ccy


def _accrued_per_currency(journal: pl.DataFrame, currency: str) -> pl.DataFrame:
    """Unbilled shipments accrued and released per currency (unpriced ones in `currency`)."""
    return journal.group_by(pl.col("currency").fill_null(currency)).agg(
        unbilled_count=(pl.col("entry") == "ACCRUE").sum(),
        unrated_unbilled_count=(
            (pl.col("entry") == "ACCRUE") & pl.col("unrated_reason").is_not_null()
        ).sum(),
        accrued_total=pl.col("amount").filter(pl.col("entry") == "ACCRUE").sum(),
        released_total=-pl.col("amount").filter(pl.col("entry") == "RELEASE").sum(),
    )
