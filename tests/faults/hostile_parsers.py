"""A parser plugin for the tests: it misbehaves as the file tells it to.

Registered only in the tests' own registries. It lives in a module (not a test
function) because parser workers are spawned and import it by name.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from parsers.base import Candidate, ParseContext, Parser, Sniff
from parsers.model import ParseResult

ALLOCATE_BYTES = 6 * 2**30
"""More than the tests' memory budget; bytearray() asks for zeroed pages, so without a
budget the allocation succeeds without touching the machine's memory."""


class HostileParser(Parser):
    """Reads `*.hostile` files; the first word says how it fails: `hang`, `allocate`,
    `sigkill` (the worker kills itself) or `abort`."""

    name = "hostile-test"
    version = "1"
    formats = ("hostile",)
    description = "test plugin that hangs, allocates or dies"

    def sniff(self, candidate: Candidate, template=None) -> Sniff:
        if candidate.suffix != ".hostile":
            return Sniff(0.0, "not a .hostile file")
        return Sniff(0.99, "a .hostile test file")

    def parse(self, path: Path, ctx: ParseContext, template=None) -> ParseResult:
        action = path.read_text().split()[0]
        if action == "hang":
            time.sleep(3600)
        elif action == "allocate":
            hog = bytearray(ALLOCATE_BYTES)
            raise ValueError(f"allocated {len(hog)} bytes and then gave up")
        elif action == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "abort":
            os.abort()
        raise ValueError(f"unknown action {action!r}")
