"""The revenue side of a line: its own amounts, its share of the order's, less refunds.

DOMAIN.md ("Order profitability"): order-level amounts (discounts by kind, shipping
charged, order-level fees) are allocated to the order's SKU lines pro rata to line amount
(or quantity, by policy) by cumulative rounding, so they sum to the order's figures
exactly; a split order's parent allocates its amounts over its children's lines (a child
allocates its own over its own); a refund of q of a line's Q units reverses q/Q of every
amount on the line; a refund of an amount (goods kept) reduces the line's net revenue only,
up to what its refunds of units left of it. All figures here are integer cents in the
order's currency.
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts import types as t
from pipelines.money import cents_to_money, div_half_up, money_to_cents
from pipelines.profit.allocation import allocate_each
from pipelines.profit.order_refunds import spread_order_refunds
from pipelines.profit.policy import ENGINE, ProfitPolicy

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
"""Every amount on a line, each reversed on its own by a refund of units."""
GOODS_LESS_DISCOUNTS = ("line_discount_c", "promotion_c", "coupon_c", "points_c")
"""What a line's goods amount is net of: its net revenue is gross_c less these."""
REFUND_BREAKS_SCHEMA = pl.Schema(
    {
        "refund_id": pl.String(),
        "order_line_id": pl.String(),
        "kind": pl.String(),
        "currency": pl.String(),
        "excess_quantity": pl.Int64(),
        "excess_amount": t.MONEY,
        "reason": pl.String(),
    }
)
"""A refund that goes beyond its line, and by how much (units, or money in the order's
currency): the excess is not reversed, and `reason` says why."""


