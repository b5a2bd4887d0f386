"""Run each bill file's parse in a worker process with a time and a memory budget.

A bill is outside input (DOMAIN.md: many formats, nothing silently dropped), and a
parser bug or a hostile file can hang, allocate without end or kill the process
that reads it. One file must never take its batch down with it, nor every later
run: each worker parses one file at a time under an address-space limit
(RLIMIT_AS), the parent watches the clock and the worker's exit, and a file whose
worker dies, runs over its time or runs out of memory gets a failure of its own
(the caller quarantines it) while a fresh worker takes the remaining files.

Workers are spawned, never forked: the caller (a Dagster run, Polars' thread pool)
has threads whose locks a forked child would inherit held, and it would hang.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")

SECONDS_ENV = "RECKON_PARSE_SECONDS"
MEMORY_ENV = "RECKON_PARSE_MEMORY_MB"


@dataclass(frozen=True)
class ParseBudget:
    """What one file's parse may use. `memory_bytes` bounds the worker's whole address
    space (Python, Polars and calamine together; a worker needs ~1.5 GB of address space
    to start and parse an ordinary bill); None lifts it."""

    seconds: float = 600.0
    memory_bytes: int | None = 4 * 2**30

    @classmethod
    def from_env(cls) -> ParseBudget:
        """The defaults, or RECKON_PARSE_SECONDS / RECKON_PARSE_MEMORY_MB (0: no limit)."""
        default = cls()
        seconds = float(os.environ.get(SECONDS_ENV, default.seconds))
        memory = os.environ.get(MEMORY_ENV)
        if memory is None:
            return cls(seconds, default.memory_bytes)
        return cls(seconds, int(memory) * 2**20 or None)


@dataclass(frozen=True)
class WorkerFailure:
    """Why a job has no result: `code` is the quarantine code, `detail` the cause."""

    code: str
    detail: str


class WorkerStartError(RuntimeError):
    """A worker died before it could take a file: no file is to blame, the run fails."""


def _worker_main(
    conn: Connection,
    memory_bytes: int | None,
    initializer: Callable[..., None],
    initargs: tuple[Any, ...],
    work: Callable[[Any], Any],
) -> None:
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    initializer(*initargs)
    conn.send(("ready", None))
    while (job := conn.recv()) is not None:
        try:
            reply = ("done", work(job))
        except MemoryError:
            reply = ("memory", "MemoryError")
        except BaseException:
            reply = ("error", traceback.format_exc(limit=8))
        try:
            conn.send(("result", reply))
        except MemoryError:
            conn.send(("result", ("memory", "MemoryError while returning the result")))


@dataclass
class _Worker(Generic[Job]):
    process: BaseProcess
    conn: Connection
    ready: bool = False
    task: tuple[int, Job] | None = None
    """The job it works on now, with its position in the jobs."""
    started: float = 0.0

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


def _exit_detail(process: BaseProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (the kernel's out-of-memory killer sends this too)" if name == "SIGKILL" else ""
        return f"the parser worker was killed by {name}{hint}"
    return f"the parser worker exited with code {code}"


def run_isolated(
    jobs: Sequence[Job],
    work: Callable[[Job], Result],
    on_failure: Callable[[Job, WorkerFailure], Result],
    *,
    workers: int,
    budget: ParseBudget,
    initializer: Callable[..., None],
    initargs: tuple[Any, ...] = (),
) -> list[Result]:
    """`work(job)` for every job, in order, each in a worker process under `budget`.

    `work` and `initializer` must be importable module-level functions (workers are
    spawned). A job whose worker dies gets `on_failure(job, WorkerFailure('parser_crash'))`,
    one over time `parse_timeout` (its worker is killed), one out of memory
    `parse_memory`; the clock starts when a started worker takes the job. An exception
    `work` itself raises fails the whole call, naming the job: it is the caller's own
    I/O (the raw store, the parsed store), not the file's fault.
    """
    pool = _Pool(jobs, work, on_failure, workers, budget, initializer, initargs)
    try:
        return pool.run()
    finally:
        pool.close()


class _Pool(Generic[Job, Result]):
    def __init__(
        self,
        jobs: Sequence[Job],
        work: Callable[[Job], Result],
        on_failure: Callable[[Job, WorkerFailure], Result],
        workers: int,
        budget: ParseBudget,
        initializer: Callable[..., None],
        initargs: tuple[Any, ...],
    ) -> None:
        self.jobs: Sequence[Job] = jobs
        self.work, self.on_failure = work, on_failure
        self.size, self.budget = workers, budget
        self.initializer, self.initargs = initializer, initargs
        self.context = get_context("spawn")
        self.results: dict[int, Result] = {}
        self.pending = deque(range(len(jobs)))
        self.workers: list[_Worker[Job]] = []

    def run(self) -> list[Result]:
        for _ in range(min(self.size, len(self.jobs))):
            self._start()
        while len(self.results) < len(self.jobs):
            self._dispatch()
            busy = [w for w in self.workers if w.task is not None]
            deadline = min((w.started + self.budget.seconds for w in busy), default=None)
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            wait(
                [w.conn for w in self.workers] + [w.process.sentinel for w in self.workers], timeout
            )
            for worker in list(self.workers):
                self._step(worker)
        return [self.results[i] for i in range(len(self.jobs))]

    def close(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in self.workers:
            worker.process.join(timeout=5)
            worker.stop()

    def _start(self) -> None:
        parent, child = self.context.Pipe()
        process = self.context.Process(
            target=_worker_main,
            args=(child, self.budget.memory_bytes, self.initializer, self.initargs, self.work),
            daemon=True,
            name="reckon-parser",
        )
        process.start()
        child.close()
        self.workers.append(_Worker(process, parent))

    def _dispatch(self) -> None:
        for worker in self.workers:
            if worker.ready and worker.task is None and self.pending:
                index = self.pending.popleft()
                worker.task = (index, self.jobs[index])
                worker.started = time.monotonic()
                worker.conn.send(self.jobs[index])

    def _retire(self, worker: _Worker[Job], failure: WorkerFailure) -> None:
        """Stop `worker`, give its job (if it had one) `failure`, and start a replacement if
        files wait."""
        worker.stop()
        self.workers.remove(worker)
        if worker.task is not None:
            index, job = worker.task
            self.results[index] = self.on_failure(job, failure)
        if len(self.workers) < min(self.size, len(self.pending)):
            self._start()

    def _step(self, worker: _Worker[Job]) -> None:
        """Take what one worker has to say: ready, a result, its death, or its time is up."""
        message = None
        if worker.conn.poll():
            try:
                message = worker.conn.recv()
            except EOFError:
                message = None
        if message is not None:
            kind, payload = message
            if kind == "ready":
                worker.ready = True
            else:
                self._take(worker, payload)
            return
        if not worker.process.is_alive() or worker.conn.poll():
            worker.process.join()
            if not worker.ready:
                raise WorkerStartError(
                    f"a parser worker died before it was ready: {_exit_detail(worker.process)}; "
                    f"is the memory budget ({self.budget.memory_bytes} bytes, {MEMORY_ENV}) "
                    "below what a worker needs to start?"
                )
            self._retire(worker, WorkerFailure("parser_crash", _exit_detail(worker.process)))
            return
        if worker.task is not None and time.monotonic() - worker.started > self.budget.seconds:
            detail = f"parsing took longer than its budget of {self.budget.seconds:g} s"
            self._retire(worker, WorkerFailure("parse_timeout", detail))

    def _take(self, worker: _Worker[Job], reply: tuple[str, Any]) -> None:
        status, value = reply
        if worker.task is None:
            raise RuntimeError(f"a parser worker replied {status!r} with no job sent to it")
        index, job = worker.task
        if status == "done":
            self.results[index] = value
            worker.task = None
        elif status == "memory":
            detail = f"{value} under the memory budget of {self.budget.memory_bytes} bytes"
            self._retire(worker, WorkerFailure("parse_memory", detail))
        else:
            raise RuntimeError(f"ingesting {job!r} failed outside the parser:\n{value}")
