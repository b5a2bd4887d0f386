"""Output tables of order profitability (issue 5/6, DOMAIN.md "Order profitability").

Every money column without a suffix is in the company's functional currency (converted
at the FX rate of the order date for revenue; COGS is the costing engine's, freight the
reconciliation's, both functional already); `_doc` columns keep the order's own currency.
Rows are placed on the day of their order (`order_date`), so rerunning a day replaces
exactly its orders' rows.
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts import types as t
from pipelines.contracts.spec import Column, TableContract

MARGIN_PCT = pl.Decimal(18, 4)
"""Margin in % of net revenue plus shipping income (a loss can be many times the revenue)."""
FREIGHT_STATUSES = ("BILLED", "PARTLY_BILLED", "EXPECTED", "NO_SHIPMENT")
COGS_STATUSES = ("FINAL", "PROVISIONAL", "NONE")
COGS_REASONS = ("CANCELLED", "REFUNDED_IN_FULL", "NOT_ISSUED")
"""Why a line has no COGS: only NOT_ISSUED on a shipped line is a check failure."""
LINE_STATUSES = ("FINAL", "PROVISIONAL")
COST_DRIVERS = ("COGS", "FREIGHT", "PLATFORM_FEES", "DISCOUNTS")

_IDENTITY = (
    Column("order_date", t.DATE, description="Day of `ordered_at`: the partition."),
    Column("company", t.ID),
    Column("channel", t.CODE),
    Column("shop", t.ID),
    Column("order_id", t.ID),
    Column("parent_order_id", t.ID, required=False),
)

_FIGURES = (
    Column("gross_revenue", t.MONEY, description="quantity × unit price."),
    Column("line_discount", t.MONEY),
    Column("promotion_discount", t.MONEY, description="Allocated from the order (and parent)."),
    Column("coupon_discount", t.MONEY),
    Column("points_discount", t.MONEY),
    Column(
        "refunded",
        t.MONEY,
        description="Goods less discounts reversed by refunds of units, and refunds of an amount.",
    ),
    Column("net_revenue", t.MONEY, description="gross − discounts − refunded."),
    Column("shipping_income", t.MONEY, description="Shipping charged, allocated, net of refunds."),
    Column("commission_fee", t.MONEY, description="Order-level commission allocated + line fee."),
    Column("payment_fee", t.MONEY),
    Column("platform_fees", t.MONEY, description="commission_fee + payment_fee."),
    Column("cogs", t.MONEY, description="FIFO COGS of the line's issues less its returns."),
    Column("freight", t.MONEY, description="Approved where billed, expected where not."),
    Column("freight_billed", t.MONEY, description="The part of freight from billed parcels."),
    Column("freight_disputed", t.MONEY, description="Disputed with the carrier: not in freight."),
    Column(
        "contribution_margin",
        t.MONEY,
        description="net_revenue + shipping_income − platform_fees − cogs − freight.",
    ),
    Column("margin_pct", MARGIN_PCT, required=False, description="Null when revenue is 0."),
)

_REFUNDED_AMOUNT = Column(
    "refunded_amount",
    t.MONEY,
    non_negative=True,
    description="Of `refunded`: what refunds of an amount (goods kept) took back.",
)

ORDER_PROFIT = TableContract(
    name="order_profit",
    description="Contribution margin per order line, with its provenance and what is provisional.",
    columns=(
        *_IDENTITY,
        Column("order_line_id", t.ID),
        Column("fulfilment_order_id", t.ID),
        Column("sku", t.ID),
        Column("quantity", t.QUANTITY, positive=True),
        Column("refunded_qty", t.QUANTITY, non_negative=True),
        _REFUNDED_AMOUNT,
        Column("currency", t.CODE, description="The order's currency."),
        Column("functional_currency", t.CODE),
        Column("fx_rate", t.FX_RATE, description="Of the order date."),
        Column("gross_revenue_doc", t.MONEY),
        Column("net_revenue_doc", t.MONEY),
        Column("shipping_income_doc", t.MONEY),
        Column("platform_fees_doc", t.MONEY),
        *_FIGURES,
        Column("cogs_status", t.CODE, enum=COGS_STATUSES),
        Column("cogs_reason", t.CODE, required=False, enum=COGS_REASONS),
        Column("freight_status", t.CODE, enum=FREIGHT_STATUSES),
        Column("status", t.CODE, enum=LINE_STATUSES),
        Column(
            "provisional_reasons",
            t.TEXT,
            required=False,
            description="Freight not (all) billed, COGS provisional on a shortfall, not issued.",
        ),
        Column("issues", t.TEXT, required=False, description="ISSUE/RETURN movement ids."),
        Column("shipments", t.TEXT, required=False),
        Column("bill_lines", t.TEXT, required=False, description="bill_number#line_number."),
    ),
    key=("order_line_id",),
    exported=True,
    partition_column="order_date",
)

ORDER_PROFIT_ORDERS = TableContract(
    name="order_profit_orders",
    description="order_profit rolled up per order; negative margins name the cost that drove it.",
    columns=(
        *_IDENTITY,
        Column("functional_currency", t.CODE),
        Column("line_count", t.QUANTITY, positive=True),
        *_FIGURES,
        _REFUNDED_AMOUNT,
        Column("status", t.CODE, enum=LINE_STATUSES),
        Column(
            "largest_cost",
            t.CODE,
            enum=COST_DRIVERS,
            description="The largest of COGS, freight, platform fees and discounts.",
        ),
    ),
    key=("order_id",),
    exported=True,
    partition_column="order_date",
)

PROFIT_DAILY = TableContract(
    name="profit_daily",
    description="order_profit per order day, company, channel and SKU.",
    columns=(
        Column("order_date", t.DATE),
        Column("company", t.ID),
        Column("channel", t.CODE),
        Column("sku", t.ID),
        Column("functional_currency", t.CODE),
        Column("line_count", t.QUANTITY, positive=True),
        Column("quantity", t.QUANTITY),
        *_FIGURES,
        _REFUNDED_AMOUNT,
        Column("negative_margin_lines", t.QUANTITY, non_negative=True),
        Column("provisional_lines", t.QUANTITY, non_negative=True),
    ),
    key=("order_date", "company", "channel", "sku"),
    exported=True,
    partition_column="order_date",
)

ORDER_LINE_COGS = TableContract(
    name="order_line_cogs",
    description=(
        "Traceability: each COGS posting (ISSUE cost, its TRUE_UP, a RETURN's reversal) "
        "and the share of it on each order line; costing_consumption has the layers."
    ),
    columns=(
        Column("order_date", t.DATE),
        Column("order_line_id", t.ID),
        Column("movement_id", t.ID),
        Column("category", t.CODE, enum=("ISSUE", "TRUE_UP", "RETURN")),
        Column("posting_date", t.DATE),
        Column("company", t.ID),
        Column("amount", t.MONEY),
    ),
    key=("order_line_id", "movement_id", "category", "posting_date"),
    partition_column="order_date",
)

ORDER_LINE_FREIGHT = TableContract(
    name="order_line_freight",
    description="Each shipment's freight and disputed amount, and the share on each line.",
    columns=(
        Column("order_date", t.DATE),
        Column("order_line_id", t.ID),
        Column("shipment_id", t.ID),
        Column("billed", pl.Boolean),
        Column("freight", t.MONEY),
        Column("freight_disputed", t.MONEY),
    ),
    key=("order_line_id", "shipment_id"),
    partition_column="order_date",
)

PROFIT_INPUTS = TableContract(
    name="profit_inputs",
    description=(
        "What each order day's profit was computed from, as fingerprints: a day whose "
        "inputs now fingerprint differently (a costing restatement, a re-priced parcel, a "
        "corrected order) is recomputed by the next profit run, whatever days it is asked for."
    ),
    columns=(
        Column("order_date", t.DATE, description="The order day (also one with no orders)."),
        Column(
            "orders_hash",
            t.CODE,
            description="Its orders, their parents, their lines and the lines' refunds.",
        ),
        Column(
            "cogs_hash",
            t.CODE,
            description="The COGS postings of its lines' issues and returns, and what of "
            "their cost is still provisional.",
        ),
        Column(
            "freight_hash",
            t.CODE,
            description="Its warehouse orders' parcels: expected price, rate, bill lines' "
            "approved and disputed amounts.",
        ),
        Column(
            "reference_hash",
            t.CODE,
            description="The reference rows it read: each order currency's FX rate into "
            "its company's functional currency as of the day, and its lines' SKU weights "
            "and dimensions (the freight basis).",
        ),
        Column("run_id", t.ID, description="The run that last computed the day."),
    ),
    key=("order_date",),
    partition_column="order_date",
)

RESTATEMENT_CAUSES = ("ORDERS", "COGS", "FREIGHT", "REFERENCE", "UNRECORDED")
"""What changed in a restated day's inputs (UNRECORDED: computed before fingerprints were)."""

