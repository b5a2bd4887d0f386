"""Steps 2-3 of the FIFO overlay: what each transfer carries, as slices of origin layers.

A TRANSFER_OUT's pieces are slices of the layers it consumed at the source, in the
source's FIFO order, or its own shortfall (DOMAIN.md "Transfer": the slices are recreated
with their value and original receipt dates). A slice that itself arrived by transfer is
mapped through that transfer's content; chains resolve in rounds, each a join, until
every slice names its origin layer. The pools are then laid out again in origin slices.
"""

from __future__ import annotations

import polars as pl

from pipelines.costing.intervals import overlay
from pipelines.costing.prepare import CostingInputError
from pipelines.costing.state import POOL, CostingState


def _remap(rows: pl.DataFrame, content: pl.DataFrame) -> pl.DataFrame:
    """Map rows (key, c_a, c_b, next_key, next_off) through resolved content of next_key."""
    left = rows.with_row_index("uid").with_columns(
        pl.col("next_off").alias("l_start"),
        (pl.col("next_off") + pl.col("c_b") - pl.col("c_a")).alias("l_end"),
        pl.col("next_key").alias("k"),
    )
    right = content.with_row_index("rid").with_columns(
        pl.col("c_a").alias("r_start"), pl.col("c_b").alias("r_end"), pl.col("key").alias("k")
    )
    ov = overlay(left, right, ["k"], "uid", "rid").filter(pl.col("uid").is_not_null())
    ov = ov.join(left.select("uid", "key", pl.col("c_a").alias("u_ca"), "next_off"), on="uid").join(
        right.select("rid", pl.col("c_a").alias("r_ca"), "origin_id", "origin_a"), on="rid"
    )
    return ov.select(
        "key",
        (pl.col("u_ca") + pl.col("x_a") - pl.col("next_off")).alias("c_a"),
        (pl.col("u_ca") + pl.col("x_b") - pl.col("next_off")).alias("c_b"),
        "origin_id",
        (pl.col("origin_a") + pl.col("x_a") - pl.col("r_ca")).alias("origin_a"),
    )


def resolve_content(
    pieces1: pl.DataFrame, inb: pl.DataFrame, outb: pl.DataFrame, state: CostingState
) -> pl.DataFrame:
    """Resolved content of every transfer: key, c_a, c_b, origin_id, origin_a (step 2)."""
    touts = outb.filter(pl.col("movement_type") == "TRANSFER_OUT", ~pl.col("carried"))
    tp = pieces1.join(
        touts.select(
            pl.col("seq").alias("oseq"),
            pl.col("reference").alias("key"),
            "r_start",
            "short_base",
            "movement_id",
        ),
        on="oseq",
    ).join(
        inb.select(
            pl.col("seq").alias("iseq"),
            "l_start",
            "kind",
            "origin_id",
            "origin_base",
            "content_key",
        ),
        on="iseq",
        how="left",
    )
    normal = pl.col("iseq").is_not_null() & (pl.col("iseq") < pl.col("oseq"))
    tp = tp.with_columns(
        (pl.col("x_a") - pl.col("r_start")).alias("c_a"),
        (pl.col("x_b") - pl.col("r_start")).alias("c_b"),
        pl.when(normal)
        .then(pl.col("origin_id"))
        .otherwise(pl.concat_str(pl.lit("SHORT:"), pl.col("movement_id")))
        .alias("origin_id"),
        pl.when(normal)
        .then(pl.col("origin_base") + pl.col("x_a") - pl.col("l_start"))
        .otherwise(pl.col("x_a") - pl.col("short_base"))
        .alias("origin_a"),
        pl.when(normal).then(pl.col("content_key")).alias("next_key"),
        pl.when(normal).then(pl.col("x_a") - pl.col("l_start")).alias("next_off"),
    )
    cols = ["key", "c_a", "c_b", "origin_id", "origin_a"]
    transit = (
        state.open_layers.filter(pl.col("transfer_id").is_not_null())
        .sort("transfer_id", "position")
        .with_columns(pl.col("quantity").cum_sum().over("transfer_id").alias("c_b"))
        .select(
            pl.col("transfer_id").alias("key"),
            (pl.col("c_b") - pl.col("quantity")).alias("c_a"),
            "c_b",
            "origin_id",
            "origin_a",
        )
    )
    resolved = [transit, tp.filter(pl.col("next_key").is_null()).select(cols)]
    pending = tp.filter(pl.col("next_key").is_not_null()).select(
        "key", "c_a", "c_b", "next_key", "next_off"
    )
    while pending.height:
        blocked = pending.get_column("key").unique().implode()
        ready = pending.filter(~pl.col("next_key").is_in(blocked))
        if not ready.height:
            raise CostingInputError(
                "movements: transfers form a cycle: "
                f"{pending.get_column('key').unique().to_list()[:10]}"
            )
        resolved.append(_remap(ready, pl.concat(resolved)))
        pending = pending.filter(pl.col("next_key").is_in(blocked))
    return pl.concat(resolved).sort("key", "c_a")


def origin_segments(inb: pl.DataFrame, content: pl.DataFrame) -> pl.DataFrame:
    """Pools laid out in origin slices (step 3)."""
    direct = inb.filter(pl.col("kind") != "TRANSFER").select(
        *POOL,
        pl.col("seq").alias("iseq"),
        pl.col("l_start"),
        pl.col("l_end"),
        "origin_id",
        pl.col("origin_base").alias("origin_a"),
    )
    via = inb.filter(pl.col("kind") == "TRANSFER").join(
        content, left_on="content_key", right_on="key"
    )
    via = via.select(
        *POOL,
        pl.col("seq").alias("iseq"),
        (pl.col("l_start") + pl.col("c_a")).alias("l_start"),
        (pl.col("l_start") + pl.col("c_b")).alias("l_end"),
        pl.col("origin_id_right").alias("origin_id"),
        "origin_a",
    )
    return pl.concat([direct, via]).sort([*POOL, "l_start"]).with_row_index("sid")
