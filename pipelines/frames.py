"""Small helpers about how Polars frames are laid out in memory."""

from __future__ import annotations

import polars as pl


def contiguous(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every column in one chunk (a copy only if some column is not).

    Frames arrive in many chunks (a Parquet file's row groups, DuckDB's record
    batches), while the columns an engine attaches after a join come in one. An eager
    operation on a frame whose columns are chunked differently first rechunks every
    column, and then does it again on the next operation: on a million-row frame that
    cost more than the matching itself. Engines call this once on their inputs.
    """
    if frame.width == 0 or all(s.n_chunks() == 1 for s in frame.get_columns()):
        return frame
    return frame.rechunk()
