"""The order centre's daily extracts: orders, their lines, and refunds (issue 5/6 item 1).

The revenue side of order profitability (DOMAIN.md, "Order profitability"): what the
customer was charged and what was given back. An order's paid amount is its lines' goods
amount + shipping charged - its discounts (promotion + coupon + points); order-level
amounts are allocated to its lines by pipelines/profit. Headers and lines arrive in the
same day's files (the load day); a line without its header in the warehouse is
quarantined. Refunds arrive on the day they are made and name the line they refund (units
of it, or an amount of money, goods kept) or, for an amount, the whole order.
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts import types as t
from pipelines.contracts.spec import Column, ForeignKey, RowRule, TableContract

REFUND_KINDS = ("CANCEL", "REFUND", "RETURN")
"""CANCEL: the line was cancelled before it shipped; REFUND: money back, goods kept (a
partial refund, a lost parcel; of units, or of an amount: a goodwill or price adjustment);
RETURN: money back for goods sent back (the RETURN movement reverses the COGS)."""

_MONEY_NOTE = "In the order's `currency`."

ORDERS = TableContract(
    name="orders",
    description="Order headers: who sold, where, in which currency, and the order-level amounts.",
    columns=(
        Column("order_id", t.ID),
        Column(
            "parent_order_id",
            t.ID,
            required=False,
            description=(
                "A split order (拆单): the order it was split from. The parent's order-level "
                "amounts are allocated over its children's lines; one level only."
            ),
        ),
        Column("channel", t.CODE, description="Marketplace or own site (AMAZON, OWN_SITE, ...)."),
        Column("shop", t.ID),
        Column("company", t.ID),
        Column("currency", t.CODE, description="ISO 4217 code of every amount of the order."),
        Column("buyer_id", t.ID, required=False),
        Column("ordered_at", t.TIMESTAMP, description="Dates the order (and its FX rate)."),
        Column("paid_at", t.TIMESTAMP, required=False),
        Column("cancelled_at", t.TIMESTAMP, required=False, description="Whole order cancelled."),
        Column("shipping_charged", t.MONEY, non_negative=True, description=_MONEY_NOTE),
        Column("promotion_discount", t.MONEY, non_negative=True, description="Order-level."),
        Column("coupon_discount", t.MONEY, non_negative=True, description="Order-level."),
        Column(
            "points_discount",
            t.MONEY,
            non_negative=True,
            description="Points or virtual currency redeemed.",
        ),
        Column("commission_fee", t.MONEY, non_negative=True, description="Platform, per order."),
        Column("payment_fee", t.MONEY, non_negative=True, description="Payment provider."),
    ),
    key=("order_id",),
    provenance=True,
    partition_column="ordered_at",
    daily=True,
    foreign_keys=(ForeignKey(("company",), "companies", ("company",)),),
    rules=(
        RowRule(
            "parent_order_id",
            pl.col("parent_order_id") == pl.col("order_id"),
            "an order cannot be its own parent",
        ),
        RowRule(
            "cancelled_at",
            pl.col("cancelled_at") < pl.col("ordered_at"),
            "cancelled before it was ordered",
        ),
    ),
)

ORDER_LINES = TableContract(
    name="order_lines",
    description="Order lines: one SKU, quantity and price each, with its own discount and fee.",
    columns=(
        Column("order_line_id", t.ID),
        Column("order_id", t.ID),
        Column(
            "fulfilment_order_id",
            t.ID,
            required=False,
            description=(
                "The warehouse order the line is issued and shipped under: `movements.reference` "
                "of its ISSUEs and `shipments.order_id` of its parcels. Null: `order_id`. Orders "
                "of one buyer merged into one parcel (合并发货) share it."
            ),
        ),
        Column("sku", t.ID),
        Column("quantity", t.QUANTITY, positive=True),
        Column("unit_price", t.MONEY, non_negative=True, description=_MONEY_NOTE),
        Column("line_discount", t.MONEY, non_negative=True, description="On this line only."),
        Column(
            "line_fee",
            t.MONEY,
            required=False,
            non_negative=True,
            description="Platform fee charged on this line (per-line commission).",
        ),
    ),
    key=("order_line_id",),
    provenance=True,
    daily=True,
    foreign_keys=(
        ForeignKey(("order_id",), "orders", ("order_id",)),
        ForeignKey(("sku",), "skus", ("sku",)),
    ),
    rules=(
        RowRule(
            "line_discount",
            pl.col("line_discount") > pl.col("unit_price") * pl.col("quantity"),
            "a line discount above the line's goods amount",
        ),
    ),
    notes=("Loaded after `orders` of the same day: its header must already be loaded.",),
)

ORDER_REFUNDS = TableContract(
    name="order_refunds",
    description=(
        "Refunds, returns and cancellations of order lines: of units, or (a REFUND with the "
        "goods kept) of an amount."
    ),
    columns=(
        Column("refund_id", t.ID),
        Column("refunded_at", t.TIMESTAMP),
        Column(
            "order_line_id",
            t.ID,
            required=False,
            description="The line refunded; null for a refund of an amount on a whole order.",
        ),
        Column("kind", t.CODE, enum=REFUND_KINDS),
        Column(
            "quantity",
            t.QUANTITY,
            required=False,
            positive=True,
            description=(
                "Units refunded: that share of every amount allocated to the line is reversed."
            ),
        ),
        Column(
            "amount",
            t.MONEY,
            required=False,
            positive=True,
            description=(
                "Money refunded with the goods kept (a goodwill or price-adjustment REFUND), in "
                "the order's `currency`: it reduces the line's net revenue, up to what is left "
                "of it after the line's refunds of units."
            ),
        ),
        Column(
            "order_id",
            t.ID,
            required=False,
            description=(
                "A refund of an amount on the whole order (no line named): allocated to the "
                "order's lines (a split parent's: its children's) pro rata to the revenue "
                "basis by cumulative rounding, each share then taken like a line's."
            ),
        ),
    ),
    key=("refund_id",),
    provenance=True,
    partition_column="refunded_at",
    daily=True,
    foreign_keys=(
        ForeignKey(("order_line_id",), "order_lines", ("order_line_id",)),
        ForeignKey(("order_id",), "orders", ("order_id",)),
    ),
    rules=(
        RowRule(
            "order_line_id",
            pl.col("order_line_id").is_null() == pl.col("order_id").is_null(),
            "a refund names exactly one of order_line_id (a line) and order_id (a whole order)",
        ),
        RowRule(
            "order_id",
            pl.col("order_id").is_not_null() & pl.col("quantity").is_not_null(),
            "a refund of a whole order is of an amount: units are refunded on their line",
        ),
        RowRule(
            "quantity",
            pl.col("quantity").is_null() == pl.col("amount").is_null(),
            "a refund has exactly one of quantity (units) and amount (money, goods kept)",
        ),
        RowRule(
            "amount",
            pl.col("amount").is_not_null() & (pl.col("kind") != "REFUND"),
            "a refund of an amount keeps the goods: its kind is REFUND, not CANCEL or RETURN",
        ),
    ),
)

ORDER_TABLES = (ORDERS, ORDER_LINES, ORDER_REFUNDS)
"""In load order: a line needs its header, a refund its line (or its order)."""
