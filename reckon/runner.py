"""Run the asset graph over a range of days in-process: what `reckon run` and `make demo` do.

It is the same graph, resources and checks the UI runs, executed through
Dagster (so runs, materialisations and check results land in the instance and
show up in the UI), as one run for the whole range: the single-run backfill.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from assets.definitions import build_definitions
from assets.partition_ranges import covering_range_tags, range_tags
from assets.resources import ReckonResource


def _execute(
    data_dir: Path,
    job_name: str,
    tags: dict[str, str],
    instance: dg.DagsterInstance | None,
    log_level: str,
) -> dg.ExecuteInProcessResult:
    """Run one job of the code location, pointed at `data_dir`, over the partitions in `tags`."""
    defs = build_definitions(ReckonResource(data_dir=str(data_dir.resolve())))
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    return defs.resolve_job_def(job_name).execute_in_process(
        run_config=run_config, instance=instance, tags=tags, raise_on_error=False
    )


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
    tags = range_tags(start.isoformat(), end.isoformat())
    return _execute(data_dir, job_name, tags, instance, log_level)


def register_inbox(data_dir: Path, instance: dg.DagsterInstance) -> list[str]:
    """What the sensor does on a tick: add every new inbox file as a partition.

    Returns the inbox keys this data directory's warehouse has not parsed yet (new
    files, and any whose rows are missing, e.g. after the warehouse was rebuilt).
    """
    from assets.defs.bills import bill_file_partitions
    from runs.inbox import scan_inbox
    from storage.layout import DataLayout
    from storage.warehouse import connect, read_table

    layout = DataLayout(data_dir.resolve())
    inbox_keys = [f.partition_key for f in scan_inbox(layout.bills_inbox)]
    known = set(instance.get_dynamic_partitions(bill_file_partitions.name))
    new_keys = [k for k in inbox_keys if k not in known]
    if new_keys:
        instance.add_dynamic_partitions(bill_file_partitions.name, new_keys)
    with connect(layout.warehouse_db) as con:
        done = read_table(con, "bill_file_status", schema=pl.Schema({"partition_key": pl.String}))
    parsed = set(done["partition_key"].to_list()) if done.height else set()
    return [k for k in inbox_keys if k not in parsed]


def run_bills(
    data_dir: Path, instance: dg.DagsterInstance, log_level: str = "INFO"
) -> dg.ExecuteInProcessResult | None:
    """Register inbox files and parse the ones not parsed yet in one run (None: nothing to do)."""
    from assets.defs.bills import bill_file_partitions

    pending = register_inbox(data_dir, instance)
    if not pending:
        return None
    ordered = instance.get_dynamic_partitions(bill_file_partitions.name)
    tags = covering_range_tags(pending, ordered)
    return _execute(data_dir, "bills", tags, instance, log_level)


def run_reconciliation(
    data_dir: Path, start: date, end: date, instance: dg.DagsterInstance, log_level: str = "INFO"
) -> dg.ExecuteInProcessResult | None:
    """Register the billing periods overlapping [start, end] and reconcile them in one run."""
    from assets.defs.reconciliation import carrier_period_partitions
    from runs.reconciliation import period_keys
    from storage.layout import DataLayout

    layout = DataLayout(data_dir.resolve())
    if not layout.carriers_file.is_file():
        return None
    keys = period_keys(layout, start, end)
    known = instance.get_dynamic_partitions(carrier_period_partitions.name)
    missing = [k for k in keys if k not in set(known)]
    if missing:
        instance.add_dynamic_partitions(carrier_period_partitions.name, missing)
    tags = covering_range_tags(keys, [*known, *missing])
    return _execute(layout.root, "reconcile_periods", tags, instance, log_level)


def run_everything(
    data_dir: Path, start: date, end: date, instance: dg.DagsterInstance, log_level: str = "INFO"
) -> list[tuple[str, dg.ExecuteInProcessResult]]:
    """The nightly graph over the range, then the bill inbox, then reconciliation, then order
    profitability (it reads costing and the reconciliation): one run each, the same jobs
    the schedule and the sensors launch."""
    results = [("nightly", run_range(data_dir, start, end, instance, log_level=log_level))]
    bills = run_bills(data_dir, instance, log_level=log_level)
    if bills is not None:
        results.append(("bills", bills))
    reconciled = run_reconciliation(data_dir, start, end, instance, log_level=log_level)
    if reconciled is not None:
        results.append(("reconciliation", reconciled))
    profit = run_range(data_dir, start, end, instance, job_name="profit", log_level=log_level)
    results.append(("profit", profit))
    return results
