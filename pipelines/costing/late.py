"""Late (backdated) documents: reported, and re-dated when their period is closed.

DOMAIN.md "Late (backdated) documents": a movement loaded after its date is late. With
recost-forward (no closed period) it is costed on its own date and the caller reruns
from there; with `CostingPolicy.closed_before`, one dated in the closed period is posted
at the start of the first open day instead.
"""

from __future__ import annotations

from datetime import date, datetime, time

import polars as pl

from pipelines.costing.policy import CostingPolicy


def redate(movements: pl.DataFrame, start: date, policy: CostingPolicy) -> pl.DataFrame:
    """Movements + original_occurred_at, load_date, is_late, redated (occurred_at moved)."""
    has_load = "load_date" in movements.columns
    day = pl.col("occurred_at").dt.date()
    mv = movements.with_columns(
        pl.col("occurred_at").alias("original_occurred_at"),
        (pl.col("load_date") if has_load else pl.lit(None, pl.Date)).alias("load_date"),
    )
    mv = mv.with_columns(
        (pl.col("load_date") > day).fill_null(False).alias("is_late"),
        pl.lit(False).alias("redated"),
    )
    if policy.closed_before is not None:
        first_open = datetime.combine(policy.closed_before, time())
        unprocessed = pl.col("load_date").is_null() | (pl.col("load_date") >= start)
        move = (day < policy.closed_before) & unprocessed
        mv = mv.with_columns(
            pl.when(move)
            .then(pl.lit(first_open))
            .otherwise(pl.col("occurred_at"))
            .alias("occurred_at"),
            move.alias("redated"),
            (pl.col("is_late") | move).alias("is_late"),
        )
    return mv


def late_documents(mv: pl.DataFrame) -> pl.DataFrame:
    """movement_id, occurred_at (original), posted_at, load_date, redated."""
    return mv.filter(pl.col("is_late")).select(
        "movement_id",
        pl.col("original_occurred_at").alias("occurred_at"),
        pl.col("occurred_at").alias("posted_at"),
        "load_date",
        "redated",
    )


def late_flags(late: pl.DataFrame) -> pl.DataFrame:
    """One LATE_DOCUMENT flag per late movement, saying which rule placed it."""
    return late.select(
        "movement_id",
        pl.lit("LATE_DOCUMENT").alias("flag"),
        pl.when(pl.col("redated"))
        .then(pl.lit("dated in a closed period; posted on the first open day"))
        .otherwise(pl.lit("loaded after its date"))
        .alias("detail"),
    )
