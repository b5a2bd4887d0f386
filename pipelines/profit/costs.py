"""The cost side of a line: its share of the COGS postings and of the parcels' freight.

COGS (DOMAIN.md "Costing rules"): the FIFO cost of the ISSUEs of the line's warehouse order
and SKU, their true-ups, and the reversal booked by a RETURN of one of them, each posting
shared over the lines of that (warehouse order, SKU) by quantity (two lines of one SKU in
one parcel, or merged orders). Freight (DOMAIN.md "Order profitability"): each shipment's
freight over the lines of the warehouse order it carried, by SKU weight × quantity (or
line amount); a split order ships one warehouse order per child, a merged parcel carries
the lines of several orders that share one. Both are functional-currency cents already.
"""

from __future__ import annotations

import polars as pl

from pipelines.money import kg_to_grams, money_to_cents
from pipelines.profit.allocation import allocate, allocate_each
from pipelines.profit.policy import ProfitPolicy
from pipelines.profit.provenance import first_and_several, with_joined

GROUP = ["fulfilment_order_id", "sku"]


def cogs_shares(lines: pl.LazyFrame, postings: pl.LazyFrame) -> pl.LazyFrame:
    """_line, order_line_id, order_date, movement_id, category, posting_date, company, share_c,
    provisional_c."""
    targets = lines.select("_line", "order_line_id", "order_date", *GROUP, "quantity")
    joined = postings.with_columns(
        money_to_cents("amount").alias("amount_c"),
        money_to_cents(pl.col("provisional_open").fill_null(0)).alias("provisional_c"),
    ).join(targets, on=GROUP, how="inner")
    keys = ["movement_id", "category", "posting_date"]
    shared = allocate(joined, "amount_c", "quantity", keys, ["_line"], "share_c")
    return shared.select(
        "_line", "order_line_id", "order_date", *keys, "company", "share_c", "provisional_c"
    )


def line_cogs(shares: pl.LazyFrame) -> pl.LazyFrame:
    """Per line: cogs_c, whether any posting is still provisional, issued quantity, issues."""
    issued = pl.col("movement_id").is_not_null()
    sums = shares.group_by("_line").agg(
        pl.col("share_c").sum().alias("cogs_c"),
        (pl.col("provisional_c") != 0).any().alias("cogs_provisional"),
        *first_and_several("movement_id", "issues", unique=True, keep=issued),
    )
    return with_joined(sums, shares, "_line", "movement_id", "issues", unique=True, keep=issued)


def freight_shares(
    lines: pl.LazyFrame, shipments: pl.LazyFrame, skus: pl.LazyFrame, policy: ProfitPolicy
) -> pl.LazyFrame:
    """_line, order_line_id, order_date, shipment_id, billed, freight_c, disputed_c, bill_lines:
    each parcel over its lines."""
    line_keys = ["_line", "order_line_id", "order_date", "fulfilment_order_id"]
    if policy.freight_basis == "WEIGHT":
        weights = skus.select("sku", kg_to_grams(pl.col("weight_kg")).alias("_grams"))
        targets = (
            lines.select(*line_keys, "sku", "quantity")
            .join(weights, on="sku", how="left")
            .with_columns((pl.col("quantity") * pl.col("_grams").fill_null(0)).alias("_basis"))
        )
    else:
        value = pl.col("gross_c") - pl.col("line_discount_c")
        targets = lines.select(*line_keys, value.alias("_basis"))
    targets = targets.select(*line_keys, "_basis")
    joined = shipments.select(
        "shipment_id",
        pl.col("order_id").alias("fulfilment_order_id"),
        "billed",
        money_to_cents("freight").alias("freight_c"),
        money_to_cents("disputed").alias("disputed_c"),
        "bill_lines",
    ).join(targets, on="fulfilment_order_id", how="inner")
    keys = ["shipment_id"]
    amounts = {"freight_c": "freight_share_c", "disputed_c": "disputed_share_c"}
    shared = allocate_each(joined, amounts, "_basis", keys, ["_line"])
    return shared.select(
        "_line",
        "order_line_id",
        "order_date",
        "shipment_id",
        "billed",
        pl.col("freight_share_c").alias("freight_c"),
        pl.col("disputed_share_c").alias("disputed_c"),
        "bill_lines",
    )


def line_freight(shares: pl.LazyFrame) -> pl.LazyFrame:
    """Per line: freight, its billed part, disputed, parcel counts and provenance."""
    parcel = pl.col("shipment_id").is_not_null()
    billed = pl.col("bill_lines").is_not_null() & (pl.col("bill_lines") != "")
    sums = shares.group_by("_line").agg(
        pl.col("freight_c").sum(),
        pl.col("freight_c").filter(pl.col("billed")).sum().alias("freight_billed_c"),
        pl.col("disputed_c").sum(),
        pl.len().alias("shipment_count"),
        pl.col("billed").sum().alias("billed_count"),
        *first_and_several("shipment_id", "shipments", unique=False, keep=parcel),
        *first_and_several("bill_lines", "bill_lines", unique=False, keep=billed),
    )
    key = "_line"
    listed = with_joined(sums, shares, key, "shipment_id", "shipments", unique=False, keep=parcel)
    return with_joined(listed, shares, key, "bill_lines", "bill_lines", unique=False, keep=billed)
