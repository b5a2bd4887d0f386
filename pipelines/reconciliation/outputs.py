"""What leaves the reconciliation per carrier period (DOMAIN.md, "Outputs"): the
period summary, payable vouchers per bill for the ERP and the dispute list."""

from __future__ import annotations

import polars as pl

from pipelines.contracts.reconciliation import (
    DISPUTES,
    FINDING_CODES,
    PAYABLE_VOUCHERS,
    PERIOD_SUMMARY,
)
from pipelines.contracts.types import MONEY, PERCENT
from pipelines.reconciliation.periods import BillingPeriod


def _share(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """part/whole in % to 4 places, half-up (integers only); 100 when whole is 0."""
    units = (2 * part * 1_000_000 + whole) // (2 * whole)
    return (
        pl.when(whole == 0)
        .then(pl.lit(100).cast(pl.Decimal(38, 4)))
        .otherwise(units.cast(pl.Decimal(38, 4)) / 10_000)
        .cast(PERCENT)
    )


def payable_vouchers(findings: pl.DataFrame, headers: pl.DataFrame) -> pl.DataFrame:
    stated = headers.select("source_sha256", "bill_number", "stated_total")
    return (
        findings.group_by(
            "carrier",
            "period_start",
            "period_end",
            "source_sha256",
            "bill_number",
            "bill_date",
            "currency",
        )
        .agg(
            line_count=pl.len(),
            billed_total=pl.col("billed_amount").sum(),
            approved_total=pl.col("approved_amount").sum(),
            disputed_total=pl.col("disputed_amount").sum(),
        )
        .join(stated, on=["source_sha256", "bill_number"], how="left")
        .with_columns(voucher_id=pl.format("{}-{}", pl.col("carrier"), pl.col("bill_number")))
        .select(PAYABLE_VOUCHERS.column_names)
        .cast(PAYABLE_VOUCHERS.schema)  # type: ignore[arg-type]
        .sort("bill_date", "bill_number", "source_sha256")
    )


def dispute_list(findings: pl.DataFrame) -> pl.DataFrame:
    """Lines with a disputed amount, the evidence in words (CSV/Excel for the carrier)."""
    return (
        findings.filter(pl.col("disputed_amount") != 0)
        .with_columns(reason=pl.col("finding"))
        .select(DISPUTES.column_names)
        .cast(DISPUTES.schema)  # type: ignore[arg-type]
        .sort("bill_number", "line_number")
    )


def period_summary(
    findings: pl.DataFrame,
    headers: pl.DataFrame,
    journal: pl.DataFrame,
    period: BillingPeriod,
    currency: str,
    quarantined_count: int,
) -> pl.DataFrame:
    """One row per bill currency (the carrier's currency when nothing was billed)."""
    line_sums = findings.group_by("source_sha256", "bill_number").agg(
        lines_total=pl.col("billed_amount").sum()
    )
    mismatched = headers.join(line_sums, on=["source_sha256", "bill_number"], how="inner").filter(
        pl.col("stated_total").is_not_null() & (pl.col("stated_total") != pl.col("lines_total"))
    )
    counts = [(pl.col("finding") == c).sum().alias(f"count_{c.lower()}") for c in FINDING_CODES]
    per_ccy = findings.group_by("currency").agg(
        *counts,
        bill_count=pl.struct("source_sha256", "bill_number").n_unique(),
        line_count=pl.len(),
        billed_total=pl.col("billed_amount").sum(),
        expected_total=pl.col("expected_amount").sum(),
        approved_total=pl.col("approved_amount").sum(),
        disputed_total=pl.col("disputed_amount").sum(),
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
    accrued = journal.group_by(pl.col("currency").fill_null(currency)).agg(
        unbilled_count=(pl.col("entry") == "ACCRUE").sum(),
        unrated_unbilled_count=(
            (pl.col("entry") == "ACCRUE") & pl.col("unrated_reason").is_not_null()
        ).sum(),
        accrued_total=pl.col("amount").filter(pl.col("entry") == "ACCRUE").sum(),
        released_total=-pl.col("amount").filter(pl.col("entry") == "RELEASE").sum(),
    )
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
            bills_total_mismatch=pl.lit(mismatched.height),
        )
        .with_columns(
            auto_approved_share=_share(pl.col("count_ok"), pl.col("line_count")),
            parse_coverage=_share(
                pl.col("line_count"), pl.col("line_count") + pl.col("quarantined_count")
            ),
        )
        .select(PERIOD_SUMMARY.column_names)
        .cast(PERIOD_SUMMARY.schema)  # type: ignore[arg-type]
        .sort("currency")
    )
