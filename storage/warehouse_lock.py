"""One writer at a time on the warehouse, and a clear answer to whoever comes second.

DuckDB lets one process open a database file for writing; a second `reckon run`, or a
run launched from the UI while a `reckon run` is going, would otherwise die half-way
with DuckDB's raw "Could not set lock on file" error, naming neither the holder nor
since when. Before writing, a command or run takes an OS lock (`flock`, through
`filelock`) on `<warehouse>.lock` beside the warehouse file and writes into it who it is
(pid, host, command or run, start time). The kernel drops the lock when the holder's
process ends, however it ends (SIGKILL included), so a dead holder's lock is simply
taken by the next writer and its stale description overwritten: there is no stale-lock
clean-up to get wrong. Within one process the lock is re-entrant (the `reckon run`
command holds it, the Dagster runs it starts and their connections join it).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import psutil
from filelock import FileLock, Timeout

from storage.processes import this_host


@dataclass(frozen=True)
class Holder:
    """Who holds a warehouse, as written in its lock file."""

    pid: int
    host: str
    purpose: str
    since: str
    """ISO 8601, UTC."""

    def describe(self) -> str:
        return f"{self.purpose} (pid {self.pid} on {self.host}) since {self.since}"


class WarehouseInUse(RuntimeError):
    """Another process holds the warehouse; `holder` is None when it could not be read."""

    def __init__(self, warehouse: Path, holder: Holder | None) -> None:
        self.warehouse = warehouse
        self.holder = holder
        who = holder.describe() if holder else "another process (its lock file is unreadable)"
        super().__init__(
            f"warehouse {warehouse} is in use by {who}; DuckDB takes one writer at a time: "
            "wait for it to finish (or stop it) and run again"
        )


def lock_file(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def read_holder(warehouse: Path) -> Holder | None:
    """What the lock file says (the holder's, or the last holder's when free)."""
    try:
        return Holder(**json.loads(lock_file(warehouse).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


@dataclass
class _Held:
    lock: FileLock
    holder: Holder
    depth: int


_HELD: dict[Path, _Held] = {}
_GUARD = threading.RLock()


def _command_line() -> str:
    try:
        return " ".join(psutil.Process().cmdline())[:300]
    except psutil.Error:
        return "unknown command"


@contextmanager
def hold_warehouse(warehouse: Path, purpose: str | None = None) -> Iterator[Holder]:
    """Hold `warehouse` for the duration of the block, or raise `WarehouseInUse` at once.

    `purpose` says who holds it ("reckon run --from ... --to ...", "Dagster run <id>");
    without one, the process's command line. Nested holds in one process share the first
    one's lock; a nested `purpose` is added to the description while its block runs.
    """
    key = warehouse.resolve()
    with _GUARD:
        held = _HELD.get(key)
        if held is None:
            held = _acquire(key, purpose or _command_line())
            _HELD[key] = held
        else:
            held.depth += 1
        outer = held.holder
        if purpose and held.depth > 1 and purpose not in outer.purpose:
            _describe(key, held, replace(outer, purpose=f"{outer.purpose}: {purpose}"))
    try:
        yield held.holder
    finally:
        with _GUARD:
            held.depth -= 1
            if held.depth == 0:
                del _HELD[key]
                held.lock.release()
            elif held.holder != outer:
                _describe(key, held, outer)


def _acquire(warehouse: Path, purpose: str) -> _Held:
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    holder = Holder(
        pid=os.getpid(),
        host=this_host(),
        purpose=purpose,
        since=datetime.now(UTC).isoformat(timespec="seconds"),
    )

    def write_holder(fd: int) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(holder)).encode("utf-8"), 0)

    lock = FileLock(
        lock_file(warehouse),
        blocking=False,
        thread_local=False,
        preserve_lock_file=True,
        on_acquired=write_holder,
    )
    try:
        lock.acquire()
    except Timeout:
        raise WarehouseInUse(warehouse, read_holder(warehouse)) from None
    return _Held(lock, holder, depth=1)


def _describe(warehouse: Path, held: _Held, holder: Holder) -> None:
    """Rewrite the lock file's description (only the holder does; the lock stays held)."""
    lock_file(warehouse).write_text(json.dumps(asdict(holder)), encoding="utf-8")
    held.holder = holder
