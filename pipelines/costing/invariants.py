"""Invariants that must hold every day, per pool (DOMAIN.md "Invariants").

Each returns a frame of violations; empty means the check passes. They recompute what
they check from a different frame than the one that produced it, so a bug in one path
shows up as a disagreement (the lead turns them into blocking Dagster asset checks).
"""

from __future__ import annotations

import polars as pl

from pipelines.costing.engine import CostingResult
from pipelines.pools import POOL


def roll_forward_violations(valuation: pl.DataFrame) -> pl.DataFrame:
    """opening + adjustment + in - out = closing per pool and day, and each opening =
    previous closing. The adjustment (stored valuation only) is a closed period's
    correction on its first open day (pipelines/costing/closed_period.py); 0 elsewhere."""
    v = valuation.sort([*POOL, "day"])
    prev_q = pl.col("closing_qty").shift(1).over(POOL)
    prev_v = pl.col("closing_value").shift(1).over(POOL)
    has_adjustment = "adjustment_qty" in valuation.columns
    adj_q = pl.col("adjustment_qty") if has_adjustment else pl.lit(0)
    adj_v = pl.col("adjustment_value") if has_adjustment else pl.lit(0)
    bad = (
        (
            pl.col("opening_qty") + adj_q + pl.col("in_qty") - pl.col("out_qty")
            != pl.col("closing_qty")
        )
        | (
            pl.col("opening_value") + adj_v + pl.col("in_value") - pl.col("out_value")
            != pl.col("closing_value")
        )
        | (prev_q.is_not_null() & (prev_q != pl.col("opening_qty")))
        | (prev_v.is_not_null() & (prev_v != pl.col("opening_value")))
    )
    return v.filter(bad)


def open_layers_vs_balance_violations(result: CostingResult) -> pl.DataFrame:
    """At the end of the range: open layers - open shortfalls = the valuation's closing balance."""
    layers = result.open_layers.group_by(POOL).agg(
        pl.col("quantity").sum().alias("layer_qty"), pl.col("value").sum().alias("layer_value")
    )
    shorts = result.open_shortfalls.group_by(POOL).agg(
        pl.col("quantity").sum().alias("short_qty"),
        pl.col("unserved_provisional").sum().alias("short_value"),
    )
    books = result.valuation_on(result.end).select(*POOL, "closing_qty", "closing_value")
    j = books.join(layers, on=POOL, how="full", coalesce=True).join(
        shorts, on=POOL, how="full", coalesce=True
    )
    zero = pl.lit(0, pl.Decimal(18, 2))
    j = j.with_columns(
        (pl.col("layer_qty").fill_null(0) - pl.col("short_qty").fill_null(0)).alias(
            "layers_net_qty"
        ),
        (pl.col("layer_value").fill_null(zero) - pl.col("short_value").fill_null(zero)).alias(
            "layers_net_value"
        ),
        pl.col("closing_qty").fill_null(0),
        pl.col("closing_value").fill_null(zero),
    )
    return j.filter(
        (pl.col("layers_net_qty") != pl.col("closing_qty"))
        | (pl.col("layers_net_value") != pl.col("closing_value"))
    ).select(*POOL, "closing_qty", "closing_value", "layers_net_qty", "layers_net_value")


def negative_layer_violations(open_layers: pl.DataFrame) -> pl.DataFrame:
    """No layer below zero: quantity > 0, value >= 0, a valid slice of its origin."""
    return open_layers.filter(
        (pl.col("quantity") <= 0)
        | (pl.col("value") < 0)
        | (pl.col("origin_a") < 0)
        | (pl.col("origin_b") > pl.col("origin_qty"))
        | (pl.col("origin_b") - pl.col("origin_a") != pl.col("quantity"))
    )


def journal_balance_violations(journals: pl.DataFrame) -> pl.DataFrame:
    """Debits equal credits per day and company."""
    totals = journals.group_by("posting_date", "company").agg(
        pl.col("debit").sum().alias("debit"), pl.col("credit").sum().alias("credit")
    )
    return totals.filter(pl.col("debit") != pl.col("credit")).sort("posting_date", "company")
