"""Nightly runs = a range run when lines of two order days share a split parent's amounts
or a merged parcel (docs/profit.md rule 11): the second night reads the first day's lines
with its own, so the shares are taken over both, and restates the first day (recorded in
profit_restatements) instead of counting the shared amount twice."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from pipelines.contracts.inputs import COMPANIES, FX_RATES, SKUS
from pipelines.contracts.orders import ORDER_LINES, ORDERS
from runs.profit import profit_days
from tests.profit.test_profit_fingerprints import _table

DAY1, DAY2 = date(2026, 1, 1), date(2026, 1, 2)
ORDERS_OF = {
    DAY1: [("P", None), ("C1", "P"), ("A", None)],
    DAY2: [("C2", "P"), ("B", None)],
}
"""P (promotion 6.00) split into C1 (day 1) and C2 (day 2); B (day 2) ships in A's parcel."""
LINES_OF = {
    DAY1: [("C1-1", "C1", None, "10.00"), ("A-1", "A", None, "30.00")],
    DAY2: [("C2-1", "C2", None, "20.00"), ("B-1", "B", "A", "10.00")],
}


def _warehouse(path: Path, days: list[date]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    _table(con, COMPANIES, [{"company": "US01", "functional_currency": "USD"}])
    _table(con, SKUS, [{"sku": "MUG", "weight_kg": Decimal("0.400")}])
    _table(con, FX_RATES, [])
    _load(con, days)
    return con


def _load(con: duckdb.DuckDBPyConnection, days: list[date]) -> None:
    orders = [
        {
            "order_id": order, "parent_order_id": parent, "company": "US01", "currency": "USD",
            "channel": "OWN_SITE", "shop": "S", "ordered_at": datetime.combine(day, datetime.min.time()),
            "promotion_discount": Decimal("6.00" if order == "P" else "0"),
            "shipping_charged": Decimal("4.00" if order == "A" else "0"),
        }
        for day in days for order, parent in ORDERS_OF[day]
    ]  # fmt: skip
    lines = [
        {"order_line_id": lid, "order_id": order, "fulfilment_order_id": fulfil, "sku": "MUG",
         "quantity": 1, "unit_price": Decimal(price), "line_discount": Decimal("0")}
        for day in days for lid, order, fulfil, price in LINES_OF[day]
    ]  # fmt: skip
    _table(con, ORDERS, orders)
    _table(con, ORDER_LINES, lines)


def _stored(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return con.sql("SELECT * FROM order_profit ORDER BY order_line_id").pl()


def test_the_second_night_restates_the_first_day_and_equals_a_range_run(tmp_path: Path) -> None:
    nightly = _warehouse(tmp_path / "nightly.duckdb", [DAY1])
    profit_days(nightly, DAY1, DAY1, run_id="night-1")
    first = _stored(nightly).select("order_line_id", "promotion_discount")
    assert first.rows() == [("A-1", Decimal("0.00")), ("C1-1", Decimal("6.00"))]
    _load(nightly, [DAY1, DAY2])
    second = profit_days(nightly, DAY2, DAY2, run_id="night-2")
    assert second.restated_days == [DAY1]
    assert second.restatement["changed"].to_list() == ["ORDERS"]

    ranged = _warehouse(tmp_path / "range.duckdb", [DAY1, DAY2])
    profit_days(ranged, DAY1, DAY2, run_id="range")
    assert _stored(nightly).equals(_stored(ranged))
    shares = _stored(ranged).select("order_line_id", "promotion_discount", "shipping_income")
    assert shares.rows() == [
        ("A-1", Decimal("0.00"), Decimal("4.00")),
        ("B-1", Decimal("0.00"), Decimal("0.00")),
        ("C1-1", Decimal("2.00"), Decimal("0.00")),
        ("C2-1", Decimal("4.00"), Decimal("0.00")),
    ]
    # the second day rerun alone, nothing new: it restates nothing, and still takes the
    # shares over the first day's lines (read as linked lines, not stored)
    assert profit_days(nightly, DAY2, DAY2, run_id="night-3").restated_days == []
    assert _stored(nightly).equals(_stored(ranged))
