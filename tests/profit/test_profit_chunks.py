"""Chunks of order days (`order_profit_chunks`) give exactly the rows of one call: a
cluster of lines linked by a split parent or a merged parcel stays whole across days."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.profit import order_profit
from pipelines.profit.chunks import anchor_days, order_profit_chunks
from pipelines.profit.engine import merge_daily
from tests.profit.builders import ORDERED, inputs, line, order, posting, shipment
from tests.profit.test_invariants_property import scenarios

TABLES = ("lines", "orders", "line_cogs", "line_freight", "over_refunded")


def _spread_over_days(data, days: list[int]):
    """The scenario's orders placed on the given day offsets (cycled), split parents too."""
    offsets = pl.Series([days[i % len(days)] for i in range(data.orders.height)])
    ordered = data.orders.with_columns(
        (pl.lit(ORDERED) + pl.duration(days=offsets)).alias("ordered_at")
    )
    return replace(data, orders=ordered.with_columns(pl.col("cancelled_at").clip(ORDERED)))


def _same_rows(chunks, one) -> None:
    for table in TABLES:
        got = pl.concat([getattr(c.result, table) for c in chunks])
        want = getattr(one, table)
        keys = got.columns
        assert got.sort(keys).equals(want.sort(keys)), table
    # a day's lines may sit in two chunks: their daily rows add up to the day's
    assert merge_daily([c.result.daily for c in chunks]).equals(one.daily)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.lists(st.integers(0, 6), min_size=1, max_size=5))
def test_chunks_of_one_line_give_the_rows_of_one_call(scenario, days) -> None:
    data, policy = scenario
    data = _spread_over_days(data, days)
    chunks = list(order_profit_chunks(data, policy, lines_per_chunk=1))
    _same_rows(chunks, order_profit(data, policy))


def test_a_parcel_merged_over_two_days_and_a_split_order_stay_in_one_chunk() -> None:
    day2 = ORDERED + timedelta(days=1)
    day3 = ORDERED + timedelta(days=2)
    data = inputs(
        [
            order("A", shipping_charged="5.00"),
            order("B", ordered_at=day2),
            order("P", ordered_at=day3, promotion_discount="3.00"),
            order("C1", parent_order_id="P", ordered_at=day3 + timedelta(days=1)),
            order("C2", parent_order_id="P", ordered_at=day3 + timedelta(days=3)),
        ],
        [
            line("A-1", "A", unit_price="10.00"),
            line("B-1", "B", unit_price="30.00", fulfilment_order_id="A"),
            line("C1-1", "C1", unit_price="10.00"),
            line("C2-1", "C2", unit_price="20.00"),
        ],
        postings=[posting("MV1", "A", "SKU-A", "8.00")],
        shipments=[shipment("S1", "A", "9.00", True)],
    )
    anchors = dict(
        anchor_days(data.order_lines, data.orders).select("order_line_id", "_anchor").iter_rows()
    )
    assert anchors["B-1"] == anchors["A-1"] == ORDERED.date()
    assert anchors["C2-1"] == anchors["C1-1"] == (day3 + timedelta(days=1)).date()
    chunks = list(order_profit_chunks(data, lines_per_chunk=1))
    assert [c.result.lines["order_line_id"].sort().to_list() for c in chunks] == [
        ["A-1", "B-1"],
        ["C1-1", "C2-1"],
    ]
    _same_rows(chunks, order_profit(data))
