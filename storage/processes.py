"""Is the process that left something behind still running? (A run record, a temp file.)

A pid alone is not proof: the kernel reuses pids, so a pid recorded hours ago may now
belong to an unrelated process. When the caller knows a moment at which the process it
means was already running, a process with that pid created later is not it.
"""

from __future__ import annotations

import socket

import psutil

CLOCK_SLACK_SECONDS = 1.0
"""Process creation times are read from /proc at a coarser resolution than time.time()."""


def this_host() -> str:
    """The name recorded beside a pid: a pid only means something on the host it came from."""
    return socket.gethostname()


def is_running(pid: int, alive_at: float | None = None) -> bool:
    """Whether process `pid` exists (not a zombie) and, when `alive_at` (a Unix time) is
    given, was created no later than it, i.e. is the same process and not a reused pid."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        created = process.create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True
    return alive_at is None or created <= alive_at + CLOCK_SLACK_SECONDS
