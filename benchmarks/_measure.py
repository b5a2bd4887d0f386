"""What every benchmark measures and prints the same way."""

from __future__ import annotations

import json
import resource
from pathlib import Path


def peak_mb() -> float:
    """This process's own peak RSS in MiB: VmHWM, the high-water mark of its address space.

    ru_maxrss is not used: on Linux it carries the parent's RSS across fork + exec, so a
    child of a parent holding 7 GB of prepared data reported 7 GB."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
        kib = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM:"))
        return kib / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(reports: object, json_path: Path | None) -> None:
    """Print the figures as JSON, and write them to `json_path` when given."""
    text = json.dumps(reports, indent=2, default=str)
    print(text)
    if json_path:
        json_path.write_text(text)
