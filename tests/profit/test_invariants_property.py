"""Property tests: whatever the orders, allocations sum exactly and the margin identities
hold line by line and in every roll-up (DOMAIN.md: rounding never loses a cent)."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.profit import ProfitPolicy
from pipelines.profit.engine import FIGURES_C
from pipelines.profit.invariants import (
    allocation_breaks,
    freight_breaks,
    margin_breaks,
    posting_breaks,
)
from tests.profit.builders import inputs, line, order, posting, refund, run, shipment

cents = st.integers(min_value=0, max_value=500_00)
SKUS = ("SKU-A", "SKU-B", "SKU-C")


def _money(c: int) -> str:
    return str(Decimal(c) / 100)


@st.composite
def scenarios(draw: st.DrawFn):
    n_orders = draw(st.integers(1, 5))
    orders, lines, refunds, postings, shipments = [], [], [], [], []
    split_parent = draw(st.booleans())
    if split_parent:
        orders.append(
            order("P", promotion_discount=_money(draw(cents)), shipping_charged=_money(draw(cents)))
        )
    for o in range(n_orders):
        oid = f"O{o}"
        orders.append(
            order(
                oid,
                parent_order_id="P" if split_parent and o % 2 == 0 else None,
                company=draw(st.sampled_from(["US01", "CN01"])),
                promotion_discount=_money(draw(cents)),
                coupon_discount=_money(draw(cents)),
                points_discount=_money(draw(cents)),
                shipping_charged=_money(draw(cents)),
                commission_fee=_money(draw(cents)),
                payment_fee=_money(draw(cents)),
            )
        )
        # merged parcels: an order may ship under the previous order's warehouse order
        fulfil = f"O{o - 1}" if o and draw(st.booleans()) else oid
        for n in range(draw(st.integers(1, 4))):
            lid = f"{oid}-{n}"
            qty = draw(st.integers(1, 5))
            price = draw(st.integers(0, 200_00))
            sku = draw(st.sampled_from(SKUS))
            lines.append(
                line(
                    lid,
                    oid,
                    sku=sku,
                    quantity=qty,
                    unit_price=_money(price),
                    line_discount=_money(draw(st.integers(0, price * qty))),
                    line_fee=_money(draw(cents)) if draw(st.booleans()) else None,
                    fulfilment_order_id=fulfil,
                )
            )
            if draw(st.booleans()):
                refunds.append(refund(f"R{lid}", lid, draw(st.integers(1, qty))))
            postings.append(posting(f"MV{lid}", fulfil, sku, _money(draw(cents))))
            if draw(st.booleans()):
                back = -draw(st.integers(0, 100_00))
                postings.append(posting(f"RT{lid}", fulfil, sku, _money(back), category="RETURN"))
        for s in range(draw(st.integers(0, 2))):
            shipments.append(
                shipment(
                    f"S{oid}-{s}",
                    fulfil,
                    _money(draw(cents)),
                    draw(st.booleans()),
                    disputed=_money(draw(cents)),
                )
            )
    policy = ProfitPolicy(
        revenue_basis=draw(st.sampled_from(["AMOUNT", "QUANTITY"])),
        freight_basis=draw(st.sampled_from(["WEIGHT", "VALUE"])),
    )
    return inputs(orders, lines, refunds, postings, shipments), policy


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_allocations_sum_exactly_and_margins_are_the_stated_differences(scenario) -> None:
    data, policy = scenario
    result = run(data, policy)
    assert allocation_breaks(result.header_amounts, result.allocations).is_empty()
    assert posting_breaks(data.postings, result.line_cogs).is_empty()
    assert freight_breaks(data.shipments, result.line_freight).is_empty()
    for table in (result.lines, result.orders, result.daily):
        assert margin_breaks(table).is_empty()
    # the roll-ups are the sums of their lines, figure by figure
    for name in FIGURES_C:
        total = result.lines[name].sum()
        assert result.orders[name].sum() == total
        assert result.daily[name].sum() == total
    # every posting and every shipment that found lines reached them in full
    matched = data.postings.join(
        data.order_lines.select(
            pl.coalesce("fulfilment_order_id", "order_id").alias("fulfilment_order_id"), "sku"
        ).unique(),
        on=["fulfilment_order_id", "sku"],
        how="semi",
    )
    assert result.lines["cogs"].sum() == matched["amount"].sum()
    assert result.lines["freight"].sum() == data.shipments["freight"].sum()
    assert result.lines["freight_disputed"].sum() == data.shipments["disputed"].sum()
