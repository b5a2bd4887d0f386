"""Fault injection (issue 2/6, "Tests and figures"): `reckon run` as a real subprocess,
killed with SIGKILL at seeded points, then run again: exports byte-identical to a clean
run's, no temporary file left, no run left STARTED, nothing for the queue to wait on.

Kill points are drawn from a seeded RNG: after a number of seconds, or as soon as a given
file appears (an export, the raw bill store, a reconciliation's work folder), each on top
of what the previous kill left.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

from demo.generate import generate
from tests.operations.processes import ROOT, clean_env, kill

SEED = 20260101
START, END = date(2026, 1, 1), date(2026, 1, 21)
"""Three weeks at scale 1: ~8k movements, two inbox bills (XML, PDF), five carriers."""
WATCHED = ("exports/costing_cogs", "raw", "exports/payable_vouchers", "work/reconciliation")

pytestmark = pytest.mark.slow


def _command(data: Path) -> list[str]:
    return [sys.executable, "-m", "reckon.cli", "run", "--data", str(data),
            "--from", START.isoformat(), "--to", END.isoformat()]  # fmt: skip


def _run_to_the_end(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(data), cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=900
    )


def _run_until_killed(data: Path, when: str | float, log: Path) -> bool:
    """Start `reckon run`, SIGKILL it when `when` (a path under `data`, or seconds) comes;
    True if it was killed before finishing."""
    with log.open("w") as out:
        process = subprocess.Popen(
            _command(data), cwd=ROOT, env=clean_env(), start_new_session=True,
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    began = time.monotonic()
    while process.poll() is None:
        due = (
            time.monotonic() - began >= when if isinstance(when, float) else (data / when).exists()
        )
        if due:
            kill(process)
            return True
        time.sleep(0.02)
    return False


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _in_progress(data: Path) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_config(str(data / ".dagster_home")) as instance:
        return list(instance.get_runs(dg.RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES)))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faults") / "inputs"
    generate(root, scale=1, seed=7, start=START, end=END)
    return root


@pytest.fixture(scope="module")
def clean(inputs: Path) -> tuple[Path, dict[str, str], float]:
    """A clean run's data directory, the sha256 of every export, and how long it took."""
    data = inputs.parent / "clean"
    shutil.copytree(inputs, data)
    began = time.monotonic()
    done = _run_to_the_end(data)
    took = time.monotonic() - began
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return data, _digests(data / "exports"), took


def test_a_rerun_writes_byte_identical_exports(clean) -> None:
    data, first, _ = clean
    assert len(first) > 100
    done = _run_to_the_end(data)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert _digests(data / "exports") == first


def test_runs_killed_at_seeded_points_leave_nothing_doubled_stale_or_stuck(
    inputs: Path, clean, tmp_path: Path
) -> None:
    _, expected, clean_seconds = clean
    data = tmp_path / "faulted"
    shutil.copytree(inputs, data)
    rng = random.Random(SEED)
    points: list[str | float] = [*rng.sample(WATCHED, 2), round(rng.uniform(2, clean_seconds), 1)]
    killed, left_started, recovered = [], 0, []
    for number, when in enumerate(points):
        log = tmp_path / f"killed_{number}.log"
        if _run_until_killed(data, when, log):
            killed.append(when)
            left_started += len(_in_progress(data))
        recovered += [line for line in log.read_text().splitlines() if "[recovered]" in line]
    assert killed, f"no kill point came before the run ended: {points}"
    assert left_started, "no kill left a run STARTED: the fault was not exercised"
    final = _run_to_the_end(data)
    recovered += [line for line in final.stdout.splitlines() if "[recovered]" in line]
    assert final.returncode == 0, final.stdout[-4000:] + final.stderr[-4000:]
    assert any("is gone" in line for line in recovered), recovered
    assert _digests(data / "exports") == expected, "exports differ from the clean run's"
    assert sorted(data.rglob(".*.tmp")) == [], "a temporary file was left"
    assert _in_progress(data) == [], "a run was left STARTED: the queue would wait on it"
