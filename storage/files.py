"""Atomic file writes: the one way reckon puts a file where someone else reads it.

Exports are picked up by the ERP, bills by the inbox sensor, raw copies and parsed frames
by later runs. Each file is written under a hidden temporary name in its own folder,
flushed to disk, then renamed over the target (`os.replace`, atomic on one file system), so
a reader sees the old file or the new one, never half of one, and a rerun replaces the file
instead of adding a second. If writing fails, the temporary file is removed and the old
file, if any, is left as it was. A writer killed between the two (SIGKILL, a crash) leaves
its temporary file behind; the next run removes it once its writer's process is gone
(`remove_dead_writers_temporaries`).

Permissions are part of the contract (docs/operations.md): a file written with a `mode`
gets exactly those bits whatever the process umask, and the folders created for it get
FOLDER_MODE (0755). The raw store is RAW_FILE_MODE (0444: nobody edits a copy in place),
exports EXPORT_FILE_MODE (0644: the ERP's account reads them).

CSV and XLSX are written for Excel, so text cells that Excel would run as a formula are
escaped (`excel_safe`, OWASP's CSV injection guidance); Parquet keeps the text as it is.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Literal

import polars as pl
import xlsxwriter

from storage.processes import is_running

ParquetCompression = Literal["lz4", "zstd", "snappy", "uncompressed"]
RAW_FILE_MODE = 0o444
EXPORT_FILE_MODE = 0o644
FOLDER_MODE = 0o755
FORMULA_START = r"^[=+\-@\t\r]"
"""OWASP CSV injection: a cell starting with = + - @ tab or carriage return may be run
as a formula by Excel (and LibreOffice, Google Sheets)."""
TEMPORARY_NAME = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")
"""`.<name>.<pid>.<random>.tmp`: the writer's pid is in the name, so a dead writer's file
can be told from a live one's."""


class NotARegularFile(OSError):
    """A path that is a symbolic link, a folder, a fifo, a socket or a device."""


def is_temporary_name(name: str) -> bool:
    """Whether `name` is the temporary file of an `atomic_write` still in progress."""
    return bool(TEMPORARY_NAME.match(name))


def is_regular_file(path: Path) -> bool:
    """A regular file itself, not a symbolic link to one (lstat, nothing followed)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading only if it is a regular file: a symbolic link is not
    followed (O_NOFOLLOW) and a fifo is not waited on (O_NONBLOCK), both NotARegularFile.
    The check is on the opened file, so nothing can be swapped in between."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if path.is_symlink():
            raise NotARegularFile(f"{path} is a symbolic link: not followed") from exc
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotARegularFile(f"{path} is not a regular file: not read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _make_folders(folder: Path, mode: int | None) -> None:
    """Create `folder` and missing parents; the ones created get `mode` if given (mkdir's
    own mode is cut by the umask). Folders that already exist are left as they are."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(exist_ok=True)
        if mode is not None:
            created.chmod(mode)


def atomic_write(path: Path, write: Callable[[Path], object], *, mode: int | None = None) -> Path:
    """Let `write` fill a temporary file beside `path`, then rename it over `path`.

    The temporary file is created with the permissions a plain `open(path, "w")` would
    give (the umask applies), and is named `.<name>.<pid>.<random>.tmp` so folder scans that
    skip hidden files never pick it up. With `mode` the file gets exactly those bits
    before it is renamed into place (RAW_FILE_MODE for the immutable raw store, DOMAIN.md:
    keep provenance of every number), and new folders FOLDER_MODE.
    """
    _make_folders(path.parent, None if mode is None else FOLDER_MODE)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        if mode is not None:
            temporary.chmod(mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: Path, data: bytes, *, mode: int | None = None) -> Path:
    """`data` as the whole content of `path`, atomically."""
    return atomic_write(path, lambda temporary: temporary.write_bytes(data), mode=mode)


def excel_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every text cell that starts like a formula prefixed by a single quote
    (`=1+1` -> `'=1+1`), so a spreadsheet shows the carrier's text instead of running it.
    Numbers, dates and amounts are other types and stay untouched; categorical text is
    written as text."""
    text = [
        name
        for name, dtype in frame.schema.items()
        if dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))
    ]
    return frame.with_columns(
        pl.when(pl.col(name).cast(pl.String).str.contains(FORMULA_START))
        .then(pl.lit("'") + pl.col(name).cast(pl.String))
        .otherwise(pl.col(name).cast(pl.String))
        .alias(name)
        for name in text
    )


def write_csv(
    frame: pl.DataFrame, path: Path, *, bom: bool = True, mode: int | None = None
) -> Path:
    """`frame` as CSV for Excel (formula-like text escaped), atomically. The UTF-8
    byte-order mark (on by default) is what makes Excel, the finance team's and the
    carriers' reader, show Chinese text correctly."""
    safe = excel_safe(frame)
    return atomic_write(
        path, lambda temporary: safe.write_csv(temporary, include_bom=bom), mode=mode
    )


def write_parquet(
    frame: pl.DataFrame,
    path: Path,
    *,
    compression: ParquetCompression = "zstd",
    mode: int | None = None,
) -> Path:
    """`frame` as Parquet, atomically; zstd (Polars' default) unless the caller says why not."""
    return atomic_write(
        path, lambda temporary: frame.write_parquet(temporary, compression=compression), mode=mode
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


def write_xlsx(frame: pl.DataFrame, path: Path, *, worksheet: str, mode: int | None = None) -> Path:
    """`frame` as a one-sheet Excel workbook with columns fitted to their contents (formula-
    like text escaped, and every text cell written as a string, never a formula), atomically;
    the same frame always gives the same bytes (`WORKBOOK_CREATED`)."""
    safe = excel_safe(frame)

    def write(temporary: Path) -> None:
        with xlsxwriter.Workbook(temporary, WORKBOOK_OPTIONS) as workbook:
            workbook.set_properties({"created": WORKBOOK_CREATED})
            safe.write_excel(workbook, worksheet=worksheet, autofit=True)

    return atomic_write(path, write, mode=mode)


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
