"""A run killed with its process is failed, so the one-at-a-time queue moves on."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

from assets.defs.inputs import reference_assets
from assets.defs.run_health import dead_run_sensor
from assets.resources import ReckonResource
from assets.run_liveness import HOST_TAG, PID_TAG, dead_runs, fail_dead_runs
from storage.processes import this_host
from tests.foundation.tiny_data import write_tiny_data
from tests.operations.processes import kill, start_python, wait_for

RUN_UNTIL_KILLED = """
import sys, time
from pathlib import Path
import dagster as dg
from assets.run_liveness import owner_tags

home, started = sys.argv[1], Path(sys.argv[2])

@dg.op
def long_step() -> None:
    started.touch()
    time.sleep(300)

@dg.job
def nightly() -> None:
    long_step()

with dg.DagsterInstance.from_config(home) as instance:
    nightly.execute_in_process(instance=instance, tags=owner_tags())
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "dagster_home"
    folder.mkdir()
    return folder


def _start_run(home: Path, tmp_path: Path, name: str):
    started = tmp_path / name
    process = start_python(RUN_UNTIL_KILLED, str(home), str(started))
    wait_for(started, process)
    return process


def _in_progress(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES)))


def test_a_killed_run_is_failed_with_the_reason_and_a_live_one_is_left(
    home: Path, tmp_path: Path
) -> None:
    killed = _start_run(home, tmp_path, "first")
    kill(killed)
    alive = _start_run(home, tmp_path, "second")
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            stuck = _in_progress(instance)
            assert len(stuck) == 2, "the killed run is left STARTED: the fault is real"
            dead_id = next(r.run_id for r in stuck if r.tags[PID_TAG] == str(killed.pid))
            failed = fail_dead_runs(instance)
            assert [d.run_id for d in failed] == [dead_id]
            assert instance.get_run_by_id(dead_id).status == dg.DagsterRunStatus.FAILURE
            reasons = [
                e.message
                for e in instance.all_logs(dead_id, of_type=dg.DagsterEventType.RUN_FAILURE)
            ]
            assert any(f"pid {killed.pid} on {this_host()}) is gone" in r for r in reasons)
            assert [r.tags[PID_TAG] for r in _in_progress(instance)] == [str(alive.pid)]
    finally:
        kill(alive)


def test_the_sensor_fails_dead_runs_so_nothing_is_left_in_progress(
    home: Path, tmp_path: Path
) -> None:
    kill(_start_run(home, tmp_path, "started"))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert len(_in_progress(instance)) == 1
        skipped = dead_run_sensor(dg.build_sensor_context(instance=instance))
        assert "marked 1 run(s) failed" in skipped.skip_message
        assert _in_progress(instance) == [], "the queue has nothing to wait for"
        again = dead_run_sensor(dg.build_sensor_context(instance=instance))
        assert again.skip_message == "no run left behind by a dead process"


def test_a_pid_reused_after_the_run_started_does_not_keep_it_alive(
    home: Path, tmp_path: Path
) -> None:
    kill(_start_run(home, tmp_path, "started"))
    time.sleep(1.5)  # past the clock slack of storage/processes.py
    newcomer = start_python("import time; time.sleep(300)")
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            (run,) = _in_progress(instance)
            instance.add_run_tags(run.run_id, {PID_TAG: str(newcomer.pid)})
            assert [d.run_id for d in dead_runs(instance)] == [run.run_id]
    finally:
        kill(newcomer)


def test_a_run_the_daemon_launches_is_tagged_with_its_process(tmp_path: Path) -> None:
    data = write_tiny_data(tmp_path / "data")
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            reference_assets,
            resources={"reckon": ReckonResource(data_dir=str(data))},
            instance=instance,
        )
        tags = instance.get_run_by_id(result.run_id).tags
    assert tags[PID_TAG] == str(os.getpid()) and tags[HOST_TAG] == this_host()
