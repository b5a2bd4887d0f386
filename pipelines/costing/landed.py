"""Landed cost on slices (DOMAIN.md "Landed cost"): capitalise on units on hand, expense the rest.

A receipt line's share S of a landed cost is a *component* of its origin layer
(pipelines.costing.landed_allocation): any slice [a, b) of the line's Q units carries
round_half_up(S·b/Q) - round_half_up(S·a/Q) of it. At the effective time the components
of slices still on hand, wherever transfers took them, in transit included, are
capitalised in the pool holding them; the rest of S (units already gone) is a COGS
adjustment on the posting date. Slices consumed afterwards carry their part in their cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.costing.intervals import slice_cost
from pipelines.costing.landed_allocation import Allocation
from pipelines.pools import POOL


def _component_part() -> pl.Expr:
    """A component's part on slice [origin_a, origin_b) of its origin."""
    return slice_cost(
        pl.col("share_cents"), pl.col("origin_a"), pl.col("origin_b"), pl.col("origin_qty")
    )


@dataclass(frozen=True)
class LandedPostings:
    capitalised: pl.DataFrame
    """Inventory postings (category LANDED_COST_CAPITALISED), per residency holding the slice."""
    expensed: pl.DataFrame
    """posting_date, pool, movement_id (receipt line), movement_type, landed_cost_id,
    amount_cents: the share on units already gone, a COGS adjustment."""
    ageing_steps: pl.DataFrame
    """Residency rows of quantity 0 that add the capitalised value to ageing from its day."""
    entry_correction: pl.DataFrame
    """res_id, landed_in_residency_cents: capitalised during the residency (not in entry value)."""


def landed_postings(residencies: pl.DataFrame, alloc: Allocation) -> LandedPostings:
    """`residencies`: res_id, pool, origin_id, origin_a, origin_b, enter_at, exit_at
    (null: -inf / +inf)."""
    hit = residencies.join(alloc.components, on="origin_id").filter(
        (pl.col("enter_at").is_null() | (pl.col("enter_at") <= pl.col("effective_at")))
        & (pl.col("exit_at").is_null() | (pl.col("effective_at") < pl.col("exit_at")))
    )
    hit = hit.with_columns(
        _component_part().alias("capitalised_cents"),
        pl.col("effective_at").dt.date().alias("posting_date"),
    )
    capitalised = (
        hit.group_by([*POOL, "posting_date", "landed_cost_id"])
        .agg(pl.col("capitalised_cents").sum())
        .select(
            *POOL,
            "posting_date",
            pl.col("landed_cost_id").alias("movement_id"),
            pl.lit("LANDED_COST").alias("movement_type"),
            pl.lit("LANDED_COST_CAPITALISED").alias("category"),
            pl.lit(0, pl.Int64).alias("qty"),
            pl.col("capitalised_cents").alias("value_cents"),
        )
    )
    by_line = hit.group_by("landed_cost_id", "origin_id").agg(pl.col("capitalised_cents").sum())
    expensed = alloc.allocations.join(
        by_line,
        left_on=["landed_cost_id", "movement_id"],
        right_on=["landed_cost_id", "origin_id"],
        how="left",
    ).select(
        "posting_date",
        *POOL,
        "movement_id",
        pl.lit("RECEIPT").alias("movement_type"),
        "landed_cost_id",
        (pl.col("amount_cents") - pl.col("capitalised_cents").fill_null(0)).alias("amount_cents"),
    )
    steps = hit.select(
        *POOL,
        "receipt_date",
        pl.lit(0, pl.Int64).alias("quantity"),
        pl.col("capitalised_cents").alias("value_cents"),
        pl.col("posting_date").alias("enter_day"),
        "exit_day",
    )
    correction = hit.group_by("res_id").agg(
        pl.col("capitalised_cents").sum().alias("landed_in_residency_cents")
    )
    return LandedPostings(
        capitalised, expensed.filter(pl.col("amount_cents") != 0), steps, correction
    )


def landed_extra(frame: pl.DataFrame, components: pl.DataFrame, at: str) -> pl.DataFrame:
    """`frame` + landed_cents: landed cost on slice [origin_a, origin_b) of origin_id from
    components in effect before `at` (null `at`: all of them). DOMAIN.md "Landed cost":
    each component is released over its origin's positions by the same cumulative
    rounding as the value."""
    keyed = frame.with_row_index("_row")
    hit = keyed.select("_row", "origin_id", "origin_a", "origin_b", at).join(
        components.select("origin_id", "share_cents", "effective_at", "origin_qty"), on="origin_id"
    )
    hit = hit.filter(pl.col(at).is_null() | (pl.col("effective_at") < pl.col(at)))
    extra = hit.group_by("_row").agg(_component_part().sum().alias("landed_cents"))
    return (
        keyed.join(extra, on="_row", how="left")
        .with_columns(pl.col("landed_cents").fill_null(0))
        .sort("_row")
        .drop("_row")
    )
