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
   consumed, served, open and short piece now names an origin and origin positions
   [origin_a, origin_b).
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
from pipelines.costing.origin_values import ReferencePoints, value_origins
from pipelines.costing.positions import inbound_items, last_before, outbound_items
from pipelines.costing.reference_cost import other_warehouse_points, reference_origin
from pipelines.costing.shortfalls import is_new_shortfall, with_shortfall_shares, with_unmet
from pipelines.costing.state import CostingState
from pipelines.costing.transfers import origin_segments, resolve_content
from pipelines.pools import POOL

IN_SPAN = ("in_start", "in_end")
OUT_SPAN = ("out_start", "out_end")


@dataclass(frozen=True)
class Fifo:
    pieces: pl.DataFrame
    """Elementary pieces of every pool: category (CONSUMED, SERVED, OPEN, SHORT), origin
    slice, cost, the movements in and out, shortfall shares and true-ups."""
    outs: pl.DataFrame
    """Outbound items with their shortfall (unmet_qty) and provisional cost."""
    ins: pl.DataFrame
    origins: pl.DataFrame
    """Every origin layer with its quantity and value."""
    content: pl.DataFrame
    """Every transfer's content as origin slices (pipelines.costing.transfers)."""
    segments: pl.DataFrame
    flags: pl.DataFrame


def _outbound_side(outb: pl.DataFrame) -> pl.DataFrame:
    return outb.select(*POOL, pl.col("seq").alias("out_seq"), *OUT_SPAN)


def _cut(segments: pl.DataFrame, outb: pl.DataFrame) -> pl.DataFrame:
    """Origin segments overlaid with the outbounds: pieces with their origin slice and
    category (OPEN: no outbound; SHORT: no inbound; SERVED: the inbound came later)."""
    pieces = overlay(
        segments, _outbound_side(outb), POOL, ("segment_id", "out_seq"), (IN_SPAN, OUT_SPAN)
    )
    pieces = pieces.join(
        segments.select(
            "segment_id",
            "in_seq",
            "origin_id",
            pl.col("origin_a").alias("segment_origin_a"),
            pl.col("in_start").alias("segment_start"),
        ),
        on="segment_id",
        how="left",
    )
    pieces = pieces.with_columns(
        (pl.col("segment_origin_a") + pl.col("pos_start") - pl.col("segment_start")).alias(
            "origin_a"
        ),
    ).with_columns((pl.col("origin_a") + pl.col("pos_end") - pl.col("pos_start")).alias("origin_b"))
    return pieces.with_columns(
        pl.when(pl.col("out_seq").is_null())
        .then(pl.lit("OPEN"))
        .when(pl.col("segment_id").is_null())
        .then(pl.lit("SHORT"))
        .when(pl.col("in_seq") < pl.col("out_seq"))
        .then(pl.lit("CONSUMED"))
        .otherwise(pl.lit("SERVED"))
        .alias("category")
    ).drop("segment_start", "segment_origin_a")


def _with_exit(pieces: pl.DataFrame, inb: pl.DataFrame, outb: pl.DataFrame) -> pl.DataFrame:
    """Pieces + in_at, out_at and exit_at: when the piece's units left the pool (consumed)
    or its shortfall was served."""
    times_out = outb.select(pl.col("seq").alias("out_seq"), pl.col("occurred_at").alias("out_at"))
    times_in = inb.select(pl.col("seq").alias("in_seq"), pl.col("occurred_at").alias("in_at"))
    pieces = pieces.join(times_out, on="out_seq", how="left").join(
        times_in, on="in_seq", how="left"
    )
    return pieces.with_columns(
        pl.when(pl.col("category") == "CONSUMED")
        .then(pl.col("out_at"))
        .when(pl.col("category") == "SERVED")
        .then(pl.col("in_at"))
        .alias("exit_at")
    )


