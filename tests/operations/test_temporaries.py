"""A temporary file left by a killed writer is removed; a live writer's never is."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
from typer.testing import CliRunner

from reckon.cli import app
from storage.files import remove_dead_writers_temporaries
from tests.foundation.tiny_data import write_tiny_data
from tests.operations.processes import kill, start_python, wait_for

WRITE_UNTIL_KILLED = """
import sys, time
from pathlib import Path
from storage.files import atomic_write
target, writing = Path(sys.argv[1]), Path(sys.argv[2])

def slow(temporary):
    temporary.write_bytes(b"half a file")
    writing.touch()
    time.sleep(300)

atomic_write(target, slow)
"""


def _writer(target: Path, tmp_path: Path, name: str):
    writing = tmp_path / name
    process = start_python(WRITE_UNTIL_KILLED, str(target), str(writing))
    wait_for(writing, process)
    return process


def _temporaries(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".*.tmp"))


def test_a_killed_writers_temporary_goes_and_a_live_writers_stays(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    killed = _writer(exports / "costing_cogs" / "2026-01-05.csv", tmp_path, "a")
    kill(killed)
    alive = _writer(exports / "costing_cogs" / "2026-01-06.csv", tmp_path, "b")
    try:
        left = _temporaries(exports)
        assert len(left) == 2, "the kill left a temporary file: the fault is real"
        removed = remove_dead_writers_temporaries([exports, tmp_path / "missing"])
        assert [p.name for p in removed] == [p.name for p in left if f".{killed.pid}." in p.name]
        assert [p.name for p in _temporaries(exports)] == [
            p.name for p in left if f".{alive.pid}." in p.name
        ]
    finally:
        kill(alive)
    assert len(remove_dead_writers_temporaries([exports])) == 1
    assert _temporaries(exports) == []
    assert not (exports / "costing_cogs" / "2026-01-05.csv").exists(), "never half a file"


def test_a_temporary_older_than_the_process_now_holding_its_pid_is_an_orphan(
    tmp_path: Path,
) -> None:
    """Our pid, but written before this process started: its writer was another process."""
    ours = tmp_path / f".export.csv.{os.getpid()}.0123abcd.tmp"
    ours.write_bytes(b"live")
    reused = tmp_path / f".other.csv.{os.getpid()}.4567cdef.tmp"
    reused.write_bytes(b"orphan")
    before = psutil.Process().create_time() - 60
    os.utime(reused, (before, before))
    assert remove_dead_writers_temporaries([tmp_path]) == [reused]
    assert ours.exists()


def test_reckon_run_removes_what_a_killed_writer_left(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    data = write_tiny_data(tmp_path / "data")
    killed = _writer(data / "quarantine" / "bills" / "abc.json", tmp_path, "a")
    kill(killed)
    assert len(_temporaries(data / "quarantine")) == 1
    started = time.time()
    result = CliRunner().invoke(
        app, ["run", "--data", str(data), "--from", "2026-01-05", "--to", "2026-01-06"]
    )
    assert "[recovered] removed 1 temporary file(s)" in result.output, result.output
    assert _temporaries(data) == []
    assert time.time() - started < 300
