"""Landed cost (DOMAIN.md "Landed cost"): allocate, capitalise on units on hand, expense the rest.

An amount posted against a purchase document line is converted to functional currency
at the rate of its posting date and allocated across the RECEIPT lines sharing its
`receipt_reference` (same company) by the chosen basis, with cumulative rounding in
movement_id order so the shares add up to the amount exactly. A line's share S becomes a
*component* of that receipt (its origin layer): any slice [a, b) of the line's Q units
carries round_half_up(S·b/Q) - round_half_up(S·a/Q) of it. At the effective time (the
posting, or the receipt if that is later) the components of slices still on hand,
wherever transfers took them, in transit included, are capitalised in the pool holding
them; the rest of S (units already gone) is a COGS adjustment on the posting date.
Slices consumed afterwards carry their part in their cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from pipelines.costing.intervals import share, slice_cost
from pipelines.costing.policy import ALL_WAREHOUSES, POOL_BY_COMPANY, CostingPolicy
from pipelines.costing.prepare import priced_cents
from pipelines.costing.state import LANDED_COMPONENTS_SCHEMA, POOL

SCALE = {"QUANTITY": 1, "VALUE": 1, "WEIGHT": 1000, "VOLUME": 1000}


@dataclass(frozen=True)
class Allocation:
    allocations: pl.DataFrame
    """landed_cost_id, movement_id (receipt line), basis, basis_weight, amount_cents,
    effective_at, posting_date, pool of the receipt line."""
    components: pl.DataFrame
    """LANDED_COMPONENTS_SCHEMA rows of this range."""
    flags: pl.DataFrame


def _empty_allocation() -> Allocation:
    return Allocation(
        pl.DataFrame(
            schema={
                "landed_cost_id": pl.String,
                "movement_id": pl.String,
                "basis": pl.String,
                "posting_date": pl.Date,
                **{c: pl.String for c in POOL},
                "amount_cents": pl.Int64,
            }
        ),
        pl.DataFrame(schema=LANDED_COMPONENTS_SCHEMA),
        pl.DataFrame(schema={"movement_id": pl.String, "flag": pl.String, "detail": pl.String}),
    )


def allocate(
    inputs: Mapping[str, pl.DataFrame], start: date, end: date, policy: CostingPolicy
) -> Allocation:
    """Landed costs taking effect in [start, end], allocated to their receipt lines.

    The receipt lines must be among `inputs["movements"]` whatever their date.
    """
    lcs = inputs.get("landed_costs")
    if lcs is None or lcs.is_empty():
        return _empty_allocation()
    mv = inputs["movements"]
    receipts = mv.filter(pl.col("movement_type") == "RECEIPT", pl.col("reference").is_not_null())
    fn = inputs["companies"].select("company", "functional_currency")
    rates = (
        inputs["fx_rates"]
        .select(
            pl.col("rate_date").alias("day"),
            "currency",
            pl.col("to_currency").alias("functional_currency"),
            "rate",
        )
        .unique(["day", "currency", "functional_currency"])
    )

    def rate_of(frame: pl.DataFrame, day: pl.Expr) -> pl.DataFrame:
        f = frame.join(fn, on="company", how="left").with_columns(day.alias("day"))
        f = f.join(rates, on=["day", "currency", "functional_currency"], how="left")
        return f.with_columns(
            pl.when(pl.col("currency") == pl.col("functional_currency"))
            .then(pl.lit(1, pl.Decimal(18, 8)))
            .otherwise(pl.col("rate"))
            .alias("rate")
        )

    lines = rate_of(receipts, pl.col("occurred_at").dt.date()).with_columns(
        priced_cents(pl.col("quantity"), pl.col("unit_cost"), pl.col("rate")).alias("value_cents")
    )
    skus = inputs.get("skus")
    if skus is not None and "sku" in skus.columns:  # (a warehouse may have no skus table yet)
        lines = lines.join(skus, on="sku", how="left")
    lc = rate_of(lcs, pl.col("posted_at").dt.date())
    missing_rate = lc.filter(pl.col("rate").is_null())
    if missing_rate.height:
        raise ValueError(
            "landed_costs: no fx rate for the posting date: "
            f"{missing_rate.select('landed_cost_id', 'currency').head(10).rows()}"
        )
    lc = lc.with_columns(
        priced_cents(pl.lit(1), pl.col("amount"), pl.col("rate")).alias("lc_cents")
    )
    j = lc.select(
        "landed_cost_id", "posted_at", "company", "receipt_reference", "basis", "lc_cents"
    ).join(
        lines.drop("rate", "functional_currency", "currency", "day"),
        left_on=["company", "receipt_reference"],
        right_on=["company", "reference"],
        how="left",
    )
    j = j.with_columns(pl.max_horizontal("posted_at", "occurred_at").alias("effective_at"))
    # Allocate over every line of the landed cost, then keep the shares taking effect now:
    # a line received after the posting takes its share on its own receipt day.
    in_range = pl.col("effective_at").dt.date().is_between(start, end)
    orphans = j.filter(pl.col("movement_id").is_null())
    weight = {
        "QUANTITY": pl.col("quantity").cast(pl.Int128),
        "VALUE": pl.col("value_cents").cast(pl.Int128),
        "WEIGHT": pl.col("quantity").cast(pl.Int128)
        * (pl.col("weight_kg").cast(pl.Decimal(38, 3)) * 1000).cast(pl.Int128),
        "VOLUME": pl.col("quantity").cast(pl.Int128)
        * (pl.col("length_cm").cast(pl.Decimal(38, 1)) * 10).cast(pl.Int128)
        * (pl.col("width_cm").cast(pl.Decimal(38, 1)) * 10).cast(pl.Int128)
        * (pl.col("height_cm").cast(pl.Decimal(38, 1)) * 10).cast(pl.Int128),
    }
    if any(c not in j.columns for c in ("weight_kg", "length_cm", "width_cm", "height_cm")):
        if j.filter(pl.col("basis").is_in(["WEIGHT", "VOLUME"])).height:
            raise ValueError("landed_costs: WEIGHT/VOLUME basis needs the skus table")
        for c in ("weight_kg", "length_cm", "width_cm", "height_cm"):
            j = j.with_columns(pl.lit(0).alias(c))
    expr = pl.lit(None, pl.Int128)
    for basis, w in weight.items():
        expr = pl.when(pl.col("basis") == basis).then(w).otherwise(expr)
    j = j.filter(pl.col("movement_id").is_not_null()).with_columns(expr.fill_null(0).alias("w"))
    j = j.sort("landed_cost_id", "movement_id").with_columns(
        pl.col("w").cum_sum().over("landed_cost_id").alias("cum"),
        pl.col("w").sum().over("landed_cost_id").alias("total"),
    )
    no_basis = j.filter(pl.col("total") == 0, in_range).select("landed_cost_id").unique()
    j = j.filter(pl.col("total") > 0).with_columns(
        (
            share(pl.col("lc_cents"), pl.col("cum"), pl.col("total"))
            - share(pl.col("lc_cents"), pl.col("cum") - pl.col("w"), pl.col("total"))
        ).alias("amount_cents")
    )
    j = j.filter(in_range)
    orphans = orphans.filter(in_range)
    if policy.pool == POOL_BY_COMPANY:
        j = j.with_columns(pl.lit(ALL_WAREHOUSES).alias("warehouse"))
    allocations = j.select(
        "landed_cost_id",
        "movement_id",
        "basis",
        pl.col("effective_at").dt.date().alias("posting_date"),
        *POOL,
        "amount_cents",
    )
    components = j.select(
        pl.col("movement_id").alias("origin_id"),
        "landed_cost_id",
        pl.col("amount_cents").alias("share_cents"),
        "effective_at",
        pl.col("quantity").alias("origin_qty"),
    ).cast(dict(LANDED_COMPONENTS_SCHEMA))
    flags = pl.concat(
        [
            orphans.select(
                pl.col("landed_cost_id").alias("movement_id"),
                pl.lit("LANDED_COST_WITHOUT_RECEIPT").alias("flag"),
                pl.format(
                    "no RECEIPT with reference {} in {}", "receipt_reference", "company"
                ).alias("detail"),
            ),
            no_basis.select(
                pl.col("landed_cost_id").alias("movement_id"),
                pl.lit("LANDED_COST_NO_BASIS").alias("flag"),
                pl.lit("allocation basis totals zero over its receipt lines; not allocated").alias(
                    "detail"
                ),
            ),
        ]
    )
    return Allocation(allocations, components, flags)


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
    """res_id, lc_in_residency_cents: capitalised during the residency (not in entry value)."""


def landed_postings(residencies: pl.DataFrame, alloc: Allocation) -> LandedPostings:
    """`residencies`: res_id, pool, origin_id, a, b, enter_at, exit_at (null: -inf / +inf)."""
    comps = alloc.components
    hit = residencies.join(comps, on="origin_id").filter(
        (pl.col("enter_at").is_null() | (pl.col("enter_at") <= pl.col("effective_at")))
        & (pl.col("exit_at").is_null() | (pl.col("effective_at") < pl.col("exit_at")))
    )
    hit = hit.with_columns(
        slice_cost(pl.col("share_cents"), pl.col("a"), pl.col("b"), pl.col("origin_qty")).alias(
            "cap"
        ),
        pl.col("effective_at").dt.date().alias("posting_date"),
    )
    capitalised = (
        hit.group_by([*POOL, "posting_date", "landed_cost_id"])
        .agg(pl.col("cap").sum())
        .select(
            *POOL,
            "posting_date",
            pl.col("landed_cost_id").alias("movement_id"),
            pl.lit("LANDED_COST").alias("movement_type"),
            pl.lit("LANDED_COST_CAPITALISED").alias("category"),
            pl.lit(0, pl.Int64).alias("qty"),
            pl.col("cap").alias("value_cents"),
        )
    )
    cap_by_line = hit.group_by("landed_cost_id", "origin_id").agg(pl.col("cap").sum())
    a = alloc.allocations.join(
        cap_by_line,
        left_on=["landed_cost_id", "movement_id"],
        right_on=["landed_cost_id", "origin_id"],
        how="left",
    )
    expensed = a.select(
        "posting_date",
        *POOL,
        "movement_id",
        pl.lit("RECEIPT").alias("movement_type"),
        "landed_cost_id",
        (pl.col("amount_cents") - pl.col("cap").fill_null(0)).alias("amount_cents"),
    ).filter(pl.col("amount_cents") != 0)
    steps = hit.select(
        *POOL,
        "receipt_date",
        pl.lit(0, pl.Int64).alias("quantity"),
        pl.col("cap").alias("value_cents"),
        pl.col("posting_date").alias("enter_day"),
        "exit_day",
    )
    correction = hit.group_by("res_id").agg(pl.col("cap").sum().alias("lc_in_residency_cents"))
    return LandedPostings(capitalised, expensed, steps, correction)


def landed_extra(frame: pl.DataFrame, components: pl.DataFrame, at: str) -> pl.Expr | pl.DataFrame:
    """`frame` + lc_cents: landed cost on slice [a, b) of origin_id from components in
    effect before `at` (null `at`: all of them). DOMAIN.md "Landed cost": each component is
    released over its origin's positions by the same cumulative rounding as the value."""
    keyed = frame.with_row_index("_row")
    hit = keyed.select("_row", "origin_id", "a", "b", at).join(
        components.select("origin_id", "share_cents", "effective_at", "origin_qty"), on="origin_id"
    )
    hit = hit.filter(pl.col(at).is_null() | (pl.col("effective_at") < pl.col(at)))
    extra = hit.group_by("_row").agg(
        slice_cost(pl.col("share_cents"), pl.col("a"), pl.col("b"), pl.col("origin_qty"))
        .sum()
        .alias("lc_cents")
    )
    return (
        keyed.join(extra, on="_row", how="left")
        .with_columns(pl.col("lc_cents").fill_null(0))
        .sort("_row")
        .drop("_row")
    )
