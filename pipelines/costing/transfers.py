"""Steps 2-3 of the FIFO overlay: what each transfer carries, as slices of origin layers.

A TRANSFER_OUT's pieces are slices of the layers it consumed at the source, in the
source's FIFO order, or its own shortfall (DOMAIN.md "Transfer": the slices are recreated
with their value and original receipt dates). A slice that itself arrived by transfer is
mapped through that transfer's content; chains resolve in rounds, each a join, until
every slice names its origin layer. The pools are then laid out again in origin slices.

A transfer's content is positions [content_a, content_b) of what it carries, each row
positions [origin_a, origin_a + content_b - content_a) of origin layer `origin_id`.
"""

from __future__ import annotations

import polars as pl

from pipelines.costing.errors import CostingInputError
from pipelines.costing.intervals import overlay, slice_cost
from pipelines.costing.landed import landed_extra
from pipelines.costing.state import CostingState
from pipelines.pools import POOL

CONTENT = ["transfer_id", "content_a", "content_b", "origin_id", "origin_a"]


def _remap(rows: pl.DataFrame, content: pl.DataFrame) -> pl.DataFrame:
    """Map rows (transfer_id, content_a, content_b, via_transfer, via_offset) through the
    resolved content of the transfer they arrived by (`via_transfer`)."""
    left = rows.with_row_index("row_id").with_columns(
        pl.col("via_offset").alias("via_start"),
        (pl.col("via_offset") + pl.col("content_b") - pl.col("content_a")).alias("via_end"),
    )
    right = content.with_row_index("content_row").with_columns(
        pl.col("transfer_id").alias("via_transfer")
    )
    cut = overlay(
        left,
        right,
        ["via_transfer"],
        ("row_id", "content_row"),
        (("via_start", "via_end"), ("content_a", "content_b")),
    ).filter(pl.col("row_id").is_not_null())
    cut = cut.join(
        left.select("row_id", "transfer_id", pl.col("content_a").alias("row_a"), "via_offset"),
        on="row_id",
    ).join(
        right.select("content_row", pl.col("content_a").alias("source_a"), "origin_id", "origin_a"),
        on="content_row",
    )
    return cut.select(
        "transfer_id",
        (pl.col("row_a") + pl.col("pos_start") - pl.col("via_offset")).alias("content_a"),
        (pl.col("row_a") + pl.col("pos_end") - pl.col("via_offset")).alias("content_b"),
        "origin_id",
        (pl.col("origin_a") + pl.col("pos_start") - pl.col("source_a")).alias("origin_a"),
    )


def _departed_pieces(matched: pl.DataFrame, inb: pl.DataFrame, outb: pl.DataFrame) -> pl.DataFrame:
    """This range's TRANSFER_OUT pieces as content rows; those taken from a slice that
    arrived by transfer name it (`via_transfer`, `via_offset`) instead of an origin."""
    departures = outb.filter(pl.col("movement_type") == "TRANSFER_OUT", ~pl.col("carried"))
    pieces = matched.join(
        departures.select(
            pl.col("seq").alias("out_seq"),
            pl.col("reference").alias("transfer_id"),
            "out_start",
            "first_short_pos",
            "movement_id",
        ),
        on="out_seq",
    ).join(
        inb.select(
            pl.col("seq").alias("in_seq"),
            "in_start",
            pl.col("origin_id").alias("in_origin_id"),
            pl.col("origin_a").alias("in_origin_a"),
            "carries_transfer",
        ),
        on="in_seq",
        how="left",
    )
    taken = pl.col("in_seq").is_not_null() & (pl.col("in_seq") < pl.col("out_seq"))
    return pieces.select(
        "transfer_id",
        (pl.col("pos_start") - pl.col("out_start")).alias("content_a"),
        (pl.col("pos_end") - pl.col("out_start")).alias("content_b"),
        pl.when(taken)
        .then(pl.col("in_origin_id"))
        .otherwise(pl.concat_str(pl.lit("SHORT:"), pl.col("movement_id")))
        .alias("origin_id"),
        pl.when(taken)
        .then(pl.col("in_origin_a") + pl.col("pos_start") - pl.col("in_start"))
        .otherwise(pl.col("pos_start") - pl.col("first_short_pos"))
        .alias("origin_a"),
        pl.when(taken).then(pl.col("carries_transfer")).alias("via_transfer"),
        pl.when(taken).then(pl.col("pos_start") - pl.col("in_start")).alias("via_offset"),
    )


def _in_transit(state: CostingState) -> pl.DataFrame:
    """Content of the transfers still in transit at the start of the range."""
    return (
        state.open_layers.filter(pl.col("transfer_id").is_not_null())
        .sort("transfer_id", "position")
        .with_columns(pl.col("quantity").cum_sum().over("transfer_id").alias("content_b"))
        .select(
            "transfer_id",
            (pl.col("content_b") - pl.col("quantity")).alias("content_a"),
            "content_b",
            "origin_id",
            "origin_a",
        )
    )


