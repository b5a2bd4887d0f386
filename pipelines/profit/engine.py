"""Order profitability: contribution margin per order line (DOMAIN.md "Order profitability").

`order_profit(inputs, policy)` is a function of frames: the order centre's orders, lines
and refunds, the COGS postings of the costing engine, the freight per shipment of the
reconciliation, SKU weights, FX rates and companies. Inside, every figure is integer
cents; revenue is converted to the functional currency at the order date's rate component
by component, so each identity below holds exactly in both currencies:

    net_revenue         = gross_revenue − line, promotion, coupon, points discounts − refunded
    refunded            = goods less discounts reversed by refunds of units + refunds of an amount
    contribution_margin = net_revenue + shipping_income − platform_fees − cogs − freight

A line is provisional while a parcel of it is unbilled (expected freight), its COGS is
provisional on a stock shortfall, or it has not been issued yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from pipelines.contracts import types as t
from pipelines.contracts.profit import (
    MARGIN_PCT,
    ORDER_LINE_COGS,
    ORDER_LINE_FREIGHT,
    ORDER_PROFIT,
    ORDER_PROFIT_ORDERS,
    PROFIT_DAILY,
)
from pipelines.fx import attach_fx, functional_cents, int64_is_enough
from pipelines.money import div_half_up, money_to_cents
from pipelines.profit.costs import cogs_shares, freight_shares, line_cogs, line_freight
from pipelines.profit.policy import ENGINE, ProfitPolicy
from pipelines.profit.revenue import (
    GOODS_LESS_DISCOUNTS,
    LINE_COMPONENTS,
    allocation_rows,
    header_amounts,
    line_revenue,
)

POSTINGS_SCHEMA = pl.Schema(
    {
        "movement_id": pl.String(),
        "category": pl.String(),
        "posting_date": pl.Date(),
        "company": pl.String(),
        "fulfilment_order_id": pl.String(),
        "sku": pl.String(),
        "amount": pl.Decimal(18, 2),
        "provisional_open": pl.Decimal(18, 2),
    }
)
"""A COGS posting on the COGS account (ISSUE cost, TRUE_UP, RETURN reversal, signed as a
debit), with the warehouse order and SKU of its issue; `provisional_open`: provisional
cost of a shortfall not trued up yet."""

FIGURES_C = {
    "gross_revenue": "gross_c",
    "line_discount": "line_discount_c",
    "promotion_discount": "promotion_c",
    "coupon_discount": "coupon_c",
    "points_discount": "points_c",
    "refunded": "refunded_c",
    "refunded_amount": "refunded_amount_c",
    "net_revenue": "net_c",
    "shipping_income": "shipping_net_c",
    "commission_fee": "commission_net_c",
    "payment_fee": "payment_fee_net_c",
    "platform_fees": "fees_c",
    "cogs": "cogs_c",
    "freight": "freight_c",
    "freight_billed": "freight_billed_c",
    "freight_disputed": "disputed_c",
    "contribution_margin": "margin_c",
}
"""Output column -> the functional-cents column behind it."""
DISCOUNTS = GOODS_LESS_DISCOUNTS


@dataclass(frozen=True)
class ProfitInputs:
    orders: pl.DataFrame
    order_lines: pl.DataFrame
    refunds: pl.DataFrame
    postings: pl.DataFrame
    shipments: pl.DataFrame
    skus: pl.DataFrame
    fx_rates: pl.DataFrame
    companies: pl.DataFrame


@dataclass
class ProfitResult:
    lines: pl.DataFrame
    """`order_profit`."""
    orders: pl.DataFrame
    """`order_profit_orders`."""
    daily: pl.DataFrame
    """`profit_daily`."""
    line_cogs: pl.DataFrame
    """`order_line_cogs`: every posting's shares."""
    line_freight: pl.DataFrame
    """`order_line_freight`: every shipment's shares."""
    over_refunded: pl.DataFrame
    """Refunds beyond their line (`REFUND_BREAKS_SCHEMA`): units above its quantity, or an
    amount above the net revenue left; the excess is not reversed, `reason` says so."""
    source_orders: pl.DataFrame
    """The orders computed (for `header_amounts`)."""
    shares: pl.DataFrame
    """revenue.allocations: each order's amounts over its lines, one column per amount."""

    @property
    def header_amounts(self) -> pl.DataFrame:
        """alloc_order_id, kind, amount_c: the order-level amounts to allocate. Made on
        demand (for the allocation check), like `allocations`: not every caller wants them."""
        return header_amounts(self.source_orders.lazy()).collect(engine=ENGINE)

    @property
    def allocations(self) -> pl.DataFrame:
        """alloc_order_id, kind, order_line_id, share_c: the non-zero shares."""
        return allocation_rows(self.shares.lazy()).collect(engine=ENGINE)


