"""A correction to a closed period, posted on its first open day.

DOMAIN.md, "Late (backdated), corrected or removed documents": "in a closed period post
the difference in the first open day". The closed days keep their figures as first
written (and exported); the runner recosts them once more with the data as it is now (a
shadow run: nothing of it is stored, runs/closed_period.py) and posts, at 00:00 of the
first open day, the difference between what the shadow costs and what the closed days
posted:

- COGS per outbound movement (and landed cost): `CLOSED_PERIOD_ADJUSTMENT` rows, so every
  cent of the adjustment names the document whose cost changed;
- the stock of each pool at the close, quantity and value: the first open day's
  valuation row opens at the closing the ERP received and carries the difference in
  `adjustment_qty` / `adjustment_value` (opening + adjustment + in - out = closing);
- the journal lines per movement and account, each movement's lines balancing.

The open days are costed from the shadow's state at the close, so from there on their
figures are those of a clean run over the corrected data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from pipelines.contracts.types import MONEY
from pipelines.journals.journals import journals
from pipelines.money import cents_to_money, money_to_cents
from pipelines.pools import POOL

ADJUSTMENT = "CLOSED_PERIOD_ADJUSTMENT"
"""The cogs kind and journal category of a closed period's difference."""

_COGS_KEY = [*POOL, "movement_id", "movement_type", "landed_cost_id"]
_COGS_MONEY = ["consumed", "provisional", "amount"]
_COGS_UNITS = ["quantity", "provisional_qty"]


@dataclass(frozen=True)
class ClosedFigures:
    """What the closed days from the first one a correction touches posted (or, recosted
    with the data as it is now, would post): COGS rows, journal lines (both as stored,
    money in Decimal) and each pool's closing at the close (closing_qty, closing_value)."""

    cogs: pl.DataFrame
    journal_lines: pl.DataFrame
    closing: pl.DataFrame


@dataclass(frozen=True)
class ClosedDifference:
    """The rows a correction posts on the first open day (corrected minus posted)."""

    cogs: pl.DataFrame
    inventory: pl.DataFrame
    """POOL, adjustment_qty, adjustment_value: the change of each pool's stock at the close."""
    journal_lines: pl.DataFrame

    @property
    def is_empty(self) -> bool:
        return self.cogs.is_empty() and self.inventory.is_empty() and self.journal_lines.is_empty()


def _signed(frame: pl.DataFrame, sign: int, money: list[str]) -> pl.DataFrame:
    return frame.with_columns((money_to_cents(c) * sign).alias(c) for c in money)


def _cogs_difference(posted: pl.DataFrame, corrected: pl.DataFrame, day: date) -> pl.DataFrame:
    """Per outbound movement (and landed cost on a receipt line): the change of its COGS
    over the closed days, every kind together; units are those of its COST row."""
    units = [
        pl.when(pl.col("kind") == "COST").then(pl.col(c)).otherwise(0).alias(c) for c in _COGS_UNITS
    ]
    sides = [
        _signed(frame, sign, _COGS_MONEY).select(
            *_COGS_KEY, *[u * sign for u in units], *_COGS_MONEY
        )
        for frame, sign in ((corrected, 1), (posted, -1))
    ]
    both = pl.concat([s.cast(sides[0].schema) for s in sides])
    found = both.group_by(_COGS_KEY).agg(pl.col(c).sum() for c in [*_COGS_UNITS, *_COGS_MONEY])
    changed = found.filter(pl.any_horizontal(pl.col(c) != 0 for c in [*_COGS_UNITS, *_COGS_MONEY]))
    return changed.sort("movement_id", "landed_cost_id", nulls_last=True).select(
        pl.lit(day).alias("posting_date"),
        *POOL,
        "movement_id",
        "movement_type",
        pl.lit(ADJUSTMENT).alias("kind"),
        "landed_cost_id",
        *_COGS_UNITS,
        pl.lit(False).alias("is_provisional"),
        pl.lit(False).alias("is_true_up"),
        *[cents_to_money(c).alias(c) for c in _COGS_MONEY],
    )


def _journal_difference(posted: pl.DataFrame, corrected: pl.DataFrame, day: date) -> pl.DataFrame:
    """Per company, movement and account: the change of its journal lines."""
    key = ["company", "movement_id", "account"]
    both = pl.concat(
        [
            _signed(frame, sign, ["amount"]).select(*key, "amount")
            for frame, sign in ((corrected, 1), (posted, -1))
        ]
    )
    found = both.group_by(key).agg(pl.col("amount").sum()).filter(pl.col("amount") != 0)
    return found.sort(key).select(
        pl.lit(day).alias("posting_date"),
        "company",
        "account",
        pl.lit(ADJUSTMENT).alias("category"),
        "movement_id",
        cents_to_money("amount").alias("amount"),
    )


