"""Where a run's independent pieces execute: in this process, or as tasks on a Dask cluster.

Costing shards (pipelines/costing/shards.py) and carrier billing periods are independent of
one another, so a run can hand them to workers. Which engine runs them is configuration
only (the `reckon` resource's `dask_scheduler`, or RECKON_DASK_SCHEDULER): unset, the
embedded default runs them one after another here; set to a scheduler address
(`tcp://10.0.0.5:8786`), each piece becomes a task of that Dask distributed cluster.

Tasks never open the warehouse: their inputs and outputs travel as Parquet under the
executor's storage URL (storage/task_frames.py), and the run stores the outputs in the
warehouse itself, in one transaction. Dask runs a task again on another worker when its
worker dies mid-task (up to the scheduler's `allowed-failures`); a task writes only its own
files, under names fixed by the run, so the second attempt replaces the first's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

SCHEDULER_VARIABLE = "RECKON_DASK_SCHEDULER"
STORAGE_URL_VARIABLE = "RECKON_STORAGE_URL"
SHARDS_VARIABLE = "RECKON_COSTING_SHARDS"


class Executor(Protocol):
    """Runs calls of one function and returns their results in the order of the calls."""

    @property
    def storage_url(self) -> str | None:
        """Where tasks read and write their frames (None: they run here, handed frames)."""
        ...

    def map(self, fn: Callable[..., T], calls: Sequence[tuple[Any, ...]]) -> list[T]: ...


@dataclass(frozen=True)
class InProcess:
    """The embedded default: every call here, one after another."""

    storage_url: str | None = None

    def map(self, fn: Callable[..., T], calls: Sequence[tuple[Any, ...]]) -> list[T]:
        return [fn(*call) for call in calls]


@dataclass(frozen=True)
class OnDask:
    """Every call a task of a Dask distributed cluster (a `distributed.Client`)."""

    client: Any
    storage_url: str

    def map(self, fn: Callable[..., T], calls: Sequence[tuple[Any, ...]]) -> list[T]:
        # pure=False: a call's result depends on the files under its URL, not only on its
        # arguments, so Dask must never hand back a cached result of an earlier run.
        futures = [self.client.submit(fn, *call, pure=False) for call in calls]
        return list(self.client.gather(futures))


def scheduler_address(configured: str | None) -> str | None:
    """The configured scheduler, else RECKON_DASK_SCHEDULER, else None (in process)."""
    return configured or os.environ.get(SCHEDULER_VARIABLE) or None


def configured_shards(configured: int | None) -> int:
    """The configured number of costing shards, else RECKON_COSTING_SHARDS, else 1."""
    if configured is not None:
        return configured
    text = os.environ.get(SHARDS_VARIABLE, "").strip()
    if not text:
        return 1
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"{SHARDS_VARIABLE}={text!r}: expected a whole number of shards, 1 or more"
        )
    return int(text)


@contextmanager
def open_executor(scheduler: str | None, storage_url: str) -> Iterator[Executor]:
    """In process when `scheduler` is None, else a client of that Dask scheduler (closed at
    the end). A scheduler that cannot be reached fails here, naming its address."""
    if scheduler is None:
        yield InProcess()
        return
    from distributed import Client

    try:
        client = Client(scheduler, timeout="20s", set_as_default=False)
    except OSError as error:
        raise ConnectionError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from error
    try:
        yield OnDask(client, storage_url)
    finally:
        client.close()
