"""Atomic file writes: the one way reckon puts a file where someone else reads it.

Exports are picked up by the ERP, bills by the inbox sensor, raw copies and parsed frames
by later runs. Each file is written under a hidden temporary name in its own folder,
flushed to disk, then renamed over the target (`os.replace`, atomic on one file system), so
a reader sees the old file or the new one, never half of one, and a rerun replaces the file
instead of adding a second. If writing fails, the temporary file is removed and the old
file, if any, is left as it was.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import polars as pl

ParquetCompression = Literal["lz4", "zstd", "snappy", "uncompressed"]
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


def atomic_write(path: Path, write: Callable[[Path], object], *, read_only: bool = False) -> Path:
    """Let `write` fill a temporary file beside `path`, then rename it over `path`.

    The temporary file is created with the permissions a plain `open(path, "w")` would
    give (the umask applies), and is named `.<name>.<random>.tmp` so folder scans that
    skip hidden files never pick it up. `read_only` marks an immutable copy (the raw
    store, DOMAIN.md: keep provenance of every number): nobody may edit it in place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        if read_only:
            temporary.chmod(READ_ONLY)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: Path, data: bytes, *, read_only: bool = False) -> Path:
    """`data` as the whole content of `path`, atomically."""
    return atomic_write(path, lambda temporary: temporary.write_bytes(data), read_only=read_only)


def write_csv(frame: pl.DataFrame, path: Path, *, bom: bool = True) -> Path:
    """`frame` as CSV, atomically. The UTF-8 byte-order mark (on by default) is what makes
    Excel, the finance team's and the carriers' reader, show Chinese text correctly."""
    return atomic_write(path, lambda temporary: frame.write_csv(temporary, include_bom=bom))


def write_parquet(
    frame: pl.DataFrame, path: Path, *, compression: ParquetCompression = "zstd"
) -> Path:
    """`frame` as Parquet, atomically; zstd (Polars' default) unless the caller says why not."""
    return atomic_write(
        path, lambda temporary: frame.write_parquet(temporary, compression=compression)
    )


def write_xlsx(frame: pl.DataFrame, path: Path, *, worksheet: str) -> Path:
    """`frame` as a one-sheet Excel workbook with columns fitted to their contents, atomically."""
    return atomic_write(
        path, lambda temporary: frame.write_excel(temporary, worksheet=worksheet, autofit=True)
    )
