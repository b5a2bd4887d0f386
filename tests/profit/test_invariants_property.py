"""Property tests: whatever the orders, allocations sum exactly and the margin identities
hold line by line and in every roll-up (DOMAIN.md: rounding never loses a cent)."""

from __future__ import annotations

from dataclasses import replace
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
            for k in range(draw(st.integers(0, 2))):
                # goodwill or price adjustments, goods kept: up to more than the line's revenue
                amount = _money(draw(st.integers(1, max(price * qty, 1))))
                refunds.append(refund(f"RA{lid}-{k}", lid, None, amount=amount))
            postings.append(posting(f"MV{lid}", fulfil, sku, _money(draw(cents))))
        if draw(st.booleans()):
            # a refund of an amount on the whole order, shared over its lines
            amount = _money(draw(st.integers(1, 300_00)))
            refunds.append(refund(f"RO{oid}", None, None, amount=amount, order_id=oid))
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
    if split_parent and draw(st.booleans()):
        # on a split parent: shared over its children's lines
        refunds.append(refund("RO-P", None, None, amount=_money(draw(cents)), order_id="P"))
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


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_a_refund_of_an_amount_is_in_net_revenue_once_and_never_beyond_it(scenario) -> None:
    """Against the same orders without the refunds of an amount: the amount taken back is
    `refunded_amount`, in `refunded` and net revenue once, and nowhere else (shipping,
    fees, COGS and freight unchanged); no line gives back more than its net revenue left,
    and what was refunded beyond it is reported, to the cent."""
    data, policy = scenario
    result = run(data, policy)
    units_only = run(replace(data, refunds=data.refunds.filter(pl.col("amount").is_null())), policy)
    keep = ("shipping_income", "platform_fees", "cogs", "freight", "freight_disputed")
    key = "order_line_id"
    both = result.lines.join(units_only.lines, on=key, suffix="_units")
    for name in keep:
        assert (both[name] == both[f"{name}_units"]).all(), name
    assert (both["refunded"] - both["refunded_units"] == both["refunded_amount"]).all()
    assert (both["net_revenue_units"] - both["net_revenue"] == both["refunded_amount"]).all()
    margin = both["contribution_margin_units"] - both["contribution_margin"]
    assert (margin == both["refunded_amount"]).all()
    assert (units_only.lines["refunded_amount"] == 0).all()
    # in the order's currency: taken = what is left, at most, and taken + reported = refunded,
    # per root order (a refund on a whole order or a split parent is shared over its lines)
    taken = both.select(
        key, (pl.col("net_revenue_doc_units") - pl.col("net_revenue_doc")).alias("t")
    )
    root_of_order = data.orders.select(
        "order_id", pl.coalesce("parent_order_id", "order_id").alias("root")
    )
    root_of_line = data.order_lines.join(root_of_order, on="order_id").select(key, "root")
    asked = data.refunds.filter(pl.col("amount").is_not_null())
    asked_root = pl.concat(
        [
            asked.join(root_of_line, on=key).select("refund_id", "root", "amount"),
            asked.filter(pl.col(key).is_null())
            .join(root_of_order, on="order_id")
            .select("refund_id", "root", "amount"),
        ]
    )
    beyond = result.over_refunded.filter(pl.col("excess_amount").is_not_null())
    beyond_root = pl.concat(
        [
            beyond.join(root_of_line, on=key).select("root", "excess_amount"),
            beyond.filter(pl.col(key).is_null())
            .join(asked_root, on="refund_id")
            .select("root", "excess_amount"),
        ]
    )
    per_root = (
        asked_root.group_by("root")
        .agg(pl.col("amount").sum())
        .join(
            beyond_root.group_by("root").agg(pl.col("excess_amount").sum()), on="root", how="left"
        )
        .join(
            taken.join(root_of_line, on=key).group_by("root").agg(pl.col("t").sum()),
            on="root",
            how="left",
        )
        .with_columns(pl.col("excess_amount", "t").fill_null(0))
    )
    assert (per_root["t"] + per_root["excess_amount"] == per_root["amount"]).all()
    per_line = both.select(key, "net_revenue_doc", "net_revenue_doc_units").join(
        beyond.group_by(key).agg(pl.col("excess_amount").sum()), on=key, how="left"
    )
    floor = pl.min_horizontal(pl.col("net_revenue_doc_units"), pl.lit(0))
    assert per_line.filter(pl.col("net_revenue_doc") < floor).is_empty()
    over = per_line.filter(pl.col("excess_amount") > 0)
    assert (over["net_revenue_doc"] == over.select(floor).to_series()).all()
