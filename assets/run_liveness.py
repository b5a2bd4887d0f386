"""Runs whose process died are failed, so the one-at-a-time queue moves on.

A run killed with its process (SIGKILL, a crash, the machine rebooting) never reports
its end: Dagster keeps it STARTED forever, and with `max_concurrent_runs: 1`
(dagster.yaml) every queued sensor or schedule run waits behind it. The daemon's run
monitoring cannot see such a death for runs on the default run launcher (it has no
worker health check, only the start and maximum-runtime timeouts), and does not watch
the runs `reckon run` executes in its own process at all.

So every run records the process executing it (pid and host, as run tags): `reckon run`
when it creates its runs, the `reckon` resource when a run starts anywhere else. A run
still STARTING or STARTED whose recorded process no longer runs on this host is marked
failed with the reason, by `reckon run` before it starts and by `dead_run_sensor` every
minute. A pid reused since is not mistaken for the run's process: the run's process was
already running when the run started (storage/processes.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import dagster as dg

from storage.processes import is_running, this_host

PID_TAG = "reckon/pid"
HOST_TAG = "reckon/host"


def owner_tags() -> dict[str, str]:
    """Run tags naming this process as the one executing the run."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: this_host()}


def owned_by_launcher(run: dg.DagsterRun) -> bool:
    """Whether the process that created `run` tagged it as its own (`reckon run`). A
    re-execution inherits its parent's tags, which name the parent's process, not its own."""
    return PID_TAG in run.tags and run.parent_run_id is None


def record_owner(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    """Tag `run` with this process unless its launcher already did."""
    if not owned_by_launcher(run):
        instance.add_run_tags(run.run_id, owner_tags())


@dataclass(frozen=True)
class DeadRun:
    run_id: str
    job_name: str
    pid: int
    host: str

    @property
    def reason(self) -> str:
        return (
            f"Marked failed by reckon: the process executing this run (pid {self.pid} on "
            f"{self.host}) is gone, so it was killed or crashed before it could report. What it "
            "wrote is replaced whole when its partitions run again."
        )


def dead_runs(instance: dg.DagsterInstance) -> list[DeadRun]:
    """Runs STARTING or STARTED whose recorded process on this host is not running."""
    host = this_host()
    statuses = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
    found = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=statuses)):
        run = record.dagster_run
        pid = run.tags.get(PID_TAG)
        if pid is None or not pid.isdigit() or run.tags.get(HOST_TAG) != host:
            continue
        started = record.start_time or record.create_timestamp.timestamp()
        if not is_running(int(pid), alive_at=started):
            found.append(DeadRun(run.run_id, run.job_name, int(pid), host))
    return found


def fail_dead_runs(instance: dg.DagsterInstance) -> list[DeadRun]:
    """Mark every dead run failed (the reason in its event log); returns them."""
    failed = []
    for dead in dead_runs(instance):
        run = instance.get_run_by_id(dead.run_id)
        if run is None or run.is_finished:
            continue
        instance.report_run_failed(run, dead.reason)
        failed.append(dead)
    return failed