def resolve_content(
    matched: pl.DataFrame, inb: pl.DataFrame, outb: pl.DataFrame, state: CostingState
) -> pl.DataFrame:
    """Resolved content of every transfer (CONTENT columns), from the first overlay."""
    departed = _departed_pieces(matched, inb, outb)
    resolved = [
        _in_transit(state),
        departed.filter(pl.col("via_transfer").is_null()).select(CONTENT),
    ]
    pending = departed.filter(pl.col("via_transfer").is_not_null()).select(
        "transfer_id", "content_a", "content_b", "via_transfer", "via_offset"
    )
    while pending.height:
        blocked = pending.get_column("transfer_id").unique().implode()
        ready = pending.filter(~pl.col("via_transfer").is_in(blocked))
        if not ready.height:
            raise CostingInputError(
                "movements: transfers form a cycle: "
                f"{pending.get_column('transfer_id').unique().to_list()[:10]}"
            )
        resolved.append(_remap(ready, pl.concat(resolved)))
        pending = pending.filter(pl.col("via_transfer").is_in(blocked))
    return pl.concat(resolved).sort("transfer_id", "content_a")


def origin_segments(inb: pl.DataFrame, content: pl.DataFrame) -> pl.DataFrame:
    """Pools laid out in origin slices (step 3): segment_id, pool, in_seq, [in_start,
    in_end), origin_id, origin_a."""
    direct = inb.filter(pl.col("kind") != "TRANSFER").select(
        *POOL, pl.col("seq").alias("in_seq"), "in_start", "in_end", "origin_id", "origin_a"
    )
    arrived = (
        inb.filter(pl.col("kind") == "TRANSFER")
        .select(*POOL, "seq", "in_start", "carries_transfer")
        .join(content, left_on="carries_transfer", right_on="transfer_id")
    )
    arrived = arrived.select(
        *POOL,
        pl.col("seq").alias("in_seq"),
        (pl.col("in_start") + pl.col("content_a")).alias("in_start"),
        (pl.col("in_start") + pl.col("content_b")).alias("in_end"),
        "origin_id",
        "origin_a",
    )
    return pl.concat([direct, arrived]).sort([*POOL, "in_start"]).with_row_index("segment_id")


def _journeys(moves: pl.DataFrame, state: CostingState) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per transfer id: departure (source company, sku, day, time, TRANSFER_OUT id; none
    known for one carried in transit) and arrival (day, time, kind, TRANSFER_IN id)."""
    departed = moves.filter(pl.col("movement_type") == "TRANSFER_OUT").select(
        pl.col("reference").alias("transfer_id"),
        "company",
        "sku",
        pl.col("day").alias("depart_day"),
        pl.col("occurred_at").alias("depart_at"),
        pl.col("movement_id").alias("transfer_out_id"),
    )
    carried = (
        state.open_layers.filter(pl.col("transfer_id").is_not_null())
        .group_by("transfer_id")
        .agg(pl.col("company").first(), pl.col("sku").first(), pl.col("transfer_out_id").first())
        .select(
            "transfer_id",
            "company",
            "sku",
            pl.lit(None, pl.Date).alias("depart_day"),
            pl.lit(None, pl.Datetime("us")).alias("depart_at"),
            "transfer_out_id",
        )
    )
    arrived = moves.filter(
        pl.col("movement_type") == "TRANSFER_IN",
        pl.col("transfer_kind").is_in(["TRANSFER", "INTERCOMPANY"]),
    ).select(
        pl.col("reference").alias("transfer_id"),
        pl.col("day").alias("arrive_day"),
        pl.col("occurred_at").alias("arrive_at"),
        pl.col("transfer_kind"),
        pl.col("movement_id").alias("transfer_in_id"),
    )
    return pl.concat([departed, carried]), arrived


def valued_content(
    content: pl.DataFrame,
    origins: pl.DataFrame,
    moves: pl.DataFrame,
    state: CostingState,
    components: pl.DataFrame,
) -> pl.DataFrame:
    """Every transfer's slices with source company/sku, departure and arrival, and value on
    arrival (landed cost capitalised in transit included)."""
    slices = content.join(
        origins.select(
            "origin_id", "origin_qty", "origin_value_cents", "receipt_date", "origin_kind"
        ),
        on="origin_id",
        how="left",
    ).with_columns(
        (pl.col("content_b") - pl.col("content_a")).alias("quantity"),
        (pl.col("origin_a") + pl.col("content_b") - pl.col("content_a")).alias("origin_b"),
    )
    departed, arrived = _journeys(moves, state)
    slices = slices.join(departed, on="transfer_id", how="left").join(
        arrived, on="transfer_id", how="left"
    )
    slices = landed_extra(slices, components, "arrive_at")
    return slices.with_columns(
        (
            slice_cost(
                pl.col("origin_value_cents"),
                pl.col("origin_a"),
                pl.col("origin_b"),
                pl.col("origin_qty"),
            )
            + pl.col("landed_cents")
        ).alias("value_cents")
    )
