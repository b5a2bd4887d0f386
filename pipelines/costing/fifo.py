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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from pipelines.costing.intervals import overlay, share, slice_cost
from pipelines.costing.prepare import CostingInputError
from pipelines.costing.state import POOL, CostingState


@dataclass(frozen=True)
class Fifo:
    pieces: pl.DataFrame
    outs: pl.DataFrame
    inb: pl.DataFrame
    origins: pl.DataFrame
    content: pl.DataFrame
    segments: pl.DataFrame
    flags: pl.DataFrame


def _items(moves: pl.DataFrame, state: CostingState) -> tuple[pl.DataFrame, pl.DataFrame]:
    layers = state.open_layers.filter(pl.col("transfer_id").is_null()).sort([*POOL, "position"])
    n_layers = layers.height
    state_in = layers.with_row_index("i").select(
        *POOL,
        (pl.col("i").cast(pl.Int64) - n_layers).alias("seq"),
        pl.col("quantity").alias("qty"),
        pl.lit("STATE").alias("kind"),
        pl.lit(None, pl.String).alias("movement_id"),
        pl.lit(None, pl.String).alias("movement_type"),
        pl.lit(None, pl.Datetime("us")).alias("occurred_at"),
        pl.lit(None, pl.Date).alias("day"),
        "origin_id",
        pl.col("origin_a").alias("origin_base"),
        pl.lit(None, pl.String).alias("content_key"),
    )
    range_in = moves.filter(pl.col("is_in")).select(
        *POOL,
        "seq",
        pl.col("quantity").alias("qty"),
        "kind",
        "movement_id",
        "movement_type",
        "occurred_at",
        "day",
        pl.when(pl.col("kind") != "TRANSFER").then(pl.col("movement_id")).alias("origin_id"),
        pl.lit(0, pl.Int64).alias("origin_base"),
        pl.when(pl.col("kind") == "TRANSFER").then(pl.col("reference")).alias("content_key"),
    )
    inb = pl.concat([state_in, range_in]).sort([*POOL, "seq"])
    inb = inb.with_columns(pl.col("qty").cum_sum().over(POOL).alias("l_end")).with_columns(
        (pl.col("l_end") - pl.col("qty")).alias("l_start")
    )
    shorts = state.open_shortfalls.sort([*POOL, "position"])
    n_shorts = shorts.height
    state_out = shorts.with_row_index("i").select(
        *POOL,
        (pl.col("i").cast(pl.Int64) - n_shorts).alias("seq"),
        (pl.col("short_b") - pl.col("short_a")).alias("qty"),
        "movement_id",
        "movement_type",
        "occurred_at",
        pl.col("occurred_at").dt.date().alias("day"),
        pl.lit(None, pl.String).alias("reference"),
        pl.lit(True).alias("carried"),
        "short_a",
        "short_qty",
        "provisional_cents",
    )
    range_out = moves.filter(~pl.col("is_in")).select(
        *POOL,
        "seq",
        pl.col("quantity").alias("qty"),
        "movement_id",
        "movement_type",
        "occurred_at",
        "day",
        "reference",
        pl.lit(False).alias("carried"),
        pl.lit(None, pl.Int64).alias("short_a"),
        pl.lit(None, pl.Int64).alias("short_qty"),
        pl.lit(None, pl.Int64).alias("provisional_cents"),
    )
    outb = pl.concat([state_out, range_out]).sort([*POOL, "seq"])
    outb = outb.with_columns(pl.col("qty").cum_sum().over(POOL).alias("r_end")).with_columns(
        (pl.col("r_end") - pl.col("qty")).alias("r_start")
    )
    return inb, outb


def _before(left: pl.DataFrame, right: pl.DataFrame, col: str, name: str) -> pl.DataFrame:
    """For each `left` row, `col` of the last `right` row of its pool with a smaller seq."""
    r = right.select(*POOL, pl.col("seq").alias("rseq"), pl.col(col).alias(name)).sort(
        [*POOL, "rseq"]
    )
    out = left.sort([*POOL, "seq"]).join_asof(
        r,
        left_on="seq",
        right_on="rseq",
        by=POOL,
        check_sortedness=False,
        allow_exact_matches=False,
    )
    return out.with_columns(pl.col(name).fill_null(0)).drop("rseq")


