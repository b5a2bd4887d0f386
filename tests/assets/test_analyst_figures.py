"""The figures an analyst reads on the asset pages, from a real DuckDB warehouse: ageing per
company and bucket with the value older than 90 days, COGS per company in its own currency,
and the receipt layers behind an issue (runs/costing_summaries.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from runs.costing_summaries import ageing_summary, company_day_figures, layers_behind

DAY = date(2026, 6, 30)
BUCKETS = (30, 60, 90, 180, 365)


def _warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path / "w.duckdb"))
    con.sql("CREATE TABLE companies AS SELECT * FROM (VALUES ('CN01', 'CNY'), ('US01', 'USD')) "
            "t(company, functional_currency)")  # fmt: skip
    con.sql(
        "CREATE TABLE costing_ageing_changes (company VARCHAR, warehouse VARCHAR, sku VARCHAR, "
        "bucket_no INTEGER, bucket VARCHAR, day DATE, quantity BIGINT, value DECIMAL(18, 2))"
    )
    con.sql(
        "INSERT INTO costing_ageing_changes VALUES "
        "('CN01', 'W1', 'A', 0, '0-30', DATE '2026-06-01', 5, 50.00),"
        "('CN01', 'W1', 'B', 3, '91-180', DATE '2026-06-01', 2, 300.00),"
        "('CN01', 'W1', 'C', 4, '181-365', DATE '2026-06-01', 1, 700.00),"
        "('CN01', 'W1', 'C', 4, '181-365', DATE '2026-06-20', 0, 0.00),"
        "('US01', 'W2', 'B', 2, '61-90', DATE '2026-06-01', 3, 9.00),"
        "('US01', 'W2', 'D', 3, '91-180', DATE '2026-06-01', 4, 40.00)"
    )
    return con


def test_ageing_per_company_and_bucket_and_the_value_over_90_days(tmp_path: Path) -> None:
    with _warehouse(tmp_path) as con:
        by_bucket, top = ageing_summary(con, DAY, BUCKETS)
    assert by_bucket.select("company", "currency", "bucket", "value").rows() == [
        ("CN01", "CNY", "0-30", Decimal("50.00")),
        ("CN01", "CNY", "91-180", Decimal("300.00")),
        ("US01", "USD", "61-90", Decimal("9.00")),
        ("US01", "USD", "91-180", Decimal("40.00")),
    ], "C was sold on 2026-06-20: its later change row empties it"
    assert (
        top.select("company", "currency", "sku", "value_over_90_days").rows()
        == [
            ("US01", "USD", "D", Decimal("40.00")),
            ("CN01", "CNY", "B", Decimal("300.00")),
        ][::-1]
    ), "61-90 is not older than 90 days; the largest first"


def test_cogs_and_inventory_per_company_never_across_currencies(tmp_path: Path) -> None:
    with _warehouse(tmp_path) as con:
        con.sql(
            "CREATE TABLE costing_cogs (posting_date DATE, company VARCHAR, amount DECIMAL(18,2))"
        )
        con.sql("INSERT INTO costing_cogs VALUES (DATE '2026-06-30', 'CN01', 100.00), "
                "(DATE '2026-06-30', 'US01', 7.50), (DATE '2026-06-29', 'CN01', 1.00)")  # fmt: skip
        con.sql(
            "CREATE TABLE costing_valuation (day DATE, company VARCHAR, opening_value "
            "DECIMAL(18,2), closing_value DECIMAL(18,2))"
        )
        con.sql("INSERT INTO costing_valuation VALUES (DATE '2026-06-01', 'CN01', 0, 500.00), "
                "(DATE '2026-06-30', 'CN01', 500.00, 400.00), "
                "(DATE '2026-06-02', 'US01', 0, 60.00)")  # fmt: skip
        figures = company_day_figures(con, DAY, DAY)
        issue = pl.DataFrame({"posting_date": [DAY], "movement_id": ["M1"]})
        con.sql(
            "CREATE TABLE costing_consumption (posting_date DATE, company VARCHAR, sku VARCHAR, "
            "movement_id VARCHAR, origin_id VARCHAR, receipt_date DATE, origin_a BIGINT, "
            "quantity BIGINT, amount DECIMAL(18,2))"
        )
        con.sql("INSERT INTO costing_consumption VALUES "
                "(DATE '2026-06-30', 'CN01', 'A', 'M1', 'R1', DATE '2026-01-02', 0, 3, 10.00), "
                "(DATE '2026-06-30', 'CN01', 'A', 'M2', 'R1', DATE '2026-01-02', 3, 1, 3.33)")  # fmt: skip
        layers = layers_behind(con, issue)
    assert figures.select("company", "currency", "cogs", "inventory_value").rows() == [
        ("CN01", "CNY", Decimal("100.00"), Decimal("400.00")),
        ("US01", "USD", Decimal("7.50"), Decimal("60.00")),
    ]
    assert layers.select("receipt", "receipt_date", "quantity", "unit_cost").rows() == [
        ("R1", date(2026, 1, 2), 3, Decimal("3.3333")),
    ]
