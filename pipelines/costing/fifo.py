"""The FIFO overlay of one costing range (DOMAIN.md "Costing rules").

Steps, each a handful of joins over whole frames (no loop per movement):
1. Every inbound item (a carried open slice or an inbound movement) and every outbound
   item (a carried open shortfall or an outbound movement) gets an interval of cumulative
   positions in its pool; overlaying the two is FIFO, negative stock included (an outbound
   position met by an inbound with a later place in the pool is a shortfall served later).
2. A TRANSFER_OUT's pieces are the content of its transfer: slices of origin layers, in
   the source's FIFO order. Transfer chains resolve in rounds until every slice names its
   origin layer (a receipt, return, gain, intercompany receipt, or the provisional shortfall
   of a transfer).
3. Pools are laid out again in origin slices and overlaid with the outbounds: every
   consumed, served, open and short piece now names an origin and origin positions [a, b).
4. Origin values that depend on other origins (returns on issue cost, gains and shortfalls
   on the reference unit cost) resolve in rounds; a piece then costs its cumulative-
   rounding slice of its origin.

Step 1 is pipelines.costing.positions, 2-3 pipelines.costing.transfers, 4
pipelines.costing.origin_values (with pipelines.costing.reference_cost); this module
runs them and categorises the pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from pipelines.costing.intervals import overlay, slice_cost
from pipelines.costing.landed import landed_extra
from pipelines.costing.origin_values import value_origins
from pipelines.costing.positions import last_before, position_items, shortfall_info
from pipelines.costing.reference_cost import reference_origin
from pipelines.costing.state import POOL, CostingState
from pipelines.costing.transfers import origin_segments, resolve_content


@dataclass(frozen=True)
class Fifo:
    pieces: pl.DataFrame
    outs: pl.DataFrame
    inb: pl.DataFrame
    origins: pl.DataFrame
    content: pl.DataFrame
    segments: pl.DataFrame
    flags: pl.DataFrame


def run_fifo(
    moves: pl.DataFrame, state: CostingState, components: pl.DataFrame, since: datetime
) -> Fifo:
    """`components`: landed cost per origin (origin_id, share_cents, effective_at, origin_qty),
    the carried ones and this range's; `since`: the start of the range."""
    inb, outb = position_items(moves, state)
    pieces1 = overlay(
        inb.rename({"seq": "iseq"}), outb.rename({"seq": "oseq"}), POOL, "iseq", "oseq"
    )
    outb = shortfall_info(pieces1, outb)
    content = resolve_content(pieces1, inb, outb, state)
    segments = origin_segments(inb, content)
    pieces = overlay(segments, outb.rename({"seq": "oseq"}), POOL, "sid", "oseq")
    pieces = pieces.join(
        segments.select(
            "sid", "iseq", "origin_id", "origin_a", pl.col("l_start").alias("seg_start")
        ),
        on="sid",
        how="left",
    )
    pieces = pieces.with_columns(
        (pl.col("origin_a") + pl.col("x_a") - pl.col("seg_start")).alias("a"),
    ).with_columns((pl.col("a") + pl.col("x_b") - pl.col("x_a")).alias("b"))
    pieces = pieces.with_columns(
        pl.when(pl.col("oseq").is_null())
        .then(pl.lit("OPEN"))
        .when(pl.col("sid").is_null())
        .then(pl.lit("SHORT"))
        .when(pl.col("iseq") < pl.col("oseq"))
        .then(pl.lit("CONSUMED"))
        .otherwise(pl.lit("SERVED"))
        .alias("category")
    ).drop("seg_start", "origin_a")
    times_out = outb.select(pl.col("seq").alias("oseq"), pl.col("occurred_at").alias("out_at"))
    times_in = inb.select(pl.col("seq").alias("iseq"), pl.col("occurred_at").alias("in_at"))
    pieces = pieces.join(times_out, on="oseq", how="left").join(times_in, on="iseq", how="left")
    pieces = pieces.with_columns(
        pl.when(pl.col("category") == "CONSUMED")
        .then(pl.col("out_at"))
        .when(pl.col("category") == "SERVED")
        .then(pl.col("in_at"))
        .alias("exit_at")
    )
    pieces = landed_extra(pieces, components, "exit_at")

    outb = last_before(outb, inb, "l_end", "i_before")
    inb = last_before(inb, outb, "r_end", "o_before")
    out_refs = outb.filter(~pl.col("carried") & (pl.col("s") > 0)).with_columns(
        pl.when(pl.col("i_before") > 0).then(pl.col("i_before") - 1).alias("ref_pos")
    )
    out_refs = reference_origin(
        out_refs.select(*POOL, "seq", "ref_pos", "s", "occurred_at"),
        segments,
        state,
        components,
        since,
    )
    ref_in = inb.filter(pl.col("kind") == "REF").with_columns(
        pl.when(pl.col("o_before") < pl.col("l_start"))
        .then(pl.col("o_before"))
        .when(pl.col("l_start") > 0)
        .then(pl.col("l_start") - 1)
        .alias("ref_pos")
    )
    in_refs = reference_origin(
        ref_in.select(*POOL, "seq", "ref_pos", "qty", "occurred_at"),
        segments,
        state,
        components,
        since,
    )

    origins, outs_p, flags = value_origins(moves, state, inb, outb, pieces, out_refs, in_refs)
    pieces = pieces.join(
        origins.select("origin_id", "origin_qty", "origin_value_cents"), on="origin_id", how="left"
    )
    pieces = pieces.with_columns(
        pl.when(pl.col("origin_id").is_not_null())
        .then(
            slice_cost(pl.col("origin_value_cents"), pl.col("a"), pl.col("b"), pl.col("origin_qty"))
            + pl.col("lc_cents")
        )
        .alias("cost_cents")
    )
    return Fifo(pieces, outs_p, inb, origins, content, segments, flags)