def order_profit(inputs: ProfitInputs, policy: ProfitPolicy | None = None) -> ProfitResult:
    policy = policy or ProfitPolicy()
    orders = inputs.orders.lazy()
    revenue, shares, beyond = line_revenue(
        inputs.order_lines.lazy(), orders, inputs.refunds.lazy(), policy
    )
    cogs = cogs_shares(revenue.lazy(), inputs.postings.lazy()).collect(engine=ENGINE)
    freight = freight_shares(
        revenue.lazy(), inputs.shipments.lazy(), inputs.skus.lazy(), policy
    ).collect(engine=ENGINE)
    costs = line_cogs(cogs.lazy()).join(
        line_freight(freight.lazy()), on="_line", how="full", coalesce=True
    )
    joined = (
        revenue.lazy()
        .join(costs, on="_line", how="left")
        .with_columns(
            pl.col("cogs_c", "freight_c", "freight_billed_c", "disputed_c").fill_null(0),
            pl.col("shipment_count", "billed_count").fill_null(0),
        )
        .collect(engine=ENGINE)
    )
    fx = attach_fx(joined, inputs.fx_rates, inputs.companies, "order_date")
    joined = joined.with_columns(fx.select("functional_currency", "fx_rate", "_fx_u"))
    lines = _margin(joined).pipe(_statuses).lazy()
    # Sorted once, while the figures are 8-byte cents (the sort's gather is the dearest
    # step of the outputs); an order's lines are then adjacent, in the orders' order.
    in_order = lines.sort("order_date", "order_id", "order_line_id").collect(engine=ENGINE)
    # The five outputs in one collection: Polars computes them side by side.
    tables = pl.collect_all(
        [
            _line_table(in_order.lazy()),
            _order_rollup(in_order.lazy()),
            _daily_rollup(lines),
            # by _line: in order_line_id's order, cheaper to sort
            cogs.lazy()
            .sort("_line", "movement_id", "category", "posting_date")
            .with_columns(money_of("share_c").alias("amount"))
            .select(ORDER_LINE_COGS.column_names)
            .cast(ORDER_LINE_COGS.schema),
            freight.lazy()
            .sort("_line", "shipment_id")
            .with_columns(
                money_of("freight_c").alias("freight"),
                money_of("disputed_c").alias("freight_disputed"),
            )
            .select(ORDER_LINE_FREIGHT.column_names)
            .cast(ORDER_LINE_FREIGHT.schema),
        ],
        engine=ENGINE,
    )
    line_table, order_table, daily, line_cogs_table, line_freight_table = tables
    return ProfitResult(
        lines=line_table,
        orders=order_table,
        daily=daily,
        line_cogs=line_cogs_table,
        line_freight=line_freight_table,
        over_refunded=beyond.sort("order_line_id", "refund_id"),
        source_orders=inputs.orders,
        shares=shares,
    )


def _margin(frame: pl.DataFrame) -> pl.DataFrame:
    """Revenue components net of refunds in functional cents (each converted on its own,
    so the identities hold exactly after conversion), the margin, and the document figures.
    The document-currency component columns are replaced by the functional ones."""
    bound = frame.select(
        pl.max_horizontal(pl.col(*LINE_COMPONENTS, "refund_amount_c").abs().max())
    ).item()
    largest_rate = frame.select(pl.col("_fx_u").max()).item()
    fits = int64_is_enough(bound, largest_rate)

    def f(cents: pl.Expr) -> pl.Expr:
        return functional_cents(cents, fits_int64=fits)

    doc = {c: pl.col(c) for c in LINE_COMPONENTS}
    rev = {c: pl.col(f"{c}_r") for c in LINE_COMPONENTS}
    net = {c: doc[c] - rev[c] for c in LINE_COMPONENTS}
    goods_refunded = rev["gross_c"] - pl.sum_horizontal(*(rev[c] for c in DISCOUNTS))
    amount_refunded = pl.col("refund_amount_c")
    fees_doc = net["commission_c"] + net["line_fee_c"] + net["payment_fee_c"]
    functional = frame.with_columns(
        *(f(doc[c]).alias(f"fn_{c}") for c in ("gross_c", *DISCOUNTS)),
        f(goods_refunded).alias("fn_refunded_units_c"),
        f(amount_refunded).alias("fn_refunded_amount_c"),
        f(net["shipping_c"]).alias("fn_shipping_net_c"),
        f(net["commission_c"] + net["line_fee_c"]).alias("fn_commission_net_c"),
        f(net["payment_fee_c"]).alias("fn_payment_fee_net_c"),
        doc["gross_c"].alias("gross_doc_c"),
        (
            doc["gross_c"]
            - pl.sum_horizontal(*(doc[c] for c in DISCOUNTS))
            - goods_refunded
            - amount_refunded
        ).alias("net_doc_c"),
        net["shipping_c"].alias("shipping_doc_c"),
        fees_doc.alias("fees_doc_c"),
    ).drop(*LINE_COMPONENTS, *(f"{c}_r" for c in LINE_COMPONENTS), "refund_amount_c")
    functional = functional.rename({c: c[3:] for c in functional.columns if c.startswith("fn_")})
    discounts = pl.sum_horizontal(*DISCOUNTS)
    functional = functional.with_columns(
        refunded_c=pl.col("refunded_units_c") + pl.col("refunded_amount_c")
    )
    return functional.with_columns(
        net_c=pl.col("gross_c") - discounts - pl.col("refunded_c"),
        fees_c=pl.col("commission_net_c") + pl.col("payment_fee_net_c"),
    ).with_columns(
        margin_c=pl.col("net_c")
        + pl.col("shipping_net_c")
        - pl.col("fees_c")
        - pl.col("cogs_c")
        - pl.col("freight_c"),
    )


