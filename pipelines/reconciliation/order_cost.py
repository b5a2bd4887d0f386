"""Per-order logistics cost: the bridge from payables to landed margin (issue 5 item 6).

For each order, in the company's functional currency: the approved amounts of
its shipments' bill lines where billed (what we will actually pay), and the
expected price where a shipment is not billed yet (what the accrual carries).
Joined with COGS per order (the costing engine) this is the landed margin.
Approved amounts are in the bill currency, which reconcile() requires to be the
contract currency, so the shipment's own ship-date FX rate converts them.
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts.reconciliation import ORDER_LOGISTICS_COST
from pipelines.fx import fx_units, to_functional
from pipelines.money import money_to_cents


def order_logistics_cost(findings: pl.DataFrame, shipment_ratings: pl.DataFrame) -> pl.DataFrame:
    """One row per (order, company); `findings` of all periods reconciled so far."""
    approved = (
        findings.filter(pl.col("shipment_id").is_not_null())
        .group_by("shipment_id")
        .agg(_approved_c=money_to_cents(pl.col("approved_amount")).sum())
    )
    ships = (
        shipment_ratings.filter(pl.col("order_id").is_not_null())
        .join(approved, on="shipment_id", how="left")
        .with_columns(_fx_u=fx_units(pl.col("fx_rate")))
    )
    ships = to_functional(ships.lazy(), "_approved_c", "_approved_f").collect()
    billed = pl.col("_approved_c").is_not_null()
    return (
        ships.group_by("order_id", "company", "functional_currency")
        .agg(
            shipment_count=pl.len(),
            billed_shipments=billed.sum(),
            approved_freight_functional=pl.col("_approved_f").filter(billed).sum(),
            expected_unbilled_functional=pl.col("expected_total_functional").filter(~billed).sum(),
        )
        .with_columns(
            pl.col("approved_freight_functional", "expected_unbilled_functional").fill_null(0),
        )
        .with_columns(
            logistics_cost_functional=pl.col("approved_freight_functional")
            + pl.col("expected_unbilled_functional"),
            status=pl.when(pl.col("billed_shipments") == pl.col("shipment_count"))
            .then(pl.lit("BILLED"))
            .when(pl.col("billed_shipments") == 0)
            .then(pl.lit("UNBILLED"))
            .otherwise(pl.lit("PARTIAL")),
        )
        .select(ORDER_LOGISTICS_COST.column_names)
        .cast(ORDER_LOGISTICS_COST.schema)
        .sort("order_id", "company")
    )
