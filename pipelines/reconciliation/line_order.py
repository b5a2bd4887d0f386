"""Line order: bills are read in (source file, bill number, line number) order, and the
findings come back in it, so a rerun gives the same rows in the same order.

Sorting a million findings copies every column; these helpers check the order instead,
and merge per-bucket findings back into it on the key columns only.
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts.bills import BILL_LINES

LINE_KEY = list(BILL_LINES.key)
"""The bill-lines contract's key (source file, bill number, line number)."""


def in_line_order(frame: pl.DataFrame) -> bool:
    """True if `frame` is already sorted on LINE_KEY (bills are read in line order), so
    the sort, which copies every column, can be skipped. Null keys: False (sort)."""
    if frame.height < 2:
        return True
    cols = [pl.col(k) for k in LINE_KEY]
    ordered = cols[-1] >= cols[-1].shift(1)
    for col in reversed(cols[:-1]):
        ordered = (col > col.shift(1)) | ((col == col.shift(1)) & ordered)
    return bool(frame.select(ordered.slice(1).all(ignore_nulls=False)).item())


def merge_in_line_order(
    parts: list[pl.DataFrame], bucket_of_line: pl.Series | None = None
) -> pl.DataFrame:
    """Concatenate per-bucket findings (each already in line order) in line order.

    Sorting the whole frame would hold it twice; instead the order is computed on
    the key columns only and the columns are gathered one at a time. With
    `bucket_of_line` (each judged line's bucket, the lines being in line order) the
    order is an integer permutation: no sort on the string keys at all."""
    whole = pl.concat(parts, rechunk=False)
    parts.clear()
    if bucket_of_line is not None and bucket_of_line.len() == whole.height:
        # concatenated row k is line perm[k]; line i is concatenated row inverse[i]
        perm = (bucket_of_line.to_frame("_b").with_row_index("_i").sort("_b", maintain_order=True))[
            "_i"
        ]
        order = perm.arg_sort()
    else:
        order = whole.select(LINE_KEY).with_row_index("_i").sort(LINE_KEY)["_i"]
    columns = []
    for name in whole.columns:
        columns.append(whole[name].gather(order))
        whole = whole.drop(name)
    return pl.DataFrame(columns)
