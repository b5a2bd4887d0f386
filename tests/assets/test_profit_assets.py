"""Order profitability on the demo, end to end through the same jobs `reckon run` launches:
order-line COGS ties to the COGS journal of the same days to the cent, split orders and
merged parcels are there, every check passes and the ERP files are written."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from demo.generate import generate
from reckon.runner import run_everything, run_range
from runs.profit import OUTPUTS, profit_days

pytestmark = pytest.mark.slow

START, END = date(2026, 1, 1), date(2026, 1, 20)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dg.DagsterInstance]:
    data = tmp_path_factory.mktemp("profit") / "data"
    generate(data, scale=1, seed=3, start=START, end=END)
    from demo.carrier_api import fetch_demo_bills
    from storage.layout import DataLayout

    fetch_demo_bills(DataLayout(data))
    instance = dg.DagsterInstance.ephemeral()
    results = run_everything(data, START, END, instance, log_level="WARNING")
    assert all(r.success for _, r in results), [n for n, r in results if not r.success]
    checks = [e for n, r in results if n == "profit" for e in r.get_asset_check_evaluations()]
    assert {e.check_name for e in checks} == {
        "allocations_sum_exactly",
        "shipped_lines_have_cogs",
        "refunds_within_the_line",
        "totals_tie_back",
        # one key check per exported table (assets/defs/export_keys.py)
        "order_profit_unique_key",
        "order_profit_orders_unique_key",
        "profit_daily_unique_key",
        "profit_restatements_unique_key",
    }
    assert all(e.passed for e in checks), [e.check_name for e in checks if not e.passed]
    return data, instance


def _one(con: duckdb.DuckDBPyConnection, query: str) -> object:
    return con.sql(query).fetchall()[0][0]


def test_order_line_cogs_equals_the_cogs_journal_of_the_same_days(ran) -> None:
    data, _ = ran
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        journal = _one(
            con,
            "SELECT sum(amount) FROM costing_journal_lines WHERE account = 'COGS' "
            f"AND posting_date BETWEEN '{START}' AND '{END}' "
            "AND category <> 'LANDED_COST_EXPENSED'",
        )
        lines = _one(
            con,
            f"SELECT sum(amount) FROM order_line_cogs WHERE posting_date BETWEEN '{START}' AND "
            f"'{END}'",
        )
        stored = _one(con, "SELECT sum(cogs) FROM order_profit")
        quarantined = _one(
            con,
            "SELECT count(*) FROM quarantine_rows "
            "WHERE \"table\" IN ('orders', 'order_lines', 'order_refunds')",
        )
    assert journal > 0
    assert lines == journal == stored
    assert quarantined == 0


def test_split_orders_and_merged_parcels_carry_their_share(ran) -> None:
    data, _ = ran
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        split = _one(
            con,
            "SELECT count(*) FROM order_profit WHERE parent_order_id LIKE 'SP%' "
            "AND freight_status <> 'NO_SHIPMENT'",
        )
        merged_freight = _one(
            con,
            "SELECT count(*) FROM order_profit WHERE order_id LIKE 'MG%' "
            "AND fulfilment_order_id LIKE 'SO%' AND freight > 0",
        )
        refunded = _one(con, "SELECT count(*) FROM order_profit WHERE refunded > 0")
        # the demo's price adjustments (refunds of an amount, goods kept) reach their lines
        adjusted = _one(
            con, "SELECT count(DISTINCT order_line_id) FROM order_refunds WHERE amount > 0"
        )
        taken = _one(con, "SELECT count(*) FROM order_profit WHERE refunded_amount > 0")
        asked, got = con.sql(
            "SELECT sum(r.amount), sum(p.refunded_amount) FROM order_profit p "
            "JOIN (SELECT order_line_id, sum(amount) AS amount FROM order_refunds "
            "WHERE amount > 0 GROUP BY ALL) r USING (order_line_id) "
            "WHERE p.currency = p.functional_currency"
        ).fetchall()[0]
    assert split > 0 and merged_freight > 0 and refunded > 0
    assert adjusted > 0 and taken == adjusted
    assert got == asked


def test_exports_are_written_and_a_rerun_changes_nothing(ran) -> None:
    data, instance = ran
    assert (data / "exports" / "order_profit" / f"{END}.csv").exists()
    assert (data / "exports" / "profit_daily" / f"{START}.parquet").exists()
    db = str(data / "warehouse.duckdb")
    with duckdb.connect(db, read_only=True) as con:
        before = sorted(con.sql("SELECT * FROM order_profit").fetchall(), key=str)
    again = run_range(data, START, END, instance, job_name="profit", log_level="WARNING")
    assert again.success
    with duckdb.connect(db, read_only=True) as con:
        after = sorted(con.sql("SELECT * FROM order_profit").fetchall(), key=str)
    assert after == before


def test_a_re_priced_parcel_restates_the_freight_of_its_order_day(ran, tmp_path: Path) -> None:
    """A bill line's approved amount lowered after the day's profit was computed (a dispute
    won): the next profit run, asked for another day, recomputes that parcel's order day
    (FREIGHT changed), and the stored profit equals a computation from scratch."""
    data, _ = ran
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(data / "warehouse.duckdb", db)
    with duckdb.connect(str(db)) as con:
        source, bill, number, day = con.sql(
            f"""SELECT f.source_sha256, f.bill_number, f.line_number, any_value(p.order_date)
                FROM reconciliation_findings f JOIN order_line_freight p USING (shipment_id)
                WHERE f.approved_amount >= 1 AND p.order_date < '{END}'
                GROUP BY ALL HAVING count(DISTINCT p.order_date) = 1
                ORDER BY 4, 1, 2, 3 LIMIT 1"""
        ).fetchall()[0]
        con.execute(
            "UPDATE reconciliation_findings SET approved_amount = approved_amount - 1, "
            "disputed_amount = disputed_amount + 1 "
            "WHERE source_sha256 = ? AND bill_number = ? AND line_number = ?",
            [source, bill, number],
        )
        run = profit_days(con, END, END, run_id="after the dispute")
        assert run.restated_days == [day]
        record = con.sql(
            "SELECT order_date, changed, freight_after - freight_before FROM profit_restatements "
            "WHERE freight_after <> freight_before"
        ).fetchall()
        assert [(d, changed) for d, changed, _ in record] == [(day, "FREIGHT")]
        assert record[0][2] < Decimal(0)
        restated = sorted(con.sql("SELECT * FROM order_profit").fetchall(), key=str)
        for table in OUTPUTS:
            con.execute(f'DROP TABLE "{table}"')
        profit_days(con, START, END)
        assert sorted(con.sql("SELECT * FROM order_profit").fetchall(), key=str) == restated
