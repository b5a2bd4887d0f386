"""Accruals (暂估) for shipped-but-not-billed parcels, released when the bill arrives.

DOMAIN.md: "unbilled: shipped in the period, not billed: accrued at the
expected price". Computed statelessly from the bills known up to the period,
so a rerun after a late bill gives the same journal as a first run would:
- opening: shipped before the period, not billed by any bill of an earlier period;
- ACCRUE: shipped in the period, not billed by any bill of this or an earlier period;
- RELEASE: in the opening balance and billed by a bill of this period;
- closing: shipped up to the period end and not billed by then, computed
  directly, so opening + accrued − released = closing is a real check.
A shipment counts as billed when any line of the carrier carries its tracking
number. A shipment that cannot be priced is accrued at 0 with its reason.
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

from pipelines.contracts.reconciliation import ACCRUAL_JOURNAL, ACCRUAL_ROLLFORWARD
from pipelines.contracts.types import MONEY
from pipelines.reconciliation.periods import BillingPeriod


class _Parts(NamedTuple):
    """Which shipments each part of the accrual takes (the module docstring says why)."""

    in_opening: pl.Expr
    accrue: pl.Expr
    release: pl.Expr
    closing: pl.Expr


def _parts(period: BillingPeriod) -> _Parts:
    in_opening = (pl.col("ship_date") < period.start) & ~pl.col("_before")
    accrue = (pl.col("ship_date") >= period.start) & ~pl.col("_by_end")
    return _Parts(in_opening, accrue, in_opening & pl.col("_by_end"), ~pl.col("_by_end"))


def accrual_entries(
    ratings: pl.DataFrame,
    billed_before: pl.DataFrame,
    billed_by_end: pl.DataFrame,
    period: BillingPeriod,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(journal, rollforward) for one carrier period.

    `ratings`: the carrier's SHIPMENT_RATINGS; `billed_before` / `billed_by_end`:
    one column `tracking_number`, billed by bills of earlier periods / up to this one.
    """
    ships = _billing_state(ratings, billed_before, billed_by_end, period)
    return _journal(ships, period), _rollforward(ships, period)


def _billing_state(
    ratings: pl.DataFrame,
    billed_before: pl.DataFrame,
    billed_by_end: pl.DataFrame,
    period: BillingPeriod,
) -> pl.DataFrame:
    """The carrier's shipments up to the period end, each with whether it was billed
    before the period (`_before`) and by its end (`_by_end`), and its expected amounts."""
    return (
        ratings.filter((pl.col("carrier") == period.carrier) & (pl.col("ship_date") <= period.end))
        .join(
            billed_before.unique().with_columns(_before=pl.lit(True)),
            on="tracking_number",
            how="left",
        )
        .join(
            billed_by_end.unique().with_columns(_by_end=pl.lit(True)),
            on="tracking_number",
            how="left",
        )
        .with_columns(
            pl.col("_before", "_by_end").fill_null(False),
            _amount=pl.col("expected_total").fill_null(0).cast(MONEY),
            _amount_f=pl.col("expected_total_functional").fill_null(0).cast(MONEY),
        )
    )


def _period_columns(period: BillingPeriod) -> dict[str, pl.Expr]:
    return {
        "carrier": pl.lit(period.carrier),
        "period_start": pl.lit(period.start),
        "period_end": pl.lit(period.end),
    }


def _journal(ships: pl.DataFrame, period: BillingPeriod) -> pl.DataFrame:
    """ACCRUE at the expected amount, RELEASE at minus it (ACCRUAL_JOURNAL)."""
    parts = _parts(period)
    journal = pl.concat(
        [
            ships.filter(parts.accrue).with_columns(
                entry=pl.lit("ACCRUE"),
                amount=pl.col("_amount"),
                amount_functional=pl.col("_amount_f"),
            ),
            ships.filter(parts.release).with_columns(
                entry=pl.lit("RELEASE"),
                amount=-pl.col("_amount"),
                amount_functional=-pl.col("_amount_f"),
            ),
        ]
    ).with_columns(**_period_columns(period))
    return (
        journal.select(ACCRUAL_JOURNAL.column_names)
        .cast(ACCRUAL_JOURNAL.schema)
        .sort("entry", "shipment_id")
    )


def _rollforward(ships: pl.DataFrame, period: BillingPeriod) -> pl.DataFrame:
    """Opening, accrued, released and closing per company in functional currency
    (ACCRUAL_ROLLFORWARD); closing is computed directly, so the roll-forward is a check."""
    f, parts = pl.col("_amount_f"), _parts(period)
    return (
        ships.filter(pl.col("functional_currency").is_not_null())
        .group_by("company", "functional_currency")
        .agg(
            opening=f.filter(parts.in_opening).sum(),
            accrued=f.filter(parts.accrue).sum(),
            released=f.filter(parts.release).sum(),
            closing=f.filter(parts.closing).sum(),
        )
        .with_columns(**_period_columns(period))
        .select(ACCRUAL_ROLLFORWARD.column_names)
        .cast(ACCRUAL_ROLLFORWARD.schema)
        .sort("company", "functional_currency")
    )
