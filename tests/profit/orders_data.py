"""The order centre's extracts for the hand-built ledger of tests/operations/restatement_data.py:
one order per warehouse order its issues name, with one line each."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

from pipelines.contracts.orders import ORDER_LINES, ORDERS
from tests.operations.restatement_data import DAYS

JAN5, JAN6, JAN7, JAN8, JAN9, JAN10 = DAYS

ORDERED = {
    # order (= the warehouse order its issue names), day, company, currency, sku, qty, price
    "SO-1": (JAN5, "CN01", "CNY", "MUG-01", 30, "25.00"),
    "SO-2": (JAN6, "CN01", "CNY", "MUG-01", 20, "25.00"),
    "SO-12": (JAN6, "US01", "USD", "LAMP-02", 4, "19.90"),
    "SO-4": (JAN7, "CN01", "CNY", "MUG-01", 60, "24.00"),
    "SO-5": (JAN8, "CN01", "CNY", "MUG-01", 30, "25.00"),
    "SO-13": (JAN8, "US01", "USD", "LAMP-02", 3, "19.90"),
    "SO-7": (JAN9, "CN01", "CNY", "MUG-01", 20, "26.00"),
}
"""Each ordered at 06:00 on the day its issue ships (12:00 or 15:00)."""


def write_orders(data: Path, days: list[date], ordered: Mapping[str, tuple] = ORDERED) -> None:
    """The order centre's extracts of `days` (an empty one for a day without orders)."""
    for day in days:
        orders, lines = [",".join(ORDERS.column_names)], [",".join(ORDER_LINES.column_names)]
        for order, (on, company, currency, sku, qty, price) in ordered.items():
            if on != day:
                continue
            # order_id,parent,channel,shop,company,currency,buyer,ordered,paid,cancelled,
            # shipping,promotion,coupon,points,commission,payment
            orders.append(
                f"{order},,OWN_SITE,SHOP-1,{company},{currency},,{day} 06:00:00,,,"
                "5.00,2.00,0.00,0.00,1.50,0.30"
            )
            # order_line_id,order_id,fulfilment_order_id,sku,quantity,unit_price,discount,fee
            lines.append(f"{order}-1,{order},,{sku},{qty},{price},0.00,")
        for name, rows in (("orders", orders), ("order_lines", lines)):
            path = data / name / f"{day}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(rows) + "\n", encoding="utf-8")
