"""A real, throw-away Dask cluster on 127.0.0.1: one `dask scheduler` and two `dask worker`
processes, started as a deployment starts them (the `dask` command line), stopped after.

Workers run without a nanny, so killing one (SIGKILL, as a crashed machine) really loses
it: the scheduler sees the worker gone and runs its tasks again on the other one. They
import reckon's modules from the repository (PYTHONPATH), as a deployment's workers import
the installed package.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60


@dataclass
class DaskCluster:
    address: str
    workers: list[subprocess.Popen[bytes]]

    def kill_worker(self, index: int) -> None:
        """SIGKILL one worker process: no goodbye to the scheduler, as a machine lost."""
        self.workers[index].send_signal(signal.SIGKILL)
        self.workers[index].wait(timeout=30)


def _dask(*args: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPOSITORY)}
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(Path(sys.executable).with_name("dask")), *args],
            cwd=REPOSITORY,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(count, timeout=START_TIMEOUT_S)


@contextmanager
def dask_cluster(
    folder: Path, workers: int = 2, env: dict[str, str] | None = None
) -> Iterator[DaskCluster]:
    """Start the scheduler and `workers` single-threaded workers (with `env` added to their
    environment, e.g. an object store's credentials); stop them all after."""
    scheduler_file = folder / "scheduler.json"
    processes = [
        _dask(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
            log=folder / "scheduler.log",
        )
    ]
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not scheduler_file.exists():
            if processes[0].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "scheduler.log").read_text())
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        for k in range(workers):
            processes.append(
                _dask(
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--memory-limit",
                    "0",
                    "--name",
                    f"worker-{k}",
                    log=folder / f"worker-{k}.log",
                    env=env,
                )
            )
        _wait_for_workers(address, workers)
        yield DaskCluster(address, processes[1:])
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
