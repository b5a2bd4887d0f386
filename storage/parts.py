"""Findings written bucket by bucket as Parquet parts, so a period's findings are never
all in memory at once (issue 5 item 8: 10M shipments under 8 GB).

A sink is a folder of one carrier period. Each judged bucket becomes
`part-<bucket>.parquet`, written atomically (storage/files.py: a hidden temporary name
renamed into place), so a reader never sees a half-written part. A run first removes
every part of the previous run (a rerun replaces, never adds), and a run that fails
removes what it wrote, so the folder holds either one complete run's parts or none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from storage.files import write_parquet

PART_GLOB = "part-*.parquet"
TEMP_GLOB = ".part-*.tmp"


def part_path(sink: Path, bucket: int) -> Path:
    return sink / f"part-{bucket:05d}.parquet"


def clear_parts(sink: Path) -> None:
    """Remove every part and temporary part in `sink` (nothing else is touched)."""
    if not sink.is_dir():
        return
    for pattern in (PART_GLOB, TEMP_GLOB):
        for path in sink.glob(pattern):
            path.unlink(missing_ok=True)


def write_part(frame: pl.DataFrame, sink: Path, bucket: int) -> Path:
    """Write one bucket's findings atomically.

    LZ4: these are work files read once by the store, so speed beats size."""
    return write_parquet(frame, part_path(sink, bucket), compression="lz4")


def scan_parts(parts: Sequence[Path]) -> pl.LazyFrame:
    """A lazy scan of the parts, bucket after bucket (each bucket in line order)."""
    missing = [p for p in parts if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of {len(parts)} findings parts are gone, e.g. {missing[0]}: the "
            "period's work folder was cleaned after its findings were stored; read them from "
            "the warehouse table reconciliation_findings"
        )
    return pl.scan_parquet(list(parts))


@dataclass(frozen=True)
class ParquetFindingsSink:
    """The Parquet parts of one folder as a pipelines.reconciliation.sink.FindingsSink:
    `reconcile` streams a period's findings into `folder`, one part per bucket."""

    folder: Path

    def clear(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        clear_parts(self.folder)

    def write(self, findings: pl.DataFrame, bucket: int) -> Path:
        return write_part(findings, self.folder, bucket)

    def scan(self, parts: Sequence[Path]) -> pl.LazyFrame:
        return scan_parts(parts)
