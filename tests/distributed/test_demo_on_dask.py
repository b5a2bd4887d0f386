"""The demo's runs through Dagster with the work on a real local Dask cluster: the backfill,
two nightly runs, the bill inbox, the reconciliation of every period and profit, configured
by the environment only (RECKON_DASK_SCHEDULER, RECKON_COSTING_SHARDS), give the warehouse
of the same runs in process, table by table."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from demo.carrier_api import fetch_demo_bills
from demo.generate import generate
from reckon.runner import run_everything
from runs.costing import valuation_on_days
from runs.distributed import SCHEDULER_VARIABLE, SHARDS_VARIABLE
from runs.reconciliation import PERIOD_OUTPUTS
from storage.layout import DataLayout
from tests.distributed.dask_cluster import DaskCluster

pytestmark = pytest.mark.slow

START, END = date(2026, 1, 1), date(2026, 1, 12)
TABLES = (
    "costing_cogs",
    "costing_consumption",
    "costing_journals",
    "costing_flags",
    "costing_ageing_changes",
    *PERIOD_OUTPUTS,
    "order_profit",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("demo") / "data"
    generate(data, scale=1, seed=7, start=START, end=END)
    fetch_demo_bills(DataLayout(data))
    return data


def _run_demo(data: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        results = run_everything(data, START, END, instance, log_level="WARNING", nightly_days=2)
    assert all(r.success for _, r in results), [n for n, r in results if not r.success]


def _tables(data: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        found = {t: sorted(con.sql(f"SELECT * EXCLUDE (run_id) FROM {t}").fetchall(), key=str)
                 if "run_id" in con.sql(f"SELECT * FROM {t} LIMIT 0").columns
                 else sorted(con.sql(f"SELECT * FROM {t}").fetchall(), key=str)
                 for t in TABLES}  # fmt: skip
        days = [START + timedelta(days=k) for k in range((END - START).days + 1)]
        found["valuation"] = valuation_on_days(con, days).rows()
    return found


def _task_kinds(address: str) -> set[str]:
    """The functions the cluster ran tasks of (the scheduler's task prefixes)."""
    from distributed import Client

    with Client(address, timeout="20s") as client:
        return set(
            client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
        )


def test_the_demo_on_the_cluster_equals_the_demo_in_process(
    demo: Path, cluster: DaskCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = shutil.copytree(demo, tmp_path / "here")
    there = shutil.copytree(demo, tmp_path / "there")
    _run_demo(here)
    monkeypatch.setenv(SCHEDULER_VARIABLE, cluster.address)
    monkeypatch.setenv(SHARDS_VARIABLE, "3")
    _run_demo(there)
    assert {"cost_shard_task", "reconcile_period_task"} <= _task_kinds(cluster.address)
    expected, got = _tables(here), _tables(there)
    # twelve days hold no dispute yet: every other table has rows to compare
    empty = [t for t in TABLES if not expected[t]]
    assert empty == ["carrier_disputes"], empty
    for table in expected:
        assert got[table] == expected[table], table
    assert not list((there / "work" / "tasks").rglob("*.parquet")), "task folders left behind"
