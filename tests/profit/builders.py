"""Small order-profit inputs written by hand: the worked examples and the property tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import polars as pl

from pipelines.contracts.inputs import COMPANIES, FX_RATES, SKUS
from pipelines.contracts.orders import ORDER_LINES, ORDER_REFUNDS, ORDERS
from pipelines.profit import (
    POSTINGS_SCHEMA,
    SHIPMENT_FREIGHT_SCHEMA,
    ProfitInputs,
    ProfitPolicy,
    ProfitResult,
    order_profit,
)

DAY = date(2026, 3, 2)
ORDERED = datetime(2026, 3, 2, 10, 0)
ORDER_DEFAULTS = {
    "parent_order_id": None,
    "channel": "OWN_SITE",
    "shop": "SITE-US",
    "company": "US01",
    "currency": "USD",
    "buyer_id": None,
    "ordered_at": ORDERED,
    "paid_at": None,
    "cancelled_at": None,
    "shipping_charged": Decimal(0),
    "promotion_discount": Decimal(0),
    "coupon_discount": Decimal(0),
    "points_discount": Decimal(0),
    "commission_fee": Decimal(0),
    "payment_fee": Decimal(0),
}
LINE_DEFAULTS = {
    "fulfilment_order_id": None,
    "sku": "SKU-A",
    "quantity": 1,
    "unit_price": Decimal(0),
    "line_discount": Decimal(0),
    "line_fee": None,
}


def money(text: str | int) -> Decimal:
    return Decimal(str(text))


def order(order_id: str, **fields: object) -> dict[str, object]:
    row = {"order_id": order_id, **ORDER_DEFAULTS, **fields}
    return {k: money(v) if isinstance(v, str) and k in _MONEY_ORDER else v for k, v in row.items()}


def line(order_line_id: str, order_id: str, **fields: object) -> dict[str, object]:
    row = {"order_line_id": order_line_id, "order_id": order_id, **LINE_DEFAULTS, **fields}
    return {k: money(v) if isinstance(v, str) and k in _MONEY_LINE else v for k, v in row.items()}


_MONEY_ORDER = {c.name for c in ORDERS.columns if c.dtype == pl.Decimal(18, 2)}
_MONEY_LINE = {c.name for c in ORDER_LINES.columns if c.dtype == pl.Decimal(18, 2)}


def refund(
    refund_id: str,
    order_line_id: str | None,
    quantity: int | None,
    kind: str = "REFUND",
    amount: str | None = None,
    refunded_at: datetime = datetime(2026, 3, 5, 12, 0),
    order_id: str | None = None,
) -> dict:
    """A refund of `quantity` units, or (quantity None) of `amount`, goods kept; of a
    line, or (order_line_id None) of the whole order `order_id`."""
    return {
        "refund_id": refund_id,
        "refunded_at": refunded_at,
        "order_line_id": order_line_id,
        "kind": kind,
        "quantity": quantity,
        "amount": None if amount is None else money(amount),
        "order_id": order_id,
    }


def posting(
    movement_id: str,
    fulfilment_order_id: str,
    sku: str,
    amount: str,
    category: str = "ISSUE",
    provisional_open: str = "0",
    posting_date: date = DAY,
    company: str = "US01",
) -> dict[str, object]:
    return {
        "movement_id": movement_id,
        "category": category,
        "posting_date": posting_date,
        "company": company,
        "fulfilment_order_id": fulfilment_order_id,
        "sku": sku,
        "amount": money(amount),
        "provisional_open": money(provisional_open),
    }


def shipment(
    shipment_id: str, order_id: str, freight: str, billed: bool, disputed: str = "0", bills=""
) -> dict[str, object]:
    return {
        "shipment_id": shipment_id,
        "order_id": order_id,
        "billed": billed,
        "freight": money(freight),
        "disputed": money(disputed),
        "bill_lines": bills or None,
    }


SKU_WEIGHTS = {"SKU-A": "1.000", "SKU-B": "0.250", "SKU-C": "0.500"}


def skus_frame(weights: dict[str, str] | None = None) -> pl.DataFrame:
    weights = weights or SKU_WEIGHTS
    return pl.DataFrame(
        {
            "sku": list(weights),
            "weight_kg": [Decimal(w) for w in weights.values()],
            "length_cm": [Decimal(10)] * len(weights),
            "width_cm": [Decimal(10)] * len(weights),
            "height_cm": [Decimal(10)] * len(weights),
        },
        schema=SKUS.schema,
    )


def companies_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {"company": ["US01", "CN01"], "functional_currency": ["USD", "CNY"]},
        schema=COMPANIES.schema,
    )


def fx_frame(usd_cny: str = "7.10000000") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "rate_date": [date(2026, 3, 1)],
            "currency": ["USD"],
            "to_currency": ["CNY"],
            "rate": [Decimal(usd_cny)],
        },
        schema=FX_RATES.schema,
    )


def inputs(
    orders: list[dict],
    lines: list[dict],
    refunds: list[dict] | None = None,
    postings: list[dict] | None = None,
    shipments: list[dict] | None = None,
) -> ProfitInputs:
    return ProfitInputs(
        orders=pl.DataFrame(orders, schema=ORDERS.schema, orient="row")
        if orders
        else pl.DataFrame(schema=ORDERS.schema),
        order_lines=pl.DataFrame(lines, schema=ORDER_LINES.schema),
        refunds=pl.DataFrame(refunds or [], schema=ORDER_REFUNDS.schema),
        postings=pl.DataFrame(postings or [], schema=POSTINGS_SCHEMA),
        shipments=pl.DataFrame(shipments or [], schema=SHIPMENT_FREIGHT_SCHEMA),
        skus=skus_frame(),
        fx_rates=fx_frame(),
        companies=companies_frame(),
    )


def run(data: ProfitInputs, policy: ProfitPolicy | None = None) -> ProfitResult:
    return order_profit(data, policy)


def with_shipments(data: ProfitInputs, shipments: list[dict]) -> ProfitInputs:
    return replace(data, shipments=pl.DataFrame(shipments, schema=SHIPMENT_FREIGHT_SCHEMA))


def figures(result: ProfitResult, order_line_id: str, *names: str) -> tuple:
    row = result.lines.filter(pl.col("order_line_id") == order_line_id).row(0, named=True)
    return tuple(row[n] for n in names)
