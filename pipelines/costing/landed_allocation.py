"""Landed cost allocation (DOMAIN.md "Landed cost"): who carries how much of each amount.

An amount posted against a purchase document line is converted to functional currency
at the rate of its posting date and allocated across the RECEIPT lines sharing its
`receipt_reference` (same company) by the chosen basis, with cumulative rounding in
movement_id order so the shares add up to the amount exactly. A line's share S becomes a
*component* of that receipt (its origin layer), taking effect at the posting or at the
receipt if that is later (pipelines.costing.landed releases it over the line's units).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from pipelines.costing.intervals import share
from pipelines.costing.policy import ALL_WAREHOUSES, POOL_BY_COMPANY, CostingPolicy
from pipelines.costing.pricing import priced_cents, rates_by_day, with_rate
from pipelines.costing.state import LANDED_COMPONENTS_SCHEMA
from pipelines.pools import POOL

DIMENSIONS = ("weight_kg", "length_cm", "width_cm", "height_cm")


@dataclass(frozen=True)
class Allocation:
    allocations: pl.DataFrame
    """landed_cost_id, movement_id (receipt line), basis, posting_date, pool of the
    receipt line, amount_cents."""
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


def _basis_weight() -> pl.Expr:
    """The allocation weight of a receipt line by its landed cost's basis, in integers
    (weights in grams, dimensions in millimetres)."""
    quantity = pl.col("quantity").cast(pl.Int128)

    def scaled(col: str, places: int) -> pl.Expr:
        return (pl.col(col).cast(pl.Decimal(38, places)) * 10**places).cast(pl.Int128)

    weight = {
        "QUANTITY": quantity,
        "VALUE": pl.col("value_cents").cast(pl.Int128),
        "WEIGHT": quantity * scaled("weight_kg", 3),
        "VOLUME": quantity
        * scaled("length_cm", 1)
        * scaled("width_cm", 1)
        * scaled("height_cm", 1),
    }
    expr = pl.lit(None, pl.Int128)
    for basis, w in weight.items():
        expr = pl.when(pl.col("basis") == basis).then(w).otherwise(expr)
    return expr.fill_null(0)


def _priced_in_functional(
    frame: pl.DataFrame, companies: pl.DataFrame, rates: pl.DataFrame, day: pl.Expr
) -> pl.DataFrame:
    with_currency = frame.join(companies, on="company", how="left").with_columns(day.alias("day"))
    return with_rate(with_currency, rates)


def _landed_lines(inputs: Mapping[str, pl.DataFrame], landed_costs: pl.DataFrame) -> pl.DataFrame:
    """Each landed cost (in cents of functional currency) joined to its receipt lines
    (left join: a landed cost without a receipt keeps a null movement_id)."""
    companies = inputs["companies"].select("company", "functional_currency")
    rates = rates_by_day(inputs["fx_rates"])
    mv = inputs["movements"]
    receipts = mv.filter(pl.col("movement_type") == "RECEIPT", pl.col("reference").is_not_null())
    lines = _priced_in_functional(
        receipts, companies, rates, pl.col("occurred_at").dt.date()
    ).with_columns(
        priced_cents(pl.col("quantity"), pl.col("unit_cost"), pl.col("rate")).alias("value_cents")
    )
    skus = inputs.get("skus")
    if skus is not None and "sku" in skus.columns:  # (a warehouse may have no skus table yet)
        lines = lines.join(skus, on="sku", how="left")
    landed = _priced_in_functional(landed_costs, companies, rates, pl.col("posted_at").dt.date())
    missing_rate = landed.filter(pl.col("rate").is_null())
    if missing_rate.height:
        raise ValueError(
            "landed_costs: no fx rate for the posting date: "
            f"{missing_rate.select('landed_cost_id', 'currency').head(10).rows()}"
        )
    landed = landed.with_columns(
        priced_cents(pl.lit(1), pl.col("amount"), pl.col("rate")).alias("landed_cents")
    )
    joined = landed.select(
        "landed_cost_id", "posted_at", "company", "receipt_reference", "basis", "landed_cents"
    ).join(
        lines.drop("rate", "functional_currency", "currency", "day"),
        left_on=["company", "receipt_reference"],
        right_on=["company", "reference"],
        how="left",
    )
    return joined.with_columns(pl.max_horizontal("posted_at", "occurred_at").alias("effective_at"))


def _shares(lines: pl.DataFrame) -> pl.DataFrame:
    """Receipt lines with basis_weight, total_weight and amount_cents: the cumulative-
    rounding share of the landed cost (every line of a zero-total basis is left out)."""
    if any(c not in lines.columns for c in DIMENSIONS):
        if lines.filter(pl.col("basis").is_in(["WEIGHT", "VOLUME"])).height:
            raise ValueError("landed_costs: WEIGHT/VOLUME basis needs the skus table")
        lines = lines.with_columns(pl.lit(0).alias(c) for c in DIMENSIONS)
    lines = lines.filter(pl.col("movement_id").is_not_null()).with_columns(
        _basis_weight().alias("basis_weight")
    )
    return lines.sort("landed_cost_id", "movement_id").with_columns(
        pl.col("basis_weight").cum_sum().over("landed_cost_id").alias("cum_weight"),
        pl.col("basis_weight").sum().over("landed_cost_id").alias("total_weight"),
    )


def _flags(orphans: pl.DataFrame, no_basis: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(
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


def allocate(
    inputs: Mapping[str, pl.DataFrame], start: date, end: date, policy: CostingPolicy
) -> Allocation:
    """Landed costs taking effect in [start, end], allocated to their receipt lines.

    The receipt lines must be among `inputs["movements"]` whatever their date. Every line
    of a landed cost is allocated, then only the shares taking effect now are kept: a
    line received after the posting takes its share on its own receipt day.
    """
    landed_costs = inputs.get("landed_costs")
    if landed_costs is None or landed_costs.is_empty():
        return _empty_allocation()
    lines = _landed_lines(inputs, landed_costs)
    in_range = pl.col("effective_at").dt.date().is_between(start, end)
    orphans = lines.filter(pl.col("movement_id").is_null(), in_range)
    lines = _shares(lines)
    no_basis = lines.filter(pl.col("total_weight") == 0, in_range).select("landed_cost_id").unique()
    lines = lines.filter(pl.col("total_weight") > 0).with_columns(
        (
            share(pl.col("landed_cents"), pl.col("cum_weight"), pl.col("total_weight"))
            - share(
                pl.col("landed_cents"),
                pl.col("cum_weight") - pl.col("basis_weight"),
                pl.col("total_weight"),
            )
        ).alias("amount_cents")
    )
    lines = lines.filter(in_range)
    if policy.pool == POOL_BY_COMPANY:
        lines = lines.with_columns(pl.lit(ALL_WAREHOUSES).alias("warehouse"))
    allocations = lines.select(
        "landed_cost_id",
        "movement_id",
        "basis",
        pl.col("effective_at").dt.date().alias("posting_date"),
        *POOL,
        "amount_cents",
    )
    components = lines.select(
        pl.col("movement_id").alias("origin_id"),
        "landed_cost_id",
        pl.col("amount_cents").alias("share_cents"),
        "effective_at",
        pl.col("quantity").alias("origin_qty"),
    ).cast(LANDED_COMPONENTS_SCHEMA)
    return Allocation(allocations, components, _flags(orphans, no_basis))