def _inventory_difference(posted: pl.DataFrame, corrected: pl.DataFrame) -> pl.DataFrame:
    figures = ["closing_qty", "closing_value"]
    sides = [
        _signed(frame, sign, ["closing_value"]).select(
            *POOL, pl.col("closing_qty").cast(pl.Int64) * sign, "closing_value"
        )
        for frame, sign in ((corrected, 1), (posted, -1))
    ]
    both = pl.concat([s.cast(sides[0].schema) for s in sides])
    found = both.group_by(POOL).agg(pl.col(c).sum() for c in figures)
    changed = found.filter((pl.col("closing_qty") != 0) | (pl.col("closing_value") != 0))
    return changed.sort(POOL).select(
        *POOL,
        pl.col("closing_qty").alias("adjustment_qty"),
        cents_to_money("closing_value").alias("adjustment_value"),
    )


def closed_difference(
    posted: ClosedFigures, corrected: ClosedFigures, first_open: date
) -> ClosedDifference:
    """What the first open day posts for a corrected closed period."""
    return ClosedDifference(
        cogs=_cogs_difference(posted.cogs, corrected.cogs, first_open),
        inventory=_inventory_difference(posted.closing, corrected.closing),
        journal_lines=_journal_difference(
            posted.journal_lines, corrected.journal_lines, first_open
        ),
    )


def _posted_valuation(
    valuation: pl.DataFrame, opening: pl.DataFrame, inventory: pl.DataFrame, day: date
) -> pl.DataFrame:
    """`valuation` (from the corrected state) with each adjusted pool's row on `day`
    opening at its posted closing and carrying the adjustment; a pool without movements
    that day gets a row of its own."""
    adjust = inventory.rename({"adjustment_qty": "_aq", "adjustment_value": "_av"})
    on_day = valuation.filter(pl.col("day") == day)
    missing = adjust.join(on_day.select(POOL), on=POOL, how="anti").join(
        opening, on=POOL, how="left"
    )
    zero = pl.lit(0).cast(MONEY)
    added = missing.select(
        *POOL,
        pl.lit(day).alias("day"),
        pl.col("opening_qty").fill_null(0).alias("opening_qty"),
        pl.lit(0, pl.Int64).alias("in_qty"),
        pl.lit(0, pl.Int64).alias("out_qty"),
        pl.col("opening_qty").fill_null(0).alias("closing_qty"),
        pl.col("opening_value").fill_null(zero).cast(MONEY).alias("opening_value"),
        zero.alias("in_value"),
        zero.alias("out_value"),
        pl.col("opening_value").fill_null(zero).cast(MONEY).alias("closing_value"),
        pl.lit(0, pl.Int64).alias("adjustment_qty"),
        zero.alias("adjustment_value"),
        "_aq",
        "_av",
    )
    rows = pl.concat(
        [
            valuation.join(adjust, on=POOL, how="left").with_columns(
                pl.when(pl.col("day") == day).then(pl.col("_aq")).alias("_aq"),
                pl.when(pl.col("day") == day).then(pl.col("_av")).alias("_av"),
            ),
            added.select(*valuation.columns, "_aq", "_av").cast(valuation.schema),
        ]
    ).with_columns(pl.col("_aq").fill_null(0), pl.col("_av").fill_null(zero))
    return (
        rows.with_columns(
            (pl.col("opening_qty") - pl.col("_aq")).cast(pl.Int64).alias("opening_qty"),
            (pl.col("opening_value") - pl.col("_av")).cast(MONEY).alias("opening_value"),
            (pl.col("adjustment_qty") + pl.col("_aq")).cast(pl.Int64).alias("adjustment_qty"),
            (pl.col("adjustment_value") + pl.col("_av")).cast(MONEY).alias("adjustment_value"),
        )
        .select(valuation.columns)
        .sort([*POOL, "day"])
    )


def post_difference(
    outputs: dict[str, pl.DataFrame],
    opening: pl.DataFrame,
    difference: ClosedDifference,
    first_open: date,
) -> dict[str, pl.DataFrame]:
    """The first open day's outputs (costed from the corrected state; `opening`: that
    state's opening per pool, as `CostingResult.opening`) with the difference posted."""
    cogs = outputs["costing_cogs"]
    lines = outputs["costing_journal_lines"]
    lines = pl.concat([lines, difference.journal_lines.select(lines.columns).cast(lines.schema)])
    day_lines = lines.filter(pl.col("posting_date") == first_open).with_columns(
        money_to_cents("amount").alias("amount_cents")
    )
    entries = outputs["costing_journals"]
    entries = pl.concat(
        [
            entries.filter(pl.col("posting_date") != first_open),
            journals(day_lines).select(entries.columns).cast(entries.schema),
        ]
    ).sort("posting_date", "company", "category", "account")
    return {
        **outputs,
        "costing_cogs": pl.concat([cogs, difference.cogs.select(cogs.columns).cast(cogs.schema)]),
        "costing_journal_lines": lines,
        "costing_journals": entries,
        "costing_valuation": _posted_valuation(
            outputs["costing_valuation"], opening, difference.inventory, first_open
        ),
    }