def _shortfall_info(pieces: pl.DataFrame, outb: pl.DataFrame) -> pl.DataFrame:
    """Per outbound item: shortfall quantity and the first shortfall position."""
    short = pieces.filter(pl.col("iseq").is_null() | (pl.col("iseq") > pl.col("oseq")))
    agg = short.group_by("oseq").agg(
        pl.col("x_a").min().alias("short_base"), (pl.col("x_b") - pl.col("x_a")).sum().alias("s")
    )
    return outb.join(agg, left_on="seq", right_on="oseq", how="left").with_columns(
        pl.col("s").fill_null(0)
    )


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


def _content(
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


def _segments(inb: pl.DataFrame, content: pl.DataFrame) -> pl.DataFrame:
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


def _ref_origin(
    points: pl.DataFrame,
    segments: pl.DataFrame,
    state: CostingState,
    components: pl.DataFrame,
    since: datetime,
) -> pl.DataFrame:
    """Reference unit cost source at `ref_pos` (null: none entered in range) per point.

    DOMAIN.md: V/Q of the oldest open layer, else of the layer that most recently entered,
    else zero (flagged). Returns the point with ref_origin_id (found in range) or the
    carried ref_value_cents/ref_qty, and `ref_lc_cents`: the landed cost on that layer in
    effect at the point's `occurred_at` (see `_ref_landed`).
    """
    seg = segments.select(*POOL, "l_start", "origin_id").sort([*POOL, "l_start"])
    found = points.filter(pl.col("ref_pos").is_not_null()).sort([*POOL, "ref_pos"])
    found = found.join_asof(
        seg, left_on="ref_pos", right_on="l_start", by=POOL, check_sortedness=False
    )
    found = found.rename({"origin_id": "ref_origin_id"}).drop("l_start")
    carried = state.pool_refs.rename({"ref_origin_id": "carried_ref_id"})
    rest = points.filter(pl.col("ref_pos").is_null()).join(carried, on=POOL, how="left")
    found = found.with_columns(
        pl.lit(None, pl.Int64).alias("ref_value_cents"),
        pl.lit(None, pl.Int64).alias("ref_qty"),
        pl.lit(None, pl.String).alias("carried_ref_id"),
        pl.lit(None, pl.Int64).alias("ref_landed_cents"),
    )
    rest = rest.with_columns(pl.lit(None, pl.String).alias("ref_origin_id"))
    both = pl.concat([found, rest.select(found.columns)])
    return _ref_landed(both, components, since)


def _ref_landed(points: pl.DataFrame, components: pl.DataFrame, since: datetime) -> pl.DataFrame:
    """Add `ref_lc_cents`: landed cost raising the reference layer's V at `occurred_at`.

    Issue 3: the reference unit cost is V/Q of a layer, and a landed cost on units still
    on hand raises that layer's value. A layer is its whole origin (Q units, value V), so
    every landed share S allocated to the origin and in effect strictly before the point
    (the order of DOMAIN.md: a landed cost posted at the same instant comes after the
    movements of that instant) counts in full: the layer's units are carried at (V+S)/Q
    whether some were issued before (their part of S was expensed) or not. A share that
    takes effect after the movement does not count. A reference carried from an earlier
    range brings its landed cost up to the range start (`ref_landed_cents`); components
    of this range (effective from `since`) are added to it.
    """
    keyed = points.with_row_index("_pt").with_columns(
        pl.coalesce("ref_origin_id", "carried_ref_id").alias("_ref_key")
    )
    hit = (
        keyed.filter(pl.col("_ref_key").is_not_null())
        .select("_pt", "_ref_key", "carried_ref_id", "occurred_at")
        .join(
            components.select(pl.col("origin_id").alias("_ref_key"), "share_cents", "effective_at"),
            on="_ref_key",
        )
        .filter(
            pl.col("effective_at") < pl.col("occurred_at"),
            pl.col("carried_ref_id").is_null() | (pl.col("effective_at") >= since),
        )
        .group_by("_pt")
        .agg(pl.col("share_cents").sum().alias("_lc"))
    )
    return (
        keyed.join(hit, on="_pt", how="left")
        .with_columns(
            (pl.col("_lc").fill_null(0) + pl.col("ref_landed_cents").fill_null(0)).alias(
                "ref_lc_cents"
            )
        )
        .sort("_pt")
        .drop("_pt", "_ref_key", "_lc")
    )


def landed_extra(frame: pl.DataFrame, components: pl.DataFrame, at: str) -> pl.Expr | pl.DataFrame:
    """`frame` + lc_cents: landed cost on slice [a, b) of origin_id from components in
    effect before `at` (null `at`: all of them). DOMAIN.md "Landed cost": each component is
    released over its origin's positions by the same cumulative rounding as the value."""
    keyed = frame.with_row_index("_row")
    hit = keyed.select("_row", "origin_id", "a", "b", at).join(
        components.select("origin_id", "share_cents", "effective_at", "origin_qty"), on="origin_id"
    )
    hit = hit.filter(pl.col(at).is_null() | (pl.col("effective_at") < pl.col(at)))
    extra = hit.group_by("_row").agg(
        slice_cost(pl.col("share_cents"), pl.col("a"), pl.col("b"), pl.col("origin_qty"))
        .sum()
        .alias("lc_cents")
    )
    return (
        keyed.join(extra, on="_row", how="left")
        .with_columns(pl.col("lc_cents").fill_null(0))
        .sort("_row")
        .drop("_row")
    )


def run_fifo(
    moves: pl.DataFrame, state: CostingState, components: pl.DataFrame, since: datetime
) -> Fifo:
    """`components`: landed cost per origin (origin_id, share_cents, effective_at, origin_qty),
    the carried ones and this range's; `since`: the start of the range."""
    inb, outb = _items(moves, state)
    pieces1 = overlay(
        inb.rename({"seq": "iseq"}), outb.rename({"seq": "oseq"}), POOL, "iseq", "oseq"
    )
    outb = _shortfall_info(pieces1, outb)
    content = _content(pieces1, inb, outb, state)
    segments = _segments(inb, content)
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

    outb = _before(outb, inb, "l_end", "i_before")
    inb = _before(inb, outb, "r_end", "o_before")
    out_refs = outb.filter(~pl.col("carried") & (pl.col("s") > 0)).with_columns(
        pl.when(pl.col("i_before") > 0).then(pl.col("i_before") - 1).alias("ref_pos")
    )
    out_refs = _ref_origin(
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
    in_refs = _ref_origin(
        ref_in.select(*POOL, "seq", "ref_pos", "qty", "occurred_at"),
        segments,
        state,
        components,
        since,
    )

    origins, outs_p, flags = _values(moves, state, inb, outb, pieces, out_refs, in_refs)
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


def _ref_value(refs: pl.DataFrame, known: pl.DataFrame, qty: str) -> pl.DataFrame:
    """round_half_up(qty x V/Q of the reference) where the reference's value is known; V
    includes the landed cost in effect on it (`ref_lc_cents`)."""
    r = refs.join(
        known.select(
            pl.col("origin_id").alias("ref_origin_id"),
            pl.col("origin_qty").alias("rq"),
            pl.col("origin_value_cents").alias("rv"),
        ),
        on="ref_origin_id",
        how="left",
    ).with_columns(
        pl.coalesce("rv", "ref_value_cents").alias("rv"),
        pl.coalesce("rq", "ref_qty").alias("rq"),
        (pl.col("ref_origin_id").is_null() & pl.col("ref_value_cents").is_null()).alias("no_ref"),
    )
    return r.with_columns(
        pl.when(pl.col("no_ref"))
        .then(pl.lit(0, pl.Int64))
        .when(pl.col("rv").is_not_null())
        .then(share(pl.col("rv") + pl.col("ref_lc_cents"), pl.col(qty), pl.col("rq")))
        .alias("ref_cents")
    )


def _values(
    moves: pl.DataFrame,
    state: CostingState,
    inb: pl.DataFrame,
    outb: pl.DataFrame,
    pieces: pl.DataFrame,
    out_refs: pl.DataFrame,
    in_refs: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Step 4: value every origin; returns origins, outbound items with P, flags."""
    carried = state.open_layers.group_by("origin_id").agg(
        pl.col("origin_qty").first(),
        pl.col("origin_value_cents").first(),
        pl.col("receipt_date").first(),
        pl.col("origin_kind").first(),
    )
    direct = inb.filter(pl.col("kind").is_in(["PRICED", "REF", "RETURN"])).join(
        moves.select("movement_id", "priced_cents", "reference", "return_source"),
        on="movement_id",
        how="left",
    )
    origins = pl.concat(
        [
            carried.select(
                "origin_id", "origin_qty", "origin_value_cents", "receipt_date", "origin_kind"
            ),
            direct.select(
                "origin_id",
                pl.col("qty").alias("origin_qty"),
                pl.col("priced_cents").alias("origin_value_cents"),
                pl.col("day").alias("receipt_date"),
                pl.col("movement_type").alias("origin_kind"),
            ),
            outb.filter(
                (pl.col("movement_type") == "TRANSFER_OUT") & ~pl.col("carried") & (pl.col("s") > 0)
            ).select(
                pl.concat_str(pl.lit("SHORT:"), pl.col("movement_id")).alias("origin_id"),
                pl.col("s").alias("origin_qty"),
                pl.lit(None, pl.Int64).alias("origin_value_cents"),
                pl.col("day").alias("receipt_date"),
                pl.lit("TRANSFER_SHORTFALL").alias("origin_kind"),
            ),
        ]
    )
    # state returns can be valued at once
    issue_costs = state.issue_costs.select(
        pl.col("movement_id").alias("reference"),
        pl.col("quantity").alias("n"),
        pl.col("cost_cents").alias("c"),
    )
    ret_state = direct.filter(pl.col("kind") == "RETURN", pl.col("return_source") == "STATE").join(
        issue_costs, on="reference"
    )
    ret_vals = ret_state.select(
        "origin_id", share(pl.col("c"), pl.col("qty"), pl.col("n")).alias("v")
    )
    origins = (
        origins.join(ret_vals, on="origin_id", how="left")
        .with_columns(pl.coalesce("origin_value_cents", "v").alias("origin_value_cents"))
        .drop("v")
    )

    seq_to_origin = inb.select("seq", "origin_id")
    out_id = outb.select("seq", "movement_id")
    pending_ref = pl.concat(
        [
            in_refs.join(seq_to_origin, on="seq").rename({"qty": "need"}),
            out_refs.join(out_id, on="seq")
            .filter(
                pl.col("seq").is_in(
                    outb.filter(pl.col("movement_type") == "TRANSFER_OUT")
                    .get_column("seq")
                    .implode()
                )
            )
            .with_columns(pl.concat_str(pl.lit("SHORT:"), pl.col("movement_id")).alias("origin_id"))
            .drop("movement_id")
            .rename({"s": "need"}),
        ]
    )
    rng_returns = direct.filter(
        pl.col("kind") == "RETURN", pl.col("return_source") == "RANGE"
    ).select("origin_id", "qty", "reference")
    issue_ids = outb.filter(
        pl.col("movement_id").is_in(rng_returns.get_column("reference").implode()),
        ~pl.col("carried"),
    )
    issue_pieces = pieces.filter(pl.col("category") == "CONSUMED").join(
        issue_ids.select(
            pl.col("seq").alias("oseq"),
            pl.col("movement_id").alias("reference"),
        ),
        on="oseq",
    )
    issue_refs = out_refs.join(
        issue_ids.select("seq", pl.col("movement_id").alias("reference")), on="seq"
    )

    while True:
        known = origins.filter(pl.col("origin_value_cents").is_not_null())
        todo = origins.filter(pl.col("origin_value_cents").is_null()).get_column("origin_id")
        if not todo.len():
            break
        pr = _ref_value(
            pending_ref.filter(pl.col("origin_id").is_in(todo.implode())), known, "need"
        )
        new = pr.filter(pl.col("ref_cents").is_not_null()).select(
            "origin_id", pl.col("ref_cents").alias("v")
        )
        rr = rng_returns.filter(pl.col("origin_id").is_in(todo.implode()))
        if rr.height:
            ip = issue_pieces.filter(
                pl.col("reference").is_in(rr.get_column("reference").implode())
            ).join(
                known.select("origin_id", "origin_qty", "origin_value_cents"),
                on="origin_id",
                how="left",
            )
            ip = ip.with_columns(
                (
                    slice_cost(
                        pl.col("origin_value_cents"), pl.col("a"), pl.col("b"), pl.col("origin_qty")
                    )
                    + pl.col("lc_cents")
                ).alias("cc")
            )
            normal = ip.group_by("reference").agg(
                pl.col("cc").sum(), pl.col("cc").null_count().alias("missing")
            )
            refs_needed = rr.get_column("reference").implode()
            prov = _ref_value(issue_refs.filter(pl.col("reference").is_in(refs_needed)), known, "s")
            has_prov = pl.col("reference").is_in(prov.get_column("reference").implode())
            cost = (
                rr.select("reference")
                .unique()
                .join(normal, on="reference", how="left")
                .join(prov.select("reference", "ref_cents"), on="reference", how="left")
            )
            ok = (pl.col("missing").fill_null(0) == 0) & (
                ~has_prov | pl.col("ref_cents").is_not_null()
            )
            cost = cost.with_columns(
                pl.when(ok)
                .then(pl.col("cc").fill_null(0) + pl.col("ref_cents").fill_null(0))
                .alias("c")
            )
            ns = issue_ids.select(
                pl.col("movement_id").alias("reference"), pl.col("qty").alias("n2")
            )
            rv = (
                rr.join(cost.select("reference", "c"), on="reference")
                .join(ns, on="reference")
                .filter(pl.col("c").is_not_null())
            )
            new = pl.concat(
                [
                    new,
                    rv.select(
                        "origin_id", share(pl.col("c"), pl.col("qty"), pl.col("n2")).alias("v")
                    ),
                ]
            )
        if not new.height:
            raise CostingInputError(
                f"movements: values depend on each other in a cycle: {todo.head(10).to_list()}"
            )
        origins = (
            origins.join(new, on="origin_id", how="left")
            .with_columns(pl.coalesce("origin_value_cents", "v").alias("origin_value_cents"))
            .drop("v")
        )

    known = origins
    p = _ref_value(out_refs, known, "s").select("seq", pl.col("ref_cents").alias("p_new"), "no_ref")
    outb = outb.join(p, on="seq", how="left").with_columns(
        pl.coalesce("provisional_cents", "p_new").fill_null(0).alias("provisional_cents"),
        pl.when(pl.col("carried"))
        .then(pl.col("short_qty"))
        .otherwise(pl.col("s"))
        .alias("short_qty"),
        pl.when(pl.col("carried"))
        .then(pl.col("short_a") - pl.col("r_start"))
        .otherwise(-pl.col("short_base"))
        .alias("short_shift"),
    )
    inb_flags = (
        _ref_value(in_refs, known, "qty")
        .filter(pl.col("no_ref"))
        .join(inb.select("seq", "movement_id"), on="seq")
    )
    out_flags = p.filter(pl.col("no_ref")).join(outb.select("seq", "movement_id"), on="seq")
    flags = pl.concat(
        [
            inb_flags.select(
                "movement_id",
                pl.lit("NO_REFERENCE_COST").alias("flag"),
                pl.lit("no layer ever entered the pool; valued at zero").alias("detail"),
            ),
            out_flags.select(
                "movement_id",
                pl.lit("NO_REFERENCE_COST").alias("flag"),
                pl.lit("shortfall with no layer ever in the pool; provisional cost zero").alias(
                    "detail"
                ),
            ),
        ]
    )
    return origins, outb, flags