def margin_pct(margin: pl.Expr, revenue: pl.Expr) -> pl.Expr:
    """margin / revenue in %, 4 places, half away from zero; null when revenue is 0.

    In Int128 (a margin above ~9.2e12 cents would overflow Int64 once scaled by 10^6), and
    turned into the decimal by multiplying its units by 0.0001 (exact), cheaper than a
    128-bit division per row."""
    magnitude = div_half_up(margin.abs().cast(pl.Int128) * 1_000_000, revenue.abs()).cast(pl.Int64)
    signed = pl.when((margin < 0) != (revenue < 0)).then(-magnitude).otherwise(magnitude)
    units = pl.when(revenue != 0).then(signed)
    return (units.cast(pl.Decimal(38, 0)) * pl.lit(Decimal("0.0001"), pl.Decimal(38, 4))).cast(
        MARGIN_PCT
    )


def money_of(cents: str | pl.Expr) -> pl.Expr:
    """Integer cents as MONEY, exactly: cents × 0.01 (a multiplication, not the 128-bit
    division of money.cents_to_money; same values)."""
    expr = pl.col(cents) if isinstance(cents, str) else cents
    return (expr.cast(pl.Decimal(38, 0)) * pl.lit(Decimal("0.01"), pl.Decimal(38, 2))).cast(t.MONEY)


def _statuses(frame: pl.DataFrame) -> pl.DataFrame:
    has_cogs = pl.col("issues").is_not_null()
    no_cogs_reason = (
        pl.when(has_cogs)
        .then(None)
        .when(pl.col("cancelled") | (pl.col("refund_kinds") == "CANCEL"))
        .then(pl.lit("CANCELLED"))
        .when(pl.col("refunded_qty") == pl.col("quantity"))
        .then(pl.lit("REFUNDED_IN_FULL"))
        .otherwise(pl.lit("NOT_ISSUED"))
    )
    freight_status = (
        pl.when(pl.col("shipment_count") == 0)
        .then(pl.lit("NO_SHIPMENT"))
        .when(pl.col("billed_count") == pl.col("shipment_count"))
        .then(pl.lit("BILLED"))
        .when(pl.col("billed_count") == 0)
        .then(pl.lit("EXPECTED"))
        .otherwise(pl.lit("PARTLY_BILLED"))
    )
    frame = frame.with_columns(
        cogs_status=pl.when(~has_cogs)
        .then(pl.lit("NONE"))
        .when(pl.col("cogs_provisional"))
        .then(pl.lit("PROVISIONAL"))
        .otherwise(pl.lit("FINAL")),
        cogs_reason=no_cogs_reason,
        freight_status=freight_status,
    )
    reasons = pl.concat_str(
        pl.when(pl.col("freight_status") == "EXPECTED").then(pl.lit("FREIGHT_EXPECTED")),
        pl.when(pl.col("freight_status") == "PARTLY_BILLED").then(pl.lit("FREIGHT_PARTLY_BILLED")),
        pl.when(pl.col("cogs_status") == "PROVISIONAL").then(pl.lit("COGS_PROVISIONAL")),
        pl.when(pl.col("cogs_reason") == "NOT_ISSUED").then(pl.lit("NOT_ISSUED")),
        separator=",",
        ignore_nulls=True,
    )
    return frame.with_columns(
        provisional_reasons=pl.when(reasons != "").then(reasons),
        status=pl.when(reasons != "").then(pl.lit("PROVISIONAL")).otherwise(pl.lit("FINAL")),
    )


