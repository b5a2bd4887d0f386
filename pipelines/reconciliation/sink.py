"""Where a period's findings go when they must not all be held in memory.

Issue 5 item 8 (10M shipments under 8 GB): `reconcile` judges the lines bucket by bucket
and hands each bucket's findings to a sink instead of keeping them. The engine stays pure:
it only calls the protocol below; storage.parts.ParquetFindingsSink writes the buckets
as Parquet parts, and a test may pass any object with the same methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import polars as pl


class FindingsSink(Protocol):
    """One carrier period's findings, stored bucket by bucket."""

    def clear(self) -> None:
        """Remove every part already stored (a previous run's, or this failed run's)."""

    def write(self, findings: pl.DataFrame, bucket: int) -> Path:
        """Store one bucket's findings (in line order) and say where they are."""

    def scan(self, parts: Sequence[Path]) -> pl.LazyFrame:
        """The stored `parts` as one lazy frame, bucket after bucket."""
