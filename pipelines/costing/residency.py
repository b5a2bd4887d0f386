"""Residencies: each slice's stay in a pool, the input of landed cost and stock ageing.

A slice is present in a pool over [enter, exit): from its inbound (or before the range)
until the outbound that consumed it (or still there), and in transit from departure to
arrival. Landed cost is capitalised on the slices present when it takes effect; ageing
counts every slice on every day it is present (pipelines.ageing).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from pipelines.pools import POOL, transit_warehouse

AGEING_COLUMNS = [*POOL, "receipt_date", "quantity", "value_cents", "enter_day", "exit_day"]


def residencies(pieces: pl.DataFrame, content: pl.DataFrame, start: date) -> pl.DataFrame:
    """Slices present in a pool over [enter, exit) (null enter: before `start`; null exit:
    still there), valued as they leave (or at the end of the range)."""
    before = pl.lit(start) - pl.duration(days=1)
    stock = pieces.filter(pl.col("category").is_in(["CONSUMED", "OPEN"])).select(
        *POOL,
        "origin_id",
        "origin_a",
        "origin_b",
        "receipt_date",
        "quantity",
        pl.col("cost_cents").alias("value_cents"),
        pl.col("in_at").alias("enter_at"),
        pl.col("exit_at"),
        pl.col("in_day").fill_null(before).alias("enter_day"),
        pl.when(pl.col("category") == "CONSUMED").then(pl.col("out_day")).alias("exit_day"),
    )
    transit = content.select(
        "company",
        transit_warehouse(pl.col("company")).alias("warehouse"),
        "sku",
        "origin_id",
        "origin_a",
        "origin_b",
        "receipt_date",
        "quantity",
        "value_cents",
        pl.col("depart_at").alias("enter_at"),
        pl.col("arrive_at").alias("exit_at"),
        pl.col("depart_day").fill_null(before).alias("enter_day"),
        pl.col("arrive_day").alias("exit_day"),
    )
    return pl.concat([stock, transit]).with_row_index("res_id")


def ageing_residencies(
    res: pl.DataFrame, correction: pl.DataFrame, steps: pl.DataFrame
) -> pl.DataFrame:
    """Residencies valued on entry, plus the landed cost capitalised while they sat there.

    `correction`: res_id, landed_in_residency_cents; `steps`: the capitalised value as
    quantity-0 residencies from its day (pipelines.costing.landed)."""
    base = res.join(correction, on="res_id", how="left").with_columns(
        (pl.col("value_cents") - pl.col("landed_in_residency_cents").fill_null(0)).alias(
            "value_cents"
        )
    )
    both = pl.concat([base.select(AGEING_COLUMNS), steps.select(AGEING_COLUMNS)])
    return both.filter(pl.col("exit_day").is_null() | (pl.col("exit_day") > pl.col("enter_day")))