def _money_figures() -> list[pl.Expr]:
    return [money_of(cents).alias(name) for name, cents in FIGURES_C.items()]


def _line_table(in_order: pl.LazyFrame) -> pl.LazyFrame:
    return (
        in_order.with_columns(
            *_money_figures(),
            margin_pct(pl.col("margin_c"), pl.col("net_c") + pl.col("shipping_net_c")).alias(
                "margin_pct"
            ),
            money_of("gross_doc_c").alias("gross_revenue_doc"),
            money_of("net_doc_c").alias("net_revenue_doc"),
            money_of("shipping_doc_c").alias("shipping_income_doc"),
            money_of("fees_doc_c").alias("platform_fees_doc"),
        )
        .select(ORDER_PROFIT.column_names)
        .cast(ORDER_PROFIT.schema)
    )


def _sums() -> list[pl.Expr]:
    return [pl.col(c).sum() for c in FIGURES_C.values()]


def _order_rollup(in_order: pl.LazyFrame) -> pl.LazyFrame:
    """Per order, from the lines sorted by day and order: an order's lines are adjacent,
    so an integer run id groups them, in order (no hashing of the order id, no sort); its
    day, company, channel, shop, parent and functional currency are those of its lines."""
    attributes = ["order_date", "company", "channel", "shop", "parent_order_id"]
    costs = {
        "COGS": pl.col("cogs_c"),
        "FREIGHT": pl.col("freight_c"),
        "PLATFORM_FEES": pl.col("fees_c"),
        "DISCOUNTS": pl.sum_horizontal(*DISCOUNTS),
    }
    largest = pl.max_horizontal(*costs.values())
    driver = pl.lit("COGS")
    for name in reversed(list(costs)):
        driver = pl.when(costs[name] == largest).then(pl.lit(name)).otherwise(driver)
    return (
        in_order.with_columns(_run=pl.col("order_id").rle_id())
        .group_by("_run", maintain_order=True)
        .agg(
            pl.col("order_id", *attributes, "functional_currency").first(),
            pl.len().alias("line_count"),
            *_sums(),
            (pl.col("status") == "PROVISIONAL").any().alias("_provisional"),
        )
        .with_columns(
            *_money_figures(),
            margin_pct(pl.col("margin_c"), pl.col("net_c") + pl.col("shipping_net_c")).alias(
                "margin_pct"
            ),
            driver.alias("largest_cost"),
            status=pl.when("_provisional").then(pl.lit("PROVISIONAL")).otherwise(pl.lit("FINAL")),
        )
        .select(ORDER_PROFIT_ORDERS.column_names)
        .cast(ORDER_PROFIT_ORDERS.schema)
    )


def _daily_rollup(lines: pl.LazyFrame) -> pl.LazyFrame:
    keys = ["order_date", "company", "channel", "sku", "functional_currency"]
    return (
        lines.group_by(keys)
        .agg(
            pl.len().alias("line_count"),
            pl.col("quantity").sum(),
            *_sums(),
            (pl.col("margin_c") < 0).sum().alias("negative_margin_lines"),
            (pl.col("status") == "PROVISIONAL").sum().alias("provisional_lines"),
        )
        .sort("order_date", "company", "channel", "sku")
        .with_columns(
            *_money_figures(),
            margin_pct(pl.col("margin_c"), pl.col("net_c") + pl.col("shipping_net_c")).alias(
                "margin_pct"
            ),
        )
        .select(PROFIT_DAILY.column_names)
        .cast(PROFIT_DAILY.schema)
    )


def merge_daily(dailies: list[pl.DataFrame]) -> pl.DataFrame:
    """`profit_daily` rows of several results (chunks of order days) as one result's: a
    day's lines can sit in two chunks (a cluster anchored the day before), so the rows of
    one key are added up and their margin % taken again from the sums."""
    keys = ["order_date", "company", "channel", "sku", "functional_currency"]
    counts = ["line_count", "quantity", "negative_margin_lines", "provisional_lines"]
    summed = pl.concat(dailies).group_by(keys).agg(pl.col(*counts, *FIGURES_C).sum())
    margin = money_to_cents("contribution_margin")
    revenue = money_to_cents("net_revenue") + money_to_cents("shipping_income")
    return (
        summed.with_columns(margin_pct(margin, revenue).alias("margin_pct"))
        .select(PROFIT_DAILY.column_names)
        .cast(PROFIT_DAILY.schema)
        .sort("order_date", "company", "channel", "sku")
    )
