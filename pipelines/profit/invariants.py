"""What must hold for every order-profit result; each returns the rows that break it.

The asset checks run these (assets/defs/profit.py) and the property tests drive them:
allocations sum exactly to what they allocate; margin and net revenue are the stated
differences, line by line and in every roll-up.
"""

from __future__ import annotations

import polars as pl

from pipelines.money import money_to_cents

MARGIN_TERMS = (
    "net_revenue",
    "shipping_income",
    "platform_fees",
    "cogs",
    "freight",
    "contribution_margin",
)


def allocation_breaks(header_amounts: pl.DataFrame, allocations: pl.DataFrame) -> pl.DataFrame:
    """Order-level amounts whose line shares do not add up to them (a header with an amount
    and no line to carry it included)."""
    shared = allocations.group_by("alloc_order_id", "kind").agg(pl.col("share_c").sum())
    return (
        header_amounts.join(shared, on=["alloc_order_id", "kind"], how="left")
        .with_columns(pl.col("share_c").fill_null(0))
        .filter(pl.col("share_c") != pl.col("amount_c"))
    )


def posting_breaks(postings: pl.DataFrame, line_cogs: pl.DataFrame) -> pl.DataFrame:
    """COGS postings that reached order lines but whose shares do not add up to them."""
    keys = ["movement_id", "category", "posting_date"]
    shared = line_cogs.group_by(keys).agg(money_to_cents("amount").sum().alias("shared_c"))
    return (
        postings.group_by(keys)
        .agg(money_to_cents("amount").sum().alias("amount_c"))
        .join(shared, on=keys, how="inner")
        .filter(pl.col("shared_c") != pl.col("amount_c"))
    )


def freight_breaks(shipments: pl.DataFrame, line_freight: pl.DataFrame) -> pl.DataFrame:
    """Shipments that reached order lines but whose freight or disputed shares do not add up."""
    shared = line_freight.group_by("shipment_id").agg(
        money_to_cents("freight").sum().alias("freight_shared_c"),
        money_to_cents("freight_disputed").sum().alias("disputed_shared_c"),
    )
    return (
        shipments.select(
            "shipment_id",
            money_to_cents("freight").alias("freight_c"),
            money_to_cents("disputed").alias("disputed_c"),
        )
        .join(shared, on="shipment_id", how="inner")
        .filter(
            (pl.col("freight_c") != pl.col("freight_shared_c"))
            | (pl.col("disputed_c") != pl.col("disputed_shared_c"))
        )
    )


def margin_breaks(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows (lines or roll-ups) whose net revenue or margin is not the stated difference."""
    c = {name: money_to_cents(name) for name in frame.columns if name in _FIGURES}
    discounts = c["line_discount"] + c["promotion_discount"] + c["coupon_discount"]
    net = c["gross_revenue"] - discounts - c["points_discount"] - c["refunded"]
    margin = c["net_revenue"] + c["shipping_income"] - c["platform_fees"] - c["cogs"] - c["freight"]
    fees = c["commission_fee"] + c["payment_fee"]
    return frame.filter(
        (c["net_revenue"] != net)
        | (c["contribution_margin"] != margin)
        | (c["platform_fees"] != fees)
    )


_FIGURES = {
    "gross_revenue",
    "line_discount",
    "promotion_discount",
    "coupon_discount",
    "points_discount",
    "refunded",
    "commission_fee",
    "payment_fee",
    *MARGIN_TERMS,
}


def unexplained_missing_cogs(lines: pl.DataFrame) -> pl.DataFrame:
    """Shipped lines with no COGS and no reason that explains it (cancelled, refunded in
    full): the issue behind the parcel is missing from the ledger."""
    return lines.filter(
        (pl.col("freight_status") != "NO_SHIPMENT")
        & (pl.col("cogs_status") == "NONE")
        & (pl.col("cogs_reason") == "NOT_ISSUED")
    )
