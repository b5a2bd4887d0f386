"""Frames handed between the run and its distributed tasks, as Parquet under a storage URL.

A task on a Dask worker must not reach the warehouse (one DuckDB file, one writer: the
run). So the run writes each task's inputs as Parquet files in a folder of the storage URL,
the worker reads them and writes its outputs beside them, and the run reads the outputs back
and stores them in the warehouse itself. The URL is a local folder by default (the data
directory's `work/tasks`), or any fsspec URL a deployment's workers all reach (`s3://bucket/
reckon`, with s3fs installed and the credentials in the environment, as fsspec reads them).

Each file is written under a temporary name and then moved over its final name, so a reader
never sees half a file, and a task run again after its worker died (Dask reschedules it)
overwrites the same names with the same bytes: no second copy, no mix of two attempts.
Parquet keeps every contract type as it is (Decimal(18, 2) money, dates, integers), so a
frame read back equals the frame written.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping

import fsspec
import polars as pl
from fsspec.spec import AbstractFileSystem


def _filesystem(url: str) -> tuple[AbstractFileSystem, str]:
    fs, root = fsspec.core.url_to_fs(url)
    return fs, root.rstrip("/")


def join_url(url: str, *parts: str) -> str:
    """`url` with path parts appended (a local path or a scheme://... URL alike)."""
    return "/".join([url.rstrip("/"), *parts])


def write_frames(url: str, frames: Mapping[str, pl.DataFrame]) -> None:
    """Write each frame as `<url>/<name>.parquet`, atomically per file."""
    fs, root = _filesystem(url)
    fs.makedirs(root, exist_ok=True)
    for name, frame in frames.items():
        final = f"{root}/{name}.parquet"
        temporary = f"{root}/.{name}.{secrets.token_hex(4)}.tmp"
        try:
            with fs.open(temporary, "wb") as out:
                frame.write_parquet(out, compression="lz4", statistics=False)
            fs.mv(temporary, final)
        finally:
            if fs.exists(temporary):
                fs.rm(temporary)


def read_frames(url: str, names: Iterable[str]) -> dict[str, pl.DataFrame]:
    """The frames `write_frames` wrote under `url`, by name (a missing one fails, naming it)."""
    fs, root = _filesystem(url)
    frames = {}
    for name in names:
        path = f"{root}/{name}.parquet"
        if not fs.exists(path):
            raise FileNotFoundError(f"task frame {name!r} is missing under {url}")
        with fs.open(path, "rb") as source:
            frames[name] = pl.read_parquet(source)
    return frames


def remove_folder(url: str) -> None:
    """Remove a task folder and everything in it (nothing when it is not there)."""
    fs, root = _filesystem(url)
    if fs.exists(root):
        fs.rm(root, recursive=True)
