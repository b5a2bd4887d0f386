"""The reference part of profit's fingerprints (runs/profit.py `input_fingerprints`): an
order day's profit reads each order currency's FX rate into its company's functional
currency as of the day, and its lines' SKU weights; a corrected rate or weight must change
the fingerprint of exactly the days that read it, so the next profit run restates them
(REFERENCE), and nothing else."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from pipelines.contracts.inputs import COMPANIES, FX_RATES, SKUS
from pipelines.contracts.orders import ORDER_LINES, ORDER_REFUNDS, ORDERS
from pipelines.contracts.spec import TableContract
from runs.profit import _inputs, input_fingerprints

JAN = [date(2026, 1, d) for d in range(1, 6)]


def _table(con: duckdb.DuckDBPyConnection, contract: TableContract, rows: list[dict]) -> None:
    """`contract`'s table holding `rows` (columns not given are null)."""
    frame = pl.DataFrame(rows, schema=contract.schema)
    con.register("_rows", frame)
    con.execute(f'CREATE OR REPLACE TABLE "{contract.name}" AS SELECT * FROM _rows')
    con.unregister("_rows")


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """Orders of CN01 (books in CNY) in USD on Jan 1-5; USD->CNY rates on Jan 1 and Jan 3
    only, so Jan 1-2 read the Jan 1 rate and Jan 3-5 the Jan 3 rate; one order of US01 in
    its own USD every day (reads no rate)."""
    connection = duckdb.connect()
    _table(connection, COMPANIES, [
        {"company": "CN01", "functional_currency": "CNY"},
        {"company": "US01", "functional_currency": "USD"},
    ])  # fmt: skip
    _table(connection, FX_RATES, [
        {"rate_date": JAN[0], "currency": "USD", "to_currency": "CNY", "rate": Decimal("7.1")},
        {"rate_date": JAN[2], "currency": "USD", "to_currency": "CNY", "rate": Decimal("7.2")},
    ])  # fmt: skip
    _table(connection, SKUS, [
        {"sku": "MUG", "weight_kg": Decimal("0.400")},
        {"sku": "LAMP", "weight_kg": Decimal("1.200")},
    ])  # fmt: skip
    orders, lines = [], []
    for day in JAN:
        for company, sku in (("CN01", "MUG"), ("US01", "LAMP")):
            order = f"{company}-{day.day}"
            orders.append({
                "order_id": order, "company": company, "currency": "USD",
                "ordered_at": datetime.combine(day, datetime.min.time()),
            })  # fmt: skip
            lines.append({"order_line_id": f"{order}-1", "order_id": order, "sku": sku,
                          "quantity": 1, "unit_price": Decimal("10.00")})  # fmt: skip
    _table(connection, ORDERS, orders)
    _table(connection, ORDER_LINES, lines)
    return connection


def _reference(con: duckdb.DuckDBPyConnection) -> dict[date, str]:
    frame = input_fingerprints(con)
    return dict(zip(frame["order_date"].to_list(), frame["reference_hash"].to_list(), strict=True))


def test_a_corrected_rate_changes_the_days_that_read_it_and_no_other(con) -> None:
    before = _reference(con)
    con.execute("UPDATE fx_rates SET rate = 7.25 WHERE rate_date = ?", [JAN[2]])
    after = _reference(con)
    assert [d for d in JAN if before[d] != after[d]] == JAN[2:]


def test_a_rate_for_a_day_that_had_none_changes_that_day_onwards_until_the_next_rate(con) -> None:
    before = _reference(con)
    con.execute("INSERT INTO fx_rates VALUES (?, 'USD', 'CNY', 7.15)", [JAN[1]])
    after = _reference(con)
    assert [d for d in JAN if before[d] != after[d]] == [JAN[1]]


def test_a_corrected_sku_weight_changes_the_days_of_its_lines(con) -> None:
    con.execute("INSERT INTO skus (sku, weight_kg) VALUES ('BOX', 2.000)")
    con.execute("UPDATE order_lines SET sku = 'BOX' WHERE order_id = 'CN01-2'")
    before = _reference(con)
    con.execute("UPDATE skus SET weight_kg = 2.500 WHERE sku = 'BOX'")
    after = _reference(con)
    assert [d for d in JAN if before[d] != after[d]] == [JAN[1]]


def test_a_rate_no_order_reads_changes_nothing(con) -> None:
    before = _reference(con)
    con.execute("INSERT INTO fx_rates VALUES (?, 'EUR', 'CNY', 7.80)", [JAN[2]])
    assert _reference(con) == before


def test_a_refund_on_a_whole_order_changes_its_day_only_and_is_read_with_it(con) -> None:
    """A refund of an amount naming the order, no line: the day of that order is restated
    (its orders part changes) and its profit reads the refund."""
    before = _part(con, "orders_hash")
    _table(con, ORDER_REFUNDS, [{
        "refund_id": "RO", "refunded_at": datetime(2026, 1, 4, 9, 0), "order_id": "US01-2",
        "kind": "REFUND", "amount": Decimal("3.00"),
    }])  # fmt: skip
    after = _part(con, "orders_hash")
    assert [d for d in JAN if before[d] != after[d]] == [JAN[1]]
    assert _inputs(con, [JAN[1]]).refunds["refund_id"].to_list() == ["RO"]
    assert _inputs(con, [JAN[2]]).refunds.is_empty()


def _part(con: duckdb.DuckDBPyConnection, part: str) -> dict[date, str]:
    frame = input_fingerprints(con)
    return dict(zip(frame["order_date"].to_list(), frame[part].to_list(), strict=True))
