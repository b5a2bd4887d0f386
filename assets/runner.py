"""Run the asset graph over a range of days in-process: what `reckon run` and `make demo` do.

It is the same graph, resources and checks the UI runs, executed through
Dagster (so runs, materialisations and check results land in the instance and
show up in the UI), as one run for the whole range: the single-run backfill.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from assets.definitions import build_definitions
from assets.resources import ReckonResource


def run_range(
    data_dir: Path,
    start: date,
    end: date,
    instance: dg.DagsterInstance | None = None,
    job_name: str = "nightly",
    log_level: str = "INFO",
) -> dg.ExecuteInProcessResult:
    """Materialise `job_name` for every day in [start, end] as one run."""
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    defs = build_definitions(ReckonResource(data_dir=str(data_dir.resolve())))
    job = defs.resolve_job_def(job_name)
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: start.isoformat(),
        ASSET_PARTITION_RANGE_END_TAG: end.isoformat(),
    }
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    return job.execute_in_process(
        run_config=run_config, instance=instance, tags=tags, raise_on_error=False
    )


def register_inbox(data_dir: Path, instance: dg.DagsterInstance) -> list[str]:
    """What the sensor does on a tick: add every new inbox file as a partition; the new keys."""
    from assets.bill_files import scan_inbox
    from assets.defs.bills import bill_file_partitions
    from pipelines.layout import DataLayout

    known = set(instance.get_dynamic_partitions(bill_file_partitions.name))
    new_keys = [
        f.partition_key
        for f in scan_inbox(DataLayout(data_dir.resolve()).bills_inbox)
        if f.partition_key not in known
    ]
    if new_keys:
        instance.add_dynamic_partitions(bill_file_partitions.name, new_keys)
    return new_keys


def run_bills(
    data_dir: Path, instance: dg.DagsterInstance, log_level: str = "INFO"
) -> dg.ExecuteInProcessResult | None:
    """Register new inbox files and parse them all in one run (None when nothing is new)."""
    new_keys = register_inbox(data_dir, instance)
    if not new_keys:
        return None
    defs = build_definitions(ReckonResource(data_dir=str(data_dir.resolve())))
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: new_keys[0],
        ASSET_PARTITION_RANGE_END_TAG: new_keys[-1],
    }
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    return defs.resolve_job_def("bills").execute_in_process(
        run_config=run_config, instance=instance, tags=tags, raise_on_error=False
    )
