"""Atomic file writes: the one way reckon puts a file where someone else reads it.

Exports are picked up by the ERP, bills by the inbox sensor, raw copies and parsed frames
by later runs. Each file is written under a hidden temporary name in its own folder,
flushed to disk, then renamed over the target (`os.replace`, atomic on one file system), so
a reader sees the old file or the new one, never half of one, and a rerun replaces the file
instead of adding a second. If writing fails, the temporary file is removed and the old
file, if any, is left as it was. A writer killed between the two (SIGKILL, a crash) leaves
its temporary file behind; the next run removes it once its writer's process is gone
(`remove_dead_writers_temporaries`).
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import polars as pl
import xlsxwriter

from storage.processes import is_running

ParquetCompression = Literal["lz4", "zstd", "snappy", "uncompressed"]
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
TEMPORARY_NAME = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")


def atomic_write(path: Path, write: Callable[[Path], object], *, read_only: bool = False) -> Path:
    """Let `write` fill a temporary file beside `path`, then rename it over `path`.

    The temporary file is created with the permissions a plain `open(path, "w")` would
    give (the umask applies), and is named `.<name>.<pid>.<random>.tmp` so folder scans that
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


WORKBOOK_CREATED = datetime(2000, 1, 1, tzinfo=UTC)
"""The creation date every workbook carries. xlsxwriter would stamp the time of writing,
so two runs over the same rows would give different bytes; the data's dates are in the data."""
WORKBOOK_OPTIONS = {
    # what Polars sets when it opens the workbook itself: text is never a formula
    "strings_to_formulas": False,
    "nan_inf_to_errors": True,
    "default_date_format": "yyyy-mm-dd;@",
}


def write_xlsx(frame: pl.DataFrame, path: Path, *, worksheet: str) -> Path:
    """`frame` as a one-sheet Excel workbook with columns fitted to their contents, atomically;
    the same frame always gives the same bytes (`WORKBOOK_CREATED`)."""

    def write(temporary: Path) -> None:
        with xlsxwriter.Workbook(temporary, WORKBOOK_OPTIONS) as workbook:
            workbook.set_properties({"created": WORKBOOK_CREATED})
            frame.write_excel(workbook, worksheet=worksheet, autofit=True)

    return atomic_write(path, write)


def remove_dead_writers_temporaries(folders: Iterable[Path]) -> list[Path]:
    """Remove the temporary files under `folders` whose writer is no longer running.

    The writer's pid is in the name (`atomic_write`); a file whose pid now belongs to a
    process started after the file was last written is an orphan too (the pid was
    reused). A live writer's file is never touched. The data directory is local to the
    host that writes it (README, "The data directory"), so pids are this host's. Returns
    the files removed.
    """
    removed = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.rglob(".*.tmp"):
            named = TEMPORARY_NAME.match(path.name)
            if named is None or not path.is_file():
                continue
            try:
                written = path.stat().st_mtime
            except FileNotFoundError:
                continue
            if not is_running(int(named["pid"]), alive_at=written):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed
