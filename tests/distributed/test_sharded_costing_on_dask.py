"""Sharded costing on a real local Dask cluster gives the in-process figures to the cent,
and a worker killed mid-task makes its task run again on the other worker, same result."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks._costing_ledger import DAYS, START, generate
from pipelines.costing import CostingPolicy, CostingState, Sharding, cost_range, cost_range_sharded
from pipelines.costing.shards import shard_works
from runs.costing_shards import cost_shard_task, read_result, shard_runner, write_work
from runs.distributed import open_executor
from tests.distributed.dask_cluster import DaskCluster

pytestmark = pytest.mark.slow

COMPARED = ("cogs", "consumption", "postings", "valuation", "ageing", "journals", "flags")


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def test_shards_costed_on_the_cluster_equal_one_call_in_process(
    cluster: DaskCluster, tmp_path: Path
) -> None:
    ledger = generate(20_000, 300, seed=3)
    end = START + timedelta(days=DAYS - 1)
    one = cost_range(ledger, None, START, end)
    with open_executor(cluster.address, str(tmp_path / "tasks")) as executor:
        sharded = cost_range_sharded(
            ledger, None, START, end, sharding=Sharding(4, run=shard_runner(executor))
        )
    for name in COMPARED:
        assert_frame_equal(_sorted(getattr(sharded, name)), _sorted(getattr(one, name)))
    for name, frame in one.end_state.frames().items():
        assert_frame_equal(_sorted(sharded.end_state.frames()[name]), _sorted(frame))
    # the task folders are removed once their results are read
    assert not any((tmp_path / "tasks").rglob("*.parquet"))


def test_a_worker_killed_mid_task_has_its_task_run_again_elsewhere(
    cluster: DaskCluster, tmp_path: Path
) -> None:
    from distributed import Client

    ledger = generate(150_000, 2_000, seed=5)
    end = START + timedelta(days=DAYS - 1)
    works, _, _ = shard_works(ledger, CostingState.empty(), (START, end), CostingPolicy(), 1)
    expected = cost_range(ledger, None, START, end)
    url = str(tmp_path / "shard-0000")
    write_work(url, works[0])
    with Client(cluster.address, timeout="20s") as client:
        future = client.submit(
            cost_shard_task, url, tuple(works[0].inputs), START, end, CostingPolicy(), pure=False
        )
        first = _worker_processing(client, future.key)
        cluster.kill_worker(int(first.rsplit("-", 1)[1]))
        assert future.result(timeout=300) == url
        holder = next(iter(client.who_has(future)[future.key]))
        assert holder != first
    result = read_result(url, START, end)
    assert_frame_equal(_sorted(result.cogs), _sorted(expected.cogs))


def _worker_processing(client: object, key: object, timeout_s: float = 60) -> str:
    """The name of the worker running `key`, once it runs (the scheduler's record)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for address, keys in client.processing().items():  # type: ignore[attr-defined]
            if key in keys:
                info = client.scheduler_info()["workers"][address]  # type: ignore[attr-defined]
                return str(info["name"])
        time.sleep(0.05)
    raise AssertionError(f"task {key} never started")
