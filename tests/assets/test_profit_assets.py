"""Order profitability on the demo, end to end through the same jobs `reckon run` launches:
order-line COGS ties to the COGS journal of the same days to the cent, split orders and
merged parcels are there, every check passes and the ERP files are written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from demo.generate import generate
from reckon.runner import run_everything, run_range

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
        "totals_tie_back",
        # one key check per exported table (assets/defs/export_keys.py)
        "order_profit_unique_key",
        "order_profit_orders_unique_key",
        "profit_daily_unique_key",
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
    assert split > 0 and merged_freight > 0 and refunded > 0


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