def _reference_points(
    inb: pl.DataFrame,
    outb: pl.DataFrame,
    segments: pl.DataFrame,
    state: CostingState,
    landed: tuple[pl.DataFrame, datetime],
) -> ReferencePoints:
    """Shortfalls and REF inbounds with the pool position of their reference layer: the
    oldest open layer, else the last one in (reference_cost)."""
    components, since = landed
    outb = last_before(outb, inb, "in_end", "in_end_before")
    inb = last_before(inb, outb, "out_end", "out_end_before")
    outs = outb.filter(is_new_shortfall()).with_columns(
        pl.when(pl.col("in_end_before") > 0).then(pl.col("in_end_before") - 1).alias("ref_pos")
    )
    ins = inb.filter(pl.col("kind") == "REF").with_columns(
        pl.when(pl.col("out_end_before") < pl.col("in_start"))
        .then(pl.col("out_end_before"))
        .when(pl.col("in_start") > 0)
        .then(pl.col("in_start") - 1)
        .alias("ref_pos")
    )
    out_refs = reference_origin(
        outs.select(*POOL, "seq", "ref_pos", "unmet_qty", "occurred_at"),
        segments,
        state,
        components,
        since,
    ).with_columns(pl.lit(None, pl.String).alias("ref_warehouse"))
    no_history = out_refs.filter(
        pl.col("ref_origin_id").is_null() & pl.col("ref_value_cents").is_null()
    )
    if no_history.height:
        moved = other_warehouse_points(
            no_history.select(*POOL, "seq", "unmet_qty", "occurred_at"), inb, outb, state
        )
        elsewhere = reference_origin(moved, segments, state, components, since).with_columns(
            pl.col("warehouse").alias("ref_warehouse"),
            pl.col("home_warehouse").alias("warehouse"),
        )
        out_refs = pl.concat(
            [
                out_refs.join(elsewhere.select("seq"), on="seq", how="anti"),
                elsewhere.select(out_refs.columns),
            ]
        )
    return ReferencePoints(
        outs=out_refs,
        ins=reference_origin(
            ins.select(*POOL, "seq", "ref_pos", "qty", "occurred_at"),
            segments,
            state,
            components,
            since,
        ),
    )


def _annotate(pieces: pl.DataFrame, fifo_outs: pl.DataFrame, inb: pl.DataFrame) -> pl.DataFrame:
    """Pieces with their outbound and inbound movements, quantity and posting date."""
    outs = fifo_outs.select(
        pl.col("seq").alias("out_seq"),
        pl.col("movement_id").alias("out_movement_id"),
        pl.col("movement_type").alias("out_type"),
        pl.col("day").alias("out_day"),
        "short_shift",
        "short_qty",
        "provisional_cents",
    )
    ins = inb.select(
        pl.col("seq").alias("in_seq"),
        pl.col("movement_id").alias("in_movement_id"),
        pl.col("day").alias("in_day"),
    )
    pieces = pieces.join(outs, on="out_seq", how="left").join(ins, on="in_seq", how="left")
    return pieces.with_columns(
        (pl.col("pos_end") - pl.col("pos_start")).alias("quantity"),
        pl.when(pl.col("category") == "SERVED")
        .then(pl.col("in_day"))
        .otherwise(pl.col("out_day"))
        .alias("posting_date"),
    )


def run_fifo(
    moves: pl.DataFrame, state: CostingState, components: pl.DataFrame, since: datetime
) -> Fifo:
    """`components`: landed cost per origin (origin_id, share_cents, effective_at, origin_qty),
    the carried ones and this range's; `since`: the start of the range."""
    inb, outb = inbound_items(moves, state), outbound_items(moves, state)
    matched = overlay(
        inb.select(*POOL, pl.col("seq").alias("in_seq"), *IN_SPAN),
        _outbound_side(outb),
        POOL,
        ("in_seq", "out_seq"),
        (IN_SPAN, OUT_SPAN),
    )
    outb = with_unmet(matched, outb)
    content = resolve_content(matched, inb, outb, state)
    segments = origin_segments(inb, content)
    pieces = landed_extra(_with_exit(_cut(segments, outb), inb, outb), components, "exit_at")
    refs = _reference_points(inb, outb, segments, state, (components, since))
    origins, outs, flags = value_origins(moves, state, inb, outb, pieces, refs)
    pieces = pieces.join(
        origins.select("origin_id", "origin_qty", "origin_value_cents"), on="origin_id", how="left"
    )
    pieces = pieces.with_columns(
        pl.when(pl.col("origin_id").is_not_null())
        .then(
            slice_cost(
                pl.col("origin_value_cents"),
                pl.col("origin_a"),
                pl.col("origin_b"),
                pl.col("origin_qty"),
            )
            + pl.col("landed_cents")
        )
        .alias("cost_cents")
    )
    pieces = _annotate(pieces, outs, inb).join(
        origins.select("origin_id", "receipt_date", "origin_kind"), on="origin_id", how="left"
    )
    return Fifo(with_shortfall_shares(pieces), outs, inb, origins, content, segments, flags)
