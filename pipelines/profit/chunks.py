"""Order profit over many order days in bounded memory: the days cut into chunks, each
computed by `order_profit` on its own, with the same figures as one call over all of them.

A line's figures depend on other lines only through what they share: its order's (and a
split parent's) order-level amounts, and the COGS postings and parcels of its warehouse
order (`fulfilment_order_id`, merged parcels). Lines linked that way form a cluster, and a
cluster is placed whole in the chunk of its earliest order day (`anchor_days`), so every
allocation sees exactly the lines it sees in one call. A year of 10M lines does not fit
in memory at once (the results alone are several GB); a chunk of ~250k lines does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import polars as pl

from pipelines.profit.engine import ProfitInputs, ProfitResult, order_profit
from pipelines.profit.policy import ProfitPolicy

LINES_PER_CHUNK = 250_000
"""About the size where the engine is fastest per line (smaller: fixed costs per call;
larger: memory traffic), and ~1 GB of working memory."""


@dataclass(frozen=True)
class ProfitChunk:
    first_day: date
    last_day: date
    """The anchor days of the chunk's clusters; a cluster's later lines may be later."""
    result: ProfitResult


def anchor_days(lines: pl.DataFrame, orders: pl.DataFrame) -> pl.DataFrame:
    """order_line_id, order_id, _fulfil, _anchor, row-aligned with `lines`: the earliest
    order day of the line's cluster (lines linked by order, root order or warehouse order;
    null for a line without its order), by propagating the minimum day along both links
    until nothing changes (one or two rounds: clusters are small). Without a split or
    merged order a line's cluster is its order, whose lines share its day."""
    header = orders.select(
        "order_id",
        pl.coalesce("parent_order_id", "order_id").alias("_root"),
        pl.col("ordered_at").cast(pl.Date).alias("_anchor"),
    )
    linked = lines.select(
        "order_line_id",
        "order_id",
        pl.coalesce("fulfilment_order_id", "order_id").alias("_fulfil"),
    ).join(header, on="order_id", how="left", maintain_order="left")
    own = (pl.col("_root") == pl.col("order_id")) & (pl.col("_fulfil") == pl.col("order_id"))
    spreading = not linked.select(own.fill_null(True).all()).item()
    while spreading:
        spread = linked.with_columns(pl.col("_anchor").min().over("_root")).with_columns(
            pl.col("_anchor").min().over("_fulfil")
        )
        spreading = not spread["_anchor"].equals(linked["_anchor"])
        linked = spread
    return linked.select("order_line_id", "order_id", "_fulfil", "_anchor")


def order_profit_chunks(
    inputs: ProfitInputs,
    policy: ProfitPolicy | None = None,
    lines_per_chunk: int = LINES_PER_CHUNK,
) -> Iterator[ProfitChunk]:
    """`order_profit` chunk by chunk of anchor days (whole days, ~`lines_per_chunk` lines
    each), in day order; together the chunks hold exactly the rows of one call."""
    anchored = anchor_days(inputs.order_lines, inputs.orders)
    per_day = anchored.drop_nulls("_anchor").group_by("_anchor").len().sort("_anchor")
    chunk_of_day = per_day.with_columns(
        _chunk=((pl.col("len").cum_sum() - pl.col("len")) // lines_per_chunk).cast(pl.Int32)
    ).select("_anchor", "_chunk")
    anchored = anchored.join(chunk_of_day, on="_anchor", how="left", maintain_order="left")
    order_chunk, by_order, by_fulfil = _order_chunks(anchored, inputs.orders, chunk_of_day)
    by_line = anchored.select("order_line_id", "_chunk")
    # One chunk number per input row (null: no line of the range uses it), not a tagged
    # copy of the inputs: at 10M lines the inputs alone are ~3 GB.
    chunk_of = {
        "orders": order_chunk,
        "order_lines": anchored["_chunk"],
        # a refund names its line, or (an amount on a whole order) its order
        "refunds": _chunk_of(inputs.refunds, "order_line_id", by_line).fill_null(
            _chunk_of(inputs.refunds, "order_id", by_order)
        ),
        "postings": _chunk_of(inputs.postings, "fulfilment_order_id", by_fulfil),
        "shipments": _chunk_of(inputs.shipments, "order_id", by_fulfil),
    }
    days = anchored.group_by("_chunk").agg(
        pl.col("_anchor").min().alias("first"), pl.col("_anchor").max().alias("last")
    )
    for chunk, first, last in days.sort("_chunk").iter_rows():
        part = {name: getattr(inputs, name).filter(of == chunk) for name, of in chunk_of.items()}
        chunk_inputs = ProfitInputs(
            part["orders"],
            part["order_lines"],
            part["refunds"],
            part["postings"],
            part["shipments"],
            inputs.skus,
            inputs.fx_rates,
            inputs.companies,
        )
        yield ProfitChunk(first, last, order_profit(chunk_inputs, policy))


def _order_chunks(
    anchored: pl.DataFrame, orders: pl.DataFrame, chunk_of_day: pl.DataFrame
) -> tuple[pl.Series, pl.DataFrame, pl.DataFrame]:
    """(the chunk of each order, row-aligned with `orders`; order_id, _chunk of each order;
    order_id, _chunk of each warehouse order). Without a split or merged order, an order's
    chunk is its day's and its warehouse order is itself; otherwise both are read from the
    lines, a split parent (no lines of its own) going with its children."""
    unlinked = (
        orders["parent_order_id"].is_null().all()
        and (anchored["_fulfil"] == anchored["order_id"]).all()
    )
    if unlinked:
        dated = orders.select("order_id", pl.col("ordered_at").cast(pl.Date).alias("_anchor"))
        by_order = dated.join(chunk_of_day, on="_anchor", how="left", maintain_order="left")
        by_order = by_order.select("order_id", "_chunk")
        return by_order["_chunk"], by_order, by_order
    by_order = anchored.select("order_id", "_chunk").unique("order_id")
    by_parent = (
        anchored.join(orders.select("order_id", "parent_order_id"), on="order_id")
        .select(pl.col("parent_order_id").alias("order_id"), "_chunk")
        .drop_nulls()
        .unique("order_id")
    )
    by_order = pl.concat([by_order, by_parent]).unique("order_id")
    by_fulfil = anchored.select(pl.col("_fulfil").alias("order_id"), "_chunk").unique("order_id")
    return _chunk_of(orders, "order_id", by_order), by_order, by_fulfil


def _chunk_of(frame: pl.DataFrame, column: str, chunks: pl.DataFrame) -> pl.Series:
    """The chunk of each row of `frame` (by `column` in the first column of `chunks`),
    row-aligned with `frame`."""
    keys = frame.select(pl.col(column).alias(chunks.columns[0]))
    return keys.join(chunks, on=chunks.columns[0], how="left", maintain_order="left")["_chunk"]
