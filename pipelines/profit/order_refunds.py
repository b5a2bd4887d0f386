"""A refund of an amount on a whole order (no line named), shared over the order's lines.

DOMAIN.md ("Order profitability"): order-level amounts go to the lines pro rata by
cumulative rounding, so they sum exactly. A goodwill or price-adjustment refund of an
amount on the order is one more of them: each line's share, over the lines that carry the
order's amounts (a split parent's: its children's) by the policy's revenue basis, becomes a
refund of that amount on the line, dated and ranked as the order's refund, and is then
taken like any refund of an amount (revenue.py: up to what is left of the line's net
revenue, the excess reported). A refund on an order no line of the run carries is
reported, never dropped.
"""

from __future__ import annotations

import polars as pl

from pipelines.money import cents_to_money, money_to_cents
from pipelines.profit.allocation import allocate


def spread_order_refunds(
    refunds: pl.LazyFrame, pairs: pl.LazyFrame, orders: pl.LazyFrame
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(the refunds of a whole order as refunds of its lines, with the columns of
    `refunds` and each line's share as `amount`; the refunds of an order without lines:
    refund_id, order_line_id, kind, currency, excess_quantity, excess_amount, reason).

    `pairs`: alloc_order_id, _line, order_line_id, _basis (revenue.line_order_pairs)."""
    columns = refunds.collect_schema().names()
    on_order = refunds.filter(pl.col("order_line_id").is_null()).with_columns(
        money_to_cents("amount").alias("_amount_c")
    )
    lines = pairs.rename({"alloc_order_id": "order_id"})
    joined = on_order.drop("order_line_id").join(lines, on="order_id", how="inner")
    shared = allocate(joined, "_amount_c", "_basis", ["refund_id"], ["_line"], "_share_c")
    spread = shared.filter(pl.col("_share_c") != 0).with_columns(
        cents_to_money("_share_c").alias("amount")
    )
    currency = orders.select("order_id", "currency")
    unplaced = (
        on_order.join(lines, on="order_id", how="anti")
        .join(currency, on="order_id", how="left")
        .select(
            "refund_id",
            pl.lit(None, pl.String).alias("order_line_id"),
            "kind",
            "currency",
            pl.lit(None, pl.Int64).alias("excess_quantity"),
            pl.col("amount").alias("excess_amount"),
            pl.format(
                "refunds {} {} on order {}, which has no line to carry it: not reversed",
                pl.col("amount").cast(pl.String),
                pl.col("currency"),
                pl.col("order_id"),
            ).alias("reason"),
        )
    )
    return spread.select(columns), unplaced