PROFIT_RESTATEMENTS = TableContract(
    name="profit_restatements",
    description=(
        "One row per run, restated order day and company: a day outside the days the run "
        "was asked for, recomputed because its inputs changed since profit last computed "
        "it; its figures before and after, in the company's functional currency."
    ),
    columns=(
        Column("run_id", t.ID, description="The run that detected and recomputed it."),
        Column(
            "detected_on",
            t.DATE,
            description="The last day that run was asked for: the export's partition.",
        ),
        Column("order_date", t.DATE),
        Column("company", t.ID),
        Column("currency", t.CODE, description="The company's functional currency."),
        Column(
            "changed",
            t.CODE,
            description="Inputs that changed, comma-separated: " + ", ".join(RESTATEMENT_CAUSES),
        ),
        Column("lines_before", t.QUANTITY, non_negative=True),
        Column("lines_after", t.QUANTITY, non_negative=True),
        Column("cogs_before", t.MONEY),
        Column("cogs_after", t.MONEY),
        Column("freight_before", t.MONEY),
        Column("freight_after", t.MONEY),
        Column("margin_before", t.MONEY, description="Contribution margin."),
        Column("margin_after", t.MONEY),
    ),
    key=("run_id", "order_date", "company"),
    partition_column="detected_on",
    exported=True,
    notes=(
        "Exported per day like costing_restatements: `exports/profit_restatements/"
        "<detected_on>.csv` holds every run's record detected on that day (an empty file when "
        "none), rewritten by each run of it.",
    ),
)

PROFIT_TABLES: tuple[TableContract, ...] = (
    ORDER_PROFIT,
    ORDER_PROFIT_ORDERS,
    PROFIT_DAILY,
    ORDER_LINE_COGS,
    ORDER_LINE_FREIGHT,
    PROFIT_INPUTS,
    PROFIT_RESTATEMENTS,
)
