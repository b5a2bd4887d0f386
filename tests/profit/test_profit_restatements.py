"""Order profitability follows costing restatements (issue 15 point 2): when costing
recosts days already costed, the next profit run recomputes the order days whose inputs
changed, whatever days it is asked for, records their margins before and after, and
rewrites their exports, so that they equal a clean run over the final data byte for byte
(docs/profit.md "Restatement").

The ledger is tests/operations/restatement_data.py's (costed through the real runner);
the orders here are the warehouse orders its issues name."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from reckon.runner import run_range
from tests.operations.restatement_data import (
    BACKDATED_RECEIPT,
    DAYS,
    movements,
    rewritten_partitions,
    warehouse_query,
    write_data,
    write_extract,
)
from tests.profit.orders_data import write_orders

# Dagster runs of the nightly and profit jobs over a hand-built ledger.
pytestmark = pytest.mark.slow

JAN5, JAN6, JAN7, JAN8, JAN9, JAN10 = DAYS
PROFIT_EXPORTS = ("order_profit", "order_profit_orders", "profit_daily")


def _run(data: Path, first: date, last: date, instance: dg.DagsterInstance, job: str = "nightly"):
    result = run_range(data, first, last, instance, job_name=job, log_level="WARNING")
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def _nightly_then_profit(data: Path, first: date, last: date, instance: dg.DagsterInstance):
    """What `reckon run` does for the days: the nightly graph (costing), then profit."""
    _run(data, first, last, instance)
    return _run(data, first, last, instance, job="profit")


def _digests(data: Path) -> dict[str, str]:
    folder = data / "exports"
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for name in PROFIT_EXPORTS
        for p in sorted((folder / name).glob("*"))
    }


@pytest.fixture(scope="module")
def computed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Jan 5-9 costed and their orders' profit computed, one run each."""
    data = write_data(tmp_path_factory.mktemp("computed") / "data", DAYS[:5])
    write_orders(data, DAYS[:5])
    with dg.DagsterInstance.ephemeral() as instance:
        _nightly_then_profit(data, JAN5, JAN9, instance)
    return data


def test_a_backdated_receipt_restates_the_margins_of_the_days_costing_rewrote(
    computed: Path, tmp_path: Path
) -> None:
    data = shutil.copytree(computed, tmp_path / "nightly")
    before = warehouse_query(data, "SELECT * FROM order_profit ORDER BY order_line_id")
    write_data(data, [JAN10])
    write_orders(data, [JAN10])
    write_extract(data, JAN10, movements(JAN10, (BACKDATED_RECEIPT,)))
    with dg.DagsterInstance.ephemeral() as instance:
        result = _nightly_then_profit(data, JAN10, JAN10, instance)

    clean = write_data(tmp_path / "clean", DAYS)
    write_orders(clean, DAYS)
    write_extract(clean, JAN10, movements(JAN10, (BACKDATED_RECEIPT,)))
    with dg.DagsterInstance.ephemeral() as instance:
        _nightly_then_profit(clean, JAN5, JAN10, instance)

    query = "SELECT * FROM order_profit ORDER BY order_line_id"
    assert warehouse_query(data, query).equals(warehouse_query(clean, query))
    assert not warehouse_query(data, query).equals(before), "the backdated receipt changes margins"
    expected, found = _digests(clean), _digests(data)
    assert sorted(found) == sorted(expected) and len(found) == 3 * len(DAYS) * 2
    stale = sorted(name for name in found if found[name] != expected[name])
    assert stale == [], f"profit exports differing from a clean run: {stale}"

    # RB (Jan 6, 25 at 9.00) queues behind R1: SO-4 takes R1's last 50 and 10 of RB instead
    # of R3's at 12.00 (-30.00), SO-5 the other 15 of RB (-45.00); SO-7's 20 units find R3's,
    # no shortfall (same cost, no longer provisional). Jan 6's issue still takes R1's.
    restated = [str(d) for d in (JAN7, JAN8, JAN9)]
    for asset in ("order_profit", "profit_exports"):
        assert rewritten_partitions(result, asset) == [*restated, str(JAN10)], asset
    record = warehouse_query(
        data,
        "SELECT order_date, company, currency, changed, cogs_before, cogs_after, "
        "margin_after - margin_before AS margin_change FROM profit_restatements "
        "ORDER BY order_date, company",
    )
    assert record.rows() == [
        (JAN7, "CN01", "CNY", "COGS", D("620.00"), D("590.00"), D("30.00")),
        (JAN8, "CN01", "CNY", "COGS", D("360.00"), D("315.00"), D("45.00")),
        (JAN8, "US01", "USD", "COGS", D("13.50"), D("13.50"), D("0.00")),
        (JAN9, "CN01", "CNY", "COGS", D("240.00"), D("240.00"), D("0.00")),
    ]
    status = warehouse_query(data, "SELECT status FROM order_profit WHERE order_id = 'SO-7'")
    assert status.rows() == [("FINAL",)]
    _check_the_record_is_exported(data, clean)


def _check_the_record_is_exported(data: Path, clean: Path) -> None:
    """The ERP receives the record as costing's: one file per day a run was asked through,
    the run's rows in it, CSV with a BOM and Parquet; a clean run's file of that day is
    empty (it restated nothing)."""
    folder = data / "exports" / "profit_restatements"
    order = ["order_date", "company"]
    stored = warehouse_query(data, "SELECT * FROM profit_restatements").sort(order)
    exported = pl.read_parquet(folder / f"{JAN10}.parquet").sort(order)
    assert exported.height == 4 and exported.equals(stored)
    assert exported["detected_on"].unique().to_list() == [JAN10]
    assert (folder / f"{JAN10}.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert pl.read_parquet(
        clean / "exports" / "profit_restatements" / f"{JAN10}.parquet"
    ).is_empty()


def test_a_profit_rerun_with_nothing_changed_restates_nothing(
    computed: Path, tmp_path: Path
) -> None:
    data = shutil.copytree(computed, tmp_path / "same")
    before = _digests(data)
    with dg.DagsterInstance.ephemeral() as instance:
        result = _run(data, JAN7, JAN7, instance, job="profit")
    assert rewritten_partitions(result, "order_profit") == [str(JAN7)]
    assert _digests(data) == before
    assert warehouse_query(data, "SELECT count(*) AS n FROM profit_restatements")["n"][0] == 0
