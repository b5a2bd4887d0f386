"""Costing shards run by an executor (runs/distributed.py): here, or as Dask tasks.

In process, the shards are costed one after another on the frames themselves. On a
cluster, each shard's work (its movements, carried state and landed-cost shares) is written
as Parquet under `<storage URL>/costing/<token>/shard-<k>/in`, a task costs it on a worker
(`cost_shard_task`) and writes the result to `.../out`, and the run reads the results back
in shard order; the merge (pipelines/costing/shards.py) is the same either way, so a run on
a cluster gives the figures of a run in process, to the cent (tests/distributed).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import fields
from datetime import date

import polars as pl

from pipelines.costing import CostingPolicy, CostingResult, CostingState
from pipelines.costing.landed_allocation import Allocation
from pipelines.costing.shards import ShardRunner, ShardWork, cost_in_process, cost_shard
from pipelines.costing.state import SCHEMAS
from runs.distributed import Executor
from storage.task_frames import join_url, read_frames, remove_folder, write_frames

STATE = tuple(f"state.{name}" for name in SCHEMAS)
ALLOCATION = ("allocation.allocations", "allocation.components", "allocation.flags")
RESULT_FRAMES = tuple(
    f.name for f in fields(CostingResult) if f.name not in ("start", "end", "end_state")
)


def shard_runner(executor: Executor) -> ShardRunner:
    """The shards run in this process (frames handed over) or as the executor's tasks."""
    url = executor.storage_url
    if url is None:
        return cost_in_process

    def run(works: Sequence[ShardWork]) -> list[CostingResult]:
        return cost_on_workers(executor, url, works)

    return run


def cost_on_workers(
    executor: Executor, storage_url: str, works: Sequence[ShardWork]
) -> list[CostingResult]:
    """Write each shard's work under the storage URL, cost them as tasks, read the results."""
    run_url = join_url(storage_url, "costing", secrets.token_hex(8))
    try:
        calls = []
        for work in works:
            url = join_url(run_url, f"shard-{work.shard:04d}")
            write_work(url, work)
            calls.append((url, tuple(work.inputs), work.start, work.end, work.policy))
        done = executor.map(cost_shard_task, calls)
        return [
            read_result(url, work.start, work.end) for url, work in zip(done, works, strict=True)
        ]
    finally:
        remove_folder(run_url)


def cost_shard_task(
    url: str, input_names: tuple[str, ...], start: date, end: date, policy: CostingPolicy
) -> str:
    """A worker's task: cost the shard whose work is under `url`/in, write the result to
    `url`/out and return `url`. Reads and writes nothing else (never the warehouse)."""
    frames = read_frames(join_url(url, "in"), [*input_names, *STATE, *ALLOCATION])
    state = CostingState.from_frames({n.removeprefix("state."): frames[n] for n in STATE})
    allocation = Allocation(*(frames[n] for n in ALLOCATION))
    inputs = {name: frames[name] for name in input_names}
    result = cost_shard(ShardWork(0, inputs, state, start, end, policy, allocation))
    write_frames(join_url(url, "out"), _result_frames(result))
    return url


def write_work(url: str, work: ShardWork) -> None:
    """Write a shard's work where `cost_shard_task(url, ...)` reads it."""
    write_frames(join_url(url, "in"), _work_frames(work))


def _work_frames(work: ShardWork) -> dict[str, pl.DataFrame]:
    state = {f"state.{name}": frame for name, frame in work.state.frames().items()}
    alloc = work.allocation
    allocation = dict(
        zip(ALLOCATION, (alloc.allocations, alloc.components, alloc.flags), strict=True)
    )
    return {**work.inputs, **state, **allocation}


def _result_frames(result: CostingResult) -> dict[str, pl.DataFrame]:
    state = {f"state.{name}": frame for name, frame in result.end_state.frames().items()}
    return {**{name: getattr(result, name) for name in RESULT_FRAMES}, **state}


def read_result(url: str, start: date, end: date) -> CostingResult:
    """The result `cost_shard_task` wrote under `url`."""
    frames = read_frames(join_url(url, "out"), [*RESULT_FRAMES, *STATE])
    state = CostingState.from_frames({n.removeprefix("state."): frames[n] for n in STATE})
    return CostingResult(
        start=start, end=end, end_state=state, **{n: frames[n] for n in RESULT_FRAMES}
    )
