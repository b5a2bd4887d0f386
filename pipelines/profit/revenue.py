"""The revenue side of a line: its own amounts, its share of the order's, less refunds.

DOMAIN.md ("Order profitability"): order-level amounts (discounts by kind, shipping
charged, order-level fees) are allocated to the order's SKU lines pro rata to line amount
(or quantity, by policy) by cumulative rounding, so they sum to the order's figures
exactly; a split order's parent allocates its amounts over its children's lines (a child
allocates its own over its own); a refund of q of a line's Q units reverses q/Q of every
amount on the line. All figures here are integer cents in the order's currency.
"""

from __future__ import annotations

import polars as pl

from pipelines.money import div_half_up, money_to_cents
from pipelines.profit.allocation import allocate
from pipelines.profit.policy import ProfitPolicy

ORDER_AMOUNTS = {
    "promotion_discount": "promotion_c",
    "coupon_discount": "coupon_c",
    "points_discount": "points_c",
    "shipping_charged": "shipping_c",
    "commission_fee": "commission_c",
    "payment_fee": "payment_fee_c",
}
"""Order-level amount (ORDERS column) -> the line column its allocation lands in."""
LINE_COMPONENTS = ("gross_c", "line_discount_c", "line_fee_c", *ORDER_AMOUNTS.values())
"""Every amount on a line, each reversed on its own by a refund."""


def header_amounts(orders: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (order, kind) with a non-zero order-level amount: what must be allocated."""
    return (
        orders.select("order_id", *(money_to_cents(c).alias(c) for c in ORDER_AMOUNTS))
        .unpivot(index="order_id", variable_name="kind", value_name="amount_c")
        .filter(pl.col("amount_c") != 0)
        .rename({"order_id": "alloc_order_id"})
    )


def priced_lines(lines: pl.LazyFrame, orders: pl.LazyFrame) -> pl.LazyFrame:
    """Lines with their order's header fields, root order and own amounts in cents."""
    header = orders.select(
        "order_id",
        "parent_order_id",
        "channel",
        "shop",
        "company",
        "currency",
        pl.col("ordered_at").cast(pl.Date).alias("order_date"),
        pl.col("cancelled_at").is_not_null().alias("cancelled"),
    )
    return lines.join(header, on="order_id", how="inner").with_columns(
        pl.coalesce("fulfilment_order_id", "order_id").alias("fulfilment_order_id"),
        pl.coalesce("parent_order_id", "order_id").alias("root_order_id"),
        (pl.col("quantity") * money_to_cents("unit_price")).alias("gross_c"),
        money_to_cents("line_discount").alias("line_discount_c"),
        money_to_cents(pl.col("line_fee").fill_null(0)).alias("line_fee_c"),
    )


def allocations(lines: pl.LazyFrame, headers: pl.LazyFrame, policy: ProfitPolicy) -> pl.LazyFrame:
    """alloc_order_id, kind, order_line_id, share_c: each header amount over its lines.

    A line carries its root order's amounts (itself, or the parent it was split from) and,
    when it belongs to a split child, its own order's too."""
    basis = (
        pl.col("gross_c") - pl.col("line_discount_c")
        if policy.revenue_basis == "AMOUNT"
        else pl.col("quantity")
    )
    targets = lines.select("order_line_id", "order_id", "root_order_id", basis.alias("_basis"))
    pairs = pl.concat(
        [
            targets.select("order_line_id", "_basis", pl.col("root_order_id").alias("_alloc")),
            targets.filter(pl.col("order_id") != pl.col("root_order_id")).select(
                "order_line_id", "_basis", pl.col("order_id").alias("_alloc")
            ),
        ]
    ).rename({"_alloc": "alloc_order_id"})
    joined = pairs.join(headers, on="alloc_order_id", how="inner")
    shared = allocate(
        joined, "amount_c", "_basis", ["alloc_order_id", "kind"], ["order_line_id"], "share_c"
    )
    return shared.select("alloc_order_id", "kind", "order_line_id", "share_c")


def line_revenue(
    lines: pl.LazyFrame,
    orders: pl.LazyFrame,
    refunds: pl.LazyFrame,
    policy: ProfitPolicy,
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(lines with every component in cents and what refunds reversed, the allocations).

    Component columns (`LINE_COMPONENTS`) hold the amounts before refunds; `<name>_r` the
    part a refund reversed. A cancelled order refunds every line in full."""
    priced = priced_lines(lines, orders)
    shares = allocations(priced, header_amounts(orders), policy)
    per_line = shares.group_by("order_line_id").agg(
        pl.col("share_c").filter(pl.col("kind") == kind).sum().alias(column)
        for kind, column in ORDER_AMOUNTS.items()
    )
    refunded = refunds.group_by("order_line_id").agg(
        pl.col("quantity").sum().alias("_refund_qty"),
        pl.col("kind").unique().sort().str.join(",").alias("_refund_kinds"),
    )
    out = (
        priced.join(per_line, on="order_line_id", how="left")
        .join(refunded, on="order_line_id", how="left")
        .with_columns(pl.col(c).fill_null(0) for c in ORDER_AMOUNTS.values())
        .with_columns(
            refunded_qty=pl.when(pl.col("cancelled"))
            .then(pl.col("quantity"))
            .otherwise(pl.min_horizontal(pl.col("_refund_qty").fill_null(0), pl.col("quantity"))),
            refund_kinds=pl.when(pl.col("cancelled"))
            .then(pl.lit("CANCEL"))
            .otherwise(pl.col("_refund_kinds")),
            over_refunded_qty=(pl.col("_refund_qty").fill_null(0) - pl.col("quantity")).clip(0),
        )
        .with_columns(
            *(
                div_half_up(pl.col(c).cast(pl.Int128) * pl.col("refunded_qty"), pl.col("quantity"))
                .cast(pl.Int64)
                .alias(f"{c}_r")
                for c in LINE_COMPONENTS
            )
        )
        .drop("_refund_qty", "_refund_kinds")
    )
    return out, shares
