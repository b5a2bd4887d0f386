"""The one resource every asset uses: where the data lives and how to reach the warehouse.

The embedded default is a folder with a DuckDB file inside; a deployment
changes only this configuration (STYLE.md, hooli: resources chosen by
environment, assets untouched).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from assets.run_liveness import owned_by_launcher, record_owner
from pipelines.costing import POOL_BY_WAREHOUSE, CostingPolicy, Sharding
from pipelines.costing.policy import DEFAULT_AGE_BUCKETS
from runs.costing import CHUNK_MOVEMENTS
from runs.costing_shards import shard_runner
from runs.distributed import (
    STORAGE_URL_VARIABLE,
    Executor,
    configured_shards,
    open_executor,
    scheduler_address,
)
from storage.files import remove_dead_writers_temporaries
from storage.layout import DataLayout
from storage.warehouse import connect
from storage.warehouse_lock import hold_warehouse

DEFAULT_DATA_DIR = "demo_data"


def default_data_dir() -> str:
    """RECKON_DATA_DIR, else ./demo_data (what `make demo` generates)."""
    return os.environ.get("RECKON_DATA_DIR", str(Path.cwd() / DEFAULT_DATA_DIR))


class ReckonResource(dg.ConfigurableResource):
    """Data directory, optional overrides for the warehouse file and the exports folder, and
    the accounting policies (DOMAIN.md, "Costing rules": each a documented, configurable policy).
    """

    data_dir: str
    warehouse_path: str | None = None
    exports_dir: str | None = None
    costing_pool: str = POOL_BY_WAREHOUSE
    """`company_warehouse_sku` (default) or `company_sku` (transfers do not touch cost)."""
    closed_before: str | None = None
    """YYYY-MM-DD: days before it are closed; late documents dated there post on that day."""
    age_buckets: str = ",".join(str(b) for b in DEFAULT_AGE_BUCKETS)
    """Inclusive upper bounds in days of the ageing buckets ("30,60,90,180,365"); one more
    bucket holds everything older."""
    snapshot_accuracy_threshold: float = 0.95
    """Minimum share of (warehouse, sku) rows matching the WMS snapshot, per warehouse and day
    (inventory record accuracy; a small warehouse with 80 SKUs and two miscounts is at 97.5%)."""
    costing_chunk_days: int = 31
    """A range is costed in chunks of this many days, each leaving a restart checkpoint."""
    costing_chunk_movements: int | None = CHUNK_MOVEMENTS
    """A chunk grows past `costing_chunk_days` while it holds at most this many movements
    (a backfill of a quiet ledger is a few calls, not one a month); None: fixed chunks."""
    costing_shards: int | None = None
    """Each chunk is costed in this many SKU shards (default RECKON_COSTING_SHARDS, else 1:
    one call; docs/deployment.md says how to size them). Same figures to the cent whatever
    the number."""
    dask_scheduler: str | None = None
    """Address of a Dask distributed scheduler (`tcp://host:8786`) that runs the costing
    shards and the billing periods as tasks; unset (and RECKON_DASK_SCHEDULER unset): they
    run in the run's own process, the embedded default."""
    storage_url: str | None = None
    """Where tasks read and write their Parquet frames: a folder or an fsspec URL every
    worker reaches (`s3://bucket/reckon`); default RECKON_STORAGE_URL, else `work/tasks`
    in the data directory."""

    @property
    def costing_policy(self) -> CostingPolicy:
        closed = date.fromisoformat(self.closed_before) if self.closed_before else None
        return CostingPolicy(
            pool=self.costing_pool,
            closed_before=closed,
            age_buckets=tuple(int(b) for b in self.age_buckets.split(",")),
        )

    @property
    def layout(self) -> DataLayout:
        return DataLayout(
            root=Path(self.data_dir),
            warehouse_path=Path(self.warehouse_path) if self.warehouse_path else None,
            exports_path=Path(self.exports_dir) if self.exports_dir else None,
        )

    @contextmanager
    def yield_for_execution(
        self, context: dg.InitResourceContext
    ) -> Generator[ReckonResource, None, None]:
        """A run holds the warehouse from its first step to its last (storage/warehouse_lock.py):
        a second writer is refused with this run's id, not half-way with DuckDB's lock error,
        and cannot slip in between two of its steps. A run launched by the daemon or the UI
        is tagged with the process executing it, so it is failed if that process dies
        (assets/run_liveness.py), and first removes the temporary files of dead writers;
        `reckon run` does both for its runs itself. Sensors (no run) only read files."""
        run = context.run
        if run is None:
            yield self
            return
        layout = self.layout
        with hold_warehouse(layout.warehouse_db, f"Dagster run {run.run_id} ({run.job_name})"):
            if not owned_by_launcher(run) and context.instance is not None:
                record_owner(context.instance, run)
                removed = remove_dead_writers_temporaries(layout.written_folders)
                if removed and context.log is not None:
                    context.log.info(f"removed {len(removed)} temporary file(s) of dead writers")
            yield self

    @property
    def task_storage_url(self) -> str:
        configured = self.storage_url or os.environ.get(STORAGE_URL_VARIABLE)
        return configured or str(self.layout.work_dir / "tasks")

    @contextmanager
    def executor(self) -> Iterator[Executor]:
        """In process, or a client of the configured Dask cluster (runs/distributed.py)."""
        with open_executor(scheduler_address(self.dask_scheduler), self.task_storage_url) as ex:
            yield ex

    @contextmanager
    def costing_sharding(self) -> Iterator[Sharding | None]:
        """How a costing run shards its chunks: None (one call) unless shards or a cluster
        are configured; on a cluster each shard is a task."""
        scheduler = scheduler_address(self.dask_scheduler)
        shards = configured_shards(self.costing_shards)
        if shards <= 1 and scheduler is None:
            yield None
            return
        with self.executor() as ex:
            yield Sharding(shards, run=shard_runner(ex))

    @contextmanager
    def warehouse(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.layout.warehouse_db) as con:
            yield con