def header_amounts(orders: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (order, kind) with a non-zero order-level amount: what must be allocated."""
    return (
        orders.select("order_id", *(money_to_cents(c).alias(c) for c in ORDER_AMOUNTS))
        .unpivot(index="order_id", variable_name="kind", value_name="amount_c")
        .filter(pl.col("amount_c") != 0)
        .rename({"order_id": "alloc_order_id"})
    )


def priced_lines(lines: pl.LazyFrame, orders: pl.LazyFrame) -> pl.LazyFrame:
    """Lines with their order's header fields, root order and own amounts in cents, and
    `_line`: the line's rank by order_line_id, an integer key for the per-line joins and
    aggregations (cheaper to hash than the id) that ranks lines as their ids do."""
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
    return (
        lines.join(header, on="order_id", how="inner")
        .with_columns(
            pl.coalesce("fulfilment_order_id", "order_id").alias("fulfilment_order_id"),
            pl.coalesce("parent_order_id", "order_id").alias("root_order_id"),
            (pl.col("quantity") * money_to_cents("unit_price")).alias("gross_c"),
            money_to_cents("line_discount").alias("line_discount_c"),
            money_to_cents(pl.col("line_fee").fill_null(0)).alias("line_fee_c"),
        )
        .sort("order_line_id")
        .with_row_index("_line")
    )


def line_order_pairs(lines: pl.LazyFrame, policy: ProfitPolicy) -> pl.LazyFrame:
    """alloc_order_id, _line, order_line_id, _basis: each line with each order whose
    order-level amounts it carries, weighed by the policy's revenue basis.

    A line carries its root order's amounts (itself, or the parent it was split from) and,
    when it belongs to a split child, its own order's too."""
    basis = (
        pl.col("gross_c") - pl.col("line_discount_c")
        if policy.revenue_basis == "AMOUNT"
        else pl.col("quantity")
    )
    targets = lines.select(
        "_line", "order_line_id", "order_id", "root_order_id", basis.alias("_basis")
    )
    return pl.concat(
        [
            targets.select(
                pl.col("root_order_id").alias("alloc_order_id"), "_line", "order_line_id", "_basis"
            ),
            targets.filter(pl.col("order_id") != pl.col("root_order_id")).select(
                pl.col("order_id").alias("alloc_order_id"), "_line", "order_line_id", "_basis"
            ),
        ]
    )


def allocations(pairs: pl.LazyFrame, orders: pl.LazyFrame) -> pl.LazyFrame:
    """alloc_order_id, order_line_id and, per `ORDER_AMOUNTS` column, the line's share of
    that order's amount: every order-level amount over the lines it is allocated to
    (`line_order_pairs`). The six amounts of an order share its lines' ranking and running
    basis (`allocate_each`)."""
    columns = list(ORDER_AMOUNTS.values())
    amounts = orders.select(
        pl.col("order_id").alias("alloc_order_id"),
        *(money_to_cents(c).alias(column) for c, column in ORDER_AMOUNTS.items()),
    ).filter(pl.any_horizontal(pl.col(c) != 0 for c in columns))
    joined = pairs.join(amounts, on="alloc_order_id", how="inner")
    shared = allocate_each(joined, {c: c for c in columns}, "_basis", ["alloc_order_id"], ["_line"])
    return shared.select("alloc_order_id", "_line", "order_line_id", *columns)


def allocation_rows(shares: pl.LazyFrame) -> pl.LazyFrame:
    """alloc_order_id, kind, order_line_id, share_c: the non-zero shares of `allocations`
    one per row, `kind` the ORDERS column of the amount (what `header_amounts` names)."""
    kinds = {column: kind for kind, column in ORDER_AMOUNTS.items()}
    return (
        shares.drop("_line")
        .rename(kinds)
        .unpivot(
            index=["alloc_order_id", "order_line_id"], variable_name="kind", value_name="share_c"
        )
        .filter(pl.col("share_c") != 0)
        .select("alloc_order_id", "kind", "order_line_id", "share_c")
    )


def line_revenue(
    lines: pl.LazyFrame,
    orders: pl.LazyFrame,
    refunds: pl.LazyFrame,
    policy: ProfitPolicy,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(lines with every component in cents and what refunds reversed, the allocations
    (`allocations`, wide), the refunds beyond their line: `REFUND_BREAKS_SCHEMA`).

    Component columns (`LINE_COMPONENTS`) hold the amounts before refunds; `<name>_r` the
    part refunds of units reversed; `refund_amount_c` what refunds of an amount took back.
    A cancelled order refunds every line in full. Refunds of units come first (each reverses
    its share of the line's original amounts); refunds of an amount then take, in the order
    they were made, what is left of the line's net revenue; neither goes beyond the line,
    and what would is reported (the third frame), never reversed. A refund of an amount on
    a whole order is first shared over its lines (`spread_order_refunds`).

    Collected step by step: the priced lines and the allocations each feed several frames,
    and Polars would otherwise compute them once per frame."""
    priced = priced_lines(lines, orders).collect(engine=ENGINE).lazy()
    pairs = line_order_pairs(priced, policy).collect(engine=ENGINE).lazy()
    shares = allocations(pairs, orders).collect(engine=ENGINE).lazy()
    spread, unplaced = spread_order_refunds(refunds, pairs, orders)
    refunds = (
        pl.concat([refunds.filter(pl.col("order_line_id").is_not_null()), spread])
        .collect(engine=ENGINE)
        .lazy()
    )
    columns = list(ORDER_AMOUNTS.values())
    per_line = shares.group_by("_line").agg(pl.col(columns).sum())
    line_qty = priced.select("order_line_id", "currency", pl.col("quantity").alias("_room"))
    units = (
        _within(
            refunds.filter(pl.col("quantity").is_not_null()).join(line_qty, on="order_line_id"),
            "quantity",
        )
        .collect(engine=ENGINE)
        .lazy()
    )
    allocated = priced.join(per_line, on="_line", how="left").with_columns(
        pl.col(columns).fill_null(0)
    )
    # Refunds touch few lines: the others reverse nothing, and are left out of the joins.
    refunded_ids = refunds.select("order_line_id").unique().collect(engine=ENGINE)
    touched = pl.col("cancelled") | pl.col("order_line_id").is_in(
        refunded_ids["order_line_id"].implode()
    )
    out = _units_reversed(allocated.filter(touched), units, refunds)
    out = out.collect(engine=ENGINE).lazy()
    amounts, taken = _amounts_taken(out, refunds)
    out = out.join(taken, on="order_line_id", how="left").with_columns(
        pl.col("refund_amount_c").fill_null(0)
    )
    untouched = allocated.filter(~touched).with_columns(
        pl.lit(0, pl.Int64).alias("refunded_qty"),
        pl.lit(None, pl.String).alias("refund_kinds"),
        *(pl.lit(0, pl.Int64).alias(f"{c}_r") for c in LINE_COMPONENTS),
        pl.lit(0, pl.Int64).alias("refund_amount_c"),
    )
    out = pl.concat([untouched, out], how="diagonal")
    typed = [pl.col(c).cast(d) for c, d in REFUND_BREAKS_SCHEMA.items()]
    breaks = pl.concat([_refund_breaks(units, amounts), unplaced.select(typed)])
    revenue, beyond = pl.collect_all([out, breaks], engine=ENGINE)
    return revenue, shares.collect(engine=ENGINE), beyond


def _units_reversed(
    lines: pl.LazyFrame, units: pl.LazyFrame, refunds: pl.LazyFrame
) -> pl.LazyFrame:
    """`lines` (with their allocated amounts) with the units refunded (all of them when the
    order is cancelled), the refund kinds, and `<component>_r`: each component's share of
    the refunded units, rounded half-up."""
    refunded = units.group_by("order_line_id").agg(pl.col("quantity").sum().alias("_refund_qty"))
    kinds = refunds.group_by("order_line_id").agg(
        pl.col("kind").unique().sort().str.join(",").alias("_refund_kinds")
    )
    return (
        lines.join(refunded, on="order_line_id", how="left")
        .join(kinds, on="order_line_id", how="left")
        .with_columns(
            refunded_qty=pl.when(pl.col("cancelled"))
            .then(pl.col("quantity"))
            .otherwise(pl.min_horizontal(pl.col("_refund_qty").fill_null(0), pl.col("quantity"))),
            refund_kinds=pl.when(pl.col("cancelled"))
            .then(pl.lit("CANCEL"))
            .otherwise(pl.col("_refund_kinds")),
        )
        .drop("_refund_qty", "_refund_kinds")
        .with_columns(
            div_half_up(pl.col(c).cast(pl.Int128) * pl.col("refunded_qty"), pl.col("quantity"))
            .cast(pl.Int64)
            .alias(f"{c}_r")
            for c in LINE_COMPONENTS
        )
    )


def _amounts_taken(lines: pl.LazyFrame, refunds: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(each refund of an amount with its `_applied` part, `refund_amount_c` per line): the
    amounts take, in the order they were made, what refunds of units left of the line's net
    revenue."""
    net_left = (
        pl.col("gross_c")
        - pl.col("gross_c_r")
        - pl.sum_horizontal(pl.col(c) - pl.col(f"{c}_r") for c in GOODS_LESS_DISCOUNTS)
    )
    left = lines.select("order_line_id", "currency", net_left.alias("_room"))
    amounts = _within(
        refunds.filter(pl.col("amount").is_not_null())
        .with_columns(money_to_cents("amount").alias("_amount_c"))
        .join(left, on="order_line_id"),
        "_amount_c",
    )
    taken = amounts.group_by("order_line_id").agg(pl.col("_applied").sum().alias("refund_amount_c"))
    return amounts, taken


def _within(refunds: pl.LazyFrame, value: str) -> pl.LazyFrame:
    """Each refund's `_applied` part of `value`: what fits in its line's `_room` after the
    line's earlier refunds (by refunded_at, refund_id), set-based: with C_i the running sum,
    min(C_i, room) − min(C_{i−1}, room). `_room_before`: the room the refund found."""
    ranked = refunds.sort("order_line_id", "refunded_at", "refund_id")
    running = pl.col(value).cum_sum().over("order_line_id")
    room = pl.col("_room").clip(lower_bound=0)
    before = pl.min_horizontal(running - pl.col(value), room)
    return ranked.with_columns(
        _applied=pl.min_horizontal(running, room) - before, _room_before=room - before
    )


def _refund_breaks(units: pl.LazyFrame, amounts: pl.LazyFrame) -> pl.LazyFrame:
    """The refunds whose value did not all fit in their line, with by how much and why."""
    excess_units = pl.col("quantity") - pl.col("_applied")
    by_units = units.filter(excess_units > 0).select(
        "refund_id",
        "order_line_id",
        "kind",
        "currency",
        excess_units.alias("excess_quantity"),
        pl.lit(None, t.MONEY).alias("excess_amount"),
        pl.format(
            "refunds {} unit(s) where {} of the line's {} are left: {} not reversed",
            "quantity",
            "_room_before",
            "_room",
            excess_units,
        ).alias("reason"),
    )
    excess_c = pl.col("_amount_c") - pl.col("_applied")

    def shown(cents: pl.Expr) -> pl.Expr:
        return pl.format("{} {}", cents_to_money(cents).cast(pl.String), pl.col("currency"))

    by_amount = amounts.filter(excess_c > 0).select(
        "refund_id",
        "order_line_id",
        "kind",
        "currency",
        pl.lit(None, t.QUANTITY).alias("excess_quantity"),
        cents_to_money(excess_c).alias("excess_amount"),
        pl.format(
            "refunds {} where {} of the line's net revenue is left (after its refunds of units "
            "and earlier refunds of an amount): {} not reversed",
            shown(pl.col("_amount_c")),
            shown(pl.col("_room_before")),
            shown(excess_c),
        ).alias("reason"),
    )
    return pl.concat([by_units, by_amount]).select(
        pl.col(c).cast(d) for c, d in REFUND_BREAKS_SCHEMA.items()
    )
