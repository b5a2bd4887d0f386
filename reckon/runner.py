"""Run the asset graph over a range of days in-process: what `reckon run` and `make demo` do.

It is the same graph, resources and checks the UI runs, executed through
Dagster (so runs, materialisations and check results land in the instance and
show up in the UI), as one run for the whole range: the single-run backfill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
from dagster._core.storage.tags import PARTITION_NAME_TAG

from assets.definitions import build_definitions
from assets.partition_ranges import covering_range_tags, range_tags
from assets.resources import ReckonResource
from assets.run_liveness import DeadRun, fail_dead_runs, owner_tags
from reckon.location_runs import execute_in_location
from storage.files import remove_dead_writers_temporaries
from storage.layout import DataLayout


def _execute(
    data_dir: Path,
    job_name: str,
    tags: dict[str, str],
    instance: dg.DagsterInstance | None,
    log_level: str,
    asset_selection: list[dg.AssetKey] | None = None,
) -> dg.ExecuteInProcessResult:
    """Run one job of the code location, pointed at `data_dir`, over the partitions in `tags`
    (or only `asset_selection` of it), tagged with this process (assets/run_liveness.py:
    failed if the process dies), recorded as a run of the code location the UI loads
    (reckon/location_runs.py)."""
    defs = build_definitions(ReckonResource(data_dir=str(data_dir.resolve())))
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    job = defs.resolve_job_def(job_name)
    if instance is None:  # nothing to record the run in: a throwaway instance
        with dg.DagsterInstance.ephemeral() as ephemeral:
            return execute_in_location(
                job, ephemeral, run_config, {**tags, **owner_tags()}, asset_selection
            )
    return execute_in_location(job, instance, run_config, {**tags, **owner_tags()}, asset_selection)


@dataclass(frozen=True)
class Recovered:
    """What a killed predecessor left behind and the start of this run cleared."""

    failed_runs: list[DeadRun]
    removed_temporaries: list[Path]


def recover(data_dir: Path, instance: dg.DagsterInstance) -> Recovered:
    """Fail the runs whose process is gone, so the queue moves on, and remove the
    temporary files of dead writers (storage/files.py). Call it holding the warehouse."""
    layout = DataLayout(data_dir.resolve())
    return Recovered(
        fail_dead_runs(instance), remove_dead_writers_temporaries(layout.written_folders)
    )


def run_range(
    data_dir: Path,
    start: date,
    end: date,
    instance: dg.DagsterInstance | None = None,
    job_name: str = "nightly",
    log_level: str = "INFO",
) -> dg.ExecuteInProcessResult:
    """Materialise `job_name` for every day in [start, end] as one run (one day: a nightly
    run of that day's partition)."""
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    if start == end:
        tags = {PARTITION_NAME_TAG: start.isoformat()}
    else:
        tags = range_tags(start.isoformat(), end.isoformat())
    return _execute(data_dir, job_name, tags, instance, log_level)


def register_inbox(data_dir: Path, instance: dg.DagsterInstance) -> list[str]:
    """What the sensor does on a tick (runs/inbox.py `inbox_work`): add every new inbox file
    as a partition.

    Returns the keys this data directory's warehouse has to take in or withdraw: inbox
    files not parsed yet (new files, files back after a withdrawal, and any whose rows are
    missing, e.g. after the warehouse was rebuilt), then files taken in whose bytes have
    left the inbox (removed, or replaced by a corrected file under the same name).
    """
    from assets.defs.bills import BILL_FILE_KEYS
    from pipelines.contracts.bills import TAKEN_IN
    from runs.inbox import absent_keys, inbox_work
    from storage.warehouse import connect, read_table

    layout = DataLayout(data_dir.resolve())
    work = inbox_work(layout.bills_inbox, instance.get_dynamic_partitions(BILL_FILE_KEYS))
    inbox_keys = [f.partition_key for f in work.survey.files]
    if work.new_keys:
        instance.add_dynamic_partitions(BILL_FILE_KEYS, work.new_keys)
    schema = pl.Schema({"partition_key": pl.String, "status": pl.String})
    with connect(layout.warehouse_db) as con:
        done = read_table(con, "bill_file_status", schema=schema)
    parsed = set(done.filter(pl.col("status") != "withdrawn")["partition_key"].to_list())
    taken = done.filter(pl.col("status").is_in(TAKEN_IN))["partition_key"].to_list()
    gone = absent_keys(work.survey.files, taken)
    return [k for k in inbox_keys if k not in parsed] + gone


def run_bills(
    data_dir: Path, instance: dg.DagsterInstance, log_level: str = "INFO"
) -> dg.ExecuteInProcessResult | None:
    """Register inbox files and parse the ones not parsed yet in one run; or, when only the
    inbox entries refused as bill files changed, refresh `bill_quarantine` (None: nothing
    to do)."""
    from assets.defs.bills import BILL_FILE_KEYS

    pending = register_inbox(data_dir, instance)
    if not pending:
        if not _refused_entries_changed(data_dir):
            return None
        quarantine = [dg.AssetKey("bill_quarantine")]
        return _execute(data_dir, "bills", {}, instance, log_level, asset_selection=quarantine)
    ordered = instance.get_dynamic_partitions(BILL_FILE_KEYS)
    tags = covering_range_tags(pending, ordered)
    return _execute(data_dir, "bills", tags, instance, log_level)


def _refused_entries_changed(data_dir: Path) -> bool:
    """Whether the inbox entries refused as bill files differ from the last bill_quarantine."""
    from runs.inbox import survey_inbox
    from storage.layout import DataLayout
    from storage.warehouse import connect, read_table

    layout = DataLayout(data_dir.resolve())
    now = {(e.name, e.code) for e in survey_inbox(layout.bills_inbox).refused}
    schema = pl.Schema({"file_name": pl.String, "sha256": pl.String, "error_code": pl.String})
    with connect(layout.warehouse_db) as con:
        stored = read_table(con, "bill_quarantine", schema=schema)
    refused = stored.filter(pl.col("sha256").is_null()) if stored.height else stored
    return now != set(zip(refused["file_name"], refused["error_code"], strict=True))


def _carriers_of_bills(result: dg.ExecuteInProcessResult) -> list[str]:
    """The carriers whose bill files a bills run took in or withdrew."""
    from runs.partition_keys import bill_file_key_carrier

    return sorted(
        {
            bill_file_key_carrier(event.partition)
            for event in result.get_asset_materialization_events()
            if event.asset_key == dg.AssetKey("bill_lines") and event.partition
        }
    )


def run_reconciliation(
    data_dir: Path,
    start: date,
    end: date,
    instance: dg.DagsterInstance,
    log_level: str = "INFO",
    carriers: list[str] | None = None,
) -> dg.ExecuteInProcessResult | None:
    """Register the billing periods overlapping [start, end] and reconcile them in one run,
    with every period an earlier run failed (runs/reconciliation.py), so a fixed input is
    picked up without naming its period, and every registered period up to `end` of the
    `carriers` whose bills changed (a late, corrected or withdrawn bill changes earlier
    periods too; the sensor does the same)."""
    from assets.defs.reconciliation import CARRIER_PERIOD_KEYS
    from runs.partition_keys import period_key_carrier, split_period_key
    from runs.reconciliation import failed_period_keys, period_keys

    layout = DataLayout(data_dir.resolve())
    if not layout.carriers_file.is_file():
        return None
    keys = period_keys(layout, start, end)
    known = instance.get_dynamic_partitions(CARRIER_PERIOD_KEYS)
    if carriers:  # the periods registered so far (by earlier runs or the sensor)
        keys += [
            k
            for k in known
            if period_key_carrier(k) in carriers
            and split_period_key(k)[1] <= end
            and k not in set(keys)
        ]
    keys += [k for k in failed_period_keys(layout) if k not in set(keys)]
    missing = [k for k in keys if k not in set(known)]
    if missing:
        instance.add_dynamic_partitions(CARRIER_PERIOD_KEYS, missing)
    tags = covering_range_tags(keys, [*known, *missing])
    return _execute(layout.root, "reconcile_periods", tags, instance, log_level)


def run_everything(
    data_dir: Path,
    start: date,
    end: date,
    instance: dg.DagsterInstance,
    log_level: str = "INFO",
    nightly_days: int = 0,
) -> list[tuple[str, dg.ExecuteInProcessResult]]:
    """The nightly graph over the range, then the bill inbox, then reconciliation, then order
    profitability (it reads costing and the reconciliation): one run each, the same jobs
    the schedule and the sensors launch. With `nightly_days`, the last that many days of
    the range run as nightly runs of one day each after the backfill of the days before
    (what production looks like after a go-live: each of those days has its own
    materialization and figures in the UI)."""
    nightly_days = min(nightly_days, (end - start).days)
    backfill_end = end - timedelta(days=nightly_days)
    results = [("nightly", run_range(data_dir, start, backfill_end, instance, log_level=log_level))]
    for offset in range(nightly_days, 0, -1):
        day = end - timedelta(days=offset - 1)
        results.append(
            (f"nightly {day}", run_range(data_dir, day, day, instance, log_level=log_level))
        )
    bills = run_bills(data_dir, instance, log_level=log_level)
    if bills is not None:
        results.append(("bills", bills))
    changed = _carriers_of_bills(bills) if bills is not None else []
    reconciled = run_reconciliation(
        data_dir, start, end, instance, log_level=log_level, carriers=changed
    )
    if reconciled is not None:
        results.append(("reconciliation", reconciled))
    profit = run_range(data_dir, start, end, instance, job_name="profit", log_level=log_level)
    results.append(("profit", profit))
    return results
