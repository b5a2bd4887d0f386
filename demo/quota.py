"""Exact anomaly counts from a stream of days.

The generator works one day at a time, but the ground truth must match the
requested rate over the whole run, not just on average: a `Quota` carries the
fractional remainder from day to day, so after any number of days the count
taken is floor(rate x eligible) (the tests check exactly that).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Quota:
    rate: float
    eligible: int = 0
    taken: int = 0

    def take(self, eligible: int, available: int | None = None) -> int:
        """How many of `eligible` new items to pick now.

        `available` caps today's pick when fewer items qualify than are due; the
        shortfall is picked up on later days, so the run total still meets the rate.
        """
        self.eligible += eligible
        due = math.floor(self.rate * self.eligible + 1e-9) - self.taken
        due = max(0, min(due, eligible if available is None else available))
        self.taken += due
        return due
