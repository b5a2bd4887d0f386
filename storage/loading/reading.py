"""Read one input file as it is, keeping where every row came from.

CSV is read as text (no type inference) so that validation, not the reader,
decides what a value means and can say exactly which value was wrong.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.contracts.spec import SOURCE_FILE, SOURCE_ROW


class FileRejected(Exception):
    """A whole file cannot be loaded (unreadable, wrong encoding, missing columns)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def read_input_file(path: Path) -> pl.DataFrame:
    """The file's rows with `_source_file` and `_source_row`; columns as stored."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = _read_csv(path)
            first_row = 2
        elif suffix == ".parquet":
            frame = pl.read_parquet(path)
            first_row = 1
        else:
            raise FileRejected(path, f"unsupported file type {suffix!r}: expected .csv or .parquet")
    except UnicodeDecodeError as exc:
        raise FileRejected(path, f"not valid UTF-8 text: {exc}") from exc
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise FileRejected(path, f"unreadable: {exc}") from exc
    frame = frame.rename({c: c.strip() for c in frame.columns})
    return frame.with_columns(
        pl.lit(str(path)).alias(SOURCE_FILE),
        (pl.int_range(pl.len(), dtype=pl.Int64) + first_row).alias(SOURCE_ROW),
    )


def _read_csv(path: Path) -> pl.DataFrame:
    data = path.read_bytes()
    # Fail loudly on a wrong encoding instead of loading mojibake: extracts are UTF-8 (BOM allowed).
    data.decode("utf-8")
    return pl.read_csv(
        data,
        infer_schema=False,
        encoding="utf8",
        raise_if_empty=False,
    )
