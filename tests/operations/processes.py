"""Real helper processes for the fault tests: started in their own session, waited for
through a file they write, killed with SIGKILL by their own process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def clean_env() -> dict[str, str]:
    """The environment a new shell would give reckon: no Dagster home or data dir inherited."""
    return {k: v for k, v in os.environ.items() if k not in {"DAGSTER_HOME", "RECKON_DATA_DIR"}} | {
        "PYTHONPATH": str(ROOT)
    }


def start_python(code: str, *args: str) -> subprocess.Popen[bytes]:
    """`python -c code args...` from the repository root, in a process group of its own."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=clean_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for(path: Path, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Until `path` exists; fails with the process's stderr if it ends first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"helper ended first: {process.stderr.read().decode()[-3000:]}")
        if time.monotonic() > deadline:
            kill(process)
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.05)


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the helper and everything it started (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    if process.stderr is not None:
        process.stderr.close()
