"""The worked examples of docs/profit.md, by hand: one per rule of the issue's bar."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pipelines.profit import ProfitInputs, ProfitPolicy
from pipelines.profit.invariants import MARGIN_TERMS, allocation_breaks, margin_breaks
from tests.profit.builders import (
    figures,
    inputs,
    line,
    order,
    posting,
    refund,
    run,
    shipment,
    with_shipments,
)

D = Decimal


def test_pro_rata_discount_gives_the_rounding_remainder_to_the_middle_line() -> None:
    """10.00 coupon over three 10.00 lines: 3.33 + 3.34 + 3.33 (cumulative rounding)."""
    data = inputs(
        [order("O1", coupon_discount="10.00")],
        [line(f"L{i}", "O1", unit_price="10.00") for i in (1, 2, 3)],
    )
    result = run(data)
    shares = [figures(result, f"L{i}", "coupon_discount")[0] for i in (1, 2, 3)]
    assert shares == [D("3.33"), D("3.34"), D("3.33")]
    assert figures(result, "L2", "net_revenue") == (D("6.66"),)
    assert allocation_breaks(result.header_amounts, result.allocations).is_empty()
    order_row = result.orders.row(0, named=True)
    assert order_row["coupon_discount"] == D("10.00")
    assert order_row["net_revenue"] == D("20.00")


def test_quantity_basis_is_a_policy() -> None:
    data = inputs(
        [order("O1", promotion_discount="4.00")],
        [
            line("L1", "O1", unit_price="30.00", quantity=1),
            line("L2", "O1", unit_price="1.00", quantity=3),
        ],
    )
    by_quantity = run(data, ProfitPolicy(revenue_basis="QUANTITY"))
    assert figures(by_quantity, "L1", "promotion_discount") == (D("1.00"),)
    assert figures(by_quantity, "L2", "promotion_discount") == (D("3.00"),)
    by_amount = run(data)  # 30.00 : 3.00
    assert figures(by_amount, "L1", "promotion_discount") == (D("3.64"),)
    assert figures(by_amount, "L2", "promotion_discount") == (D("0.36"),)


def test_split_order_parent_amounts_flow_to_the_children_lines() -> None:
    """Parent P (promotion 6.00, shipping 5.00) split into C1 (30.00) and C2 (10.00, own
    coupon 1.00), each shipped in its own parcel: 3:1 shares of the parent's amounts."""
    data = inputs(
        [
            order("P", promotion_discount="6.00", shipping_charged="5.00"),
            order("C1", parent_order_id="P"),
            order("C2", parent_order_id="P", coupon_discount="1.00"),
        ],
        [
            line("A", "C1", unit_price="30.00", sku="SKU-A"),
            line("B", "C2", unit_price="10.00", sku="SKU-C"),
        ],
        shipments=[shipment("S1", "C1", "4.00", True), shipment("S2", "C2", "3.00", True)],
    )
    result = run(data)
    names = ("promotion_discount", "shipping_income", "coupon_discount", "freight")
    assert figures(result, "A", *names) == (D("4.50"), D("3.75"), D("0.00"), D("4.00"))
    assert figures(result, "B", *names) == (D("1.50"), D("1.25"), D("1.00"), D("3.00"))
    # B: 10.00 - 1.50 - 1.00 + 1.25 - 3.00 = 5.75
    assert figures(result, "B", "contribution_margin") == (D("5.75"),)
    assert allocation_breaks(result.header_amounts, result.allocations).is_empty()
    assert set(result.orders["parent_order_id"].drop_nulls()) == {"P"}


def test_merged_parcel_freight_goes_to_both_orders_by_weight() -> None:
    """Orders M1 (1 × 1.000 kg) and M2 (2 × 0.250 kg) of one buyer in one parcel of
    10.00: 1000 g : 500 g, so 6.67 and 3.33."""
    data = inputs(
        [order("M1"), order("M2")],
        [
            line("X", "M1", unit_price="20.00", sku="SKU-A", fulfilment_order_id="M1"),
            line("Y", "M2", unit_price="5.00", sku="SKU-B", quantity=2, fulfilment_order_id="M1"),
        ],
        shipments=[shipment("S1", "M1", "10.00", True, bills="B1#1")],
    )
    result = run(data)
    assert figures(result, "X", "freight", "shipments", "bill_lines") == (D("6.67"), "S1", "B1#1")
    assert figures(result, "Y", "freight", "freight_status") == (D("3.33"), "BILLED")
    by_value = run(data, ProfitPolicy(freight_basis="VALUE"))  # 20.00 : 10.00
    assert figures(by_value, "X", "freight") == (D("6.67"),)
    assert figures(by_value, "Y", "freight") == (D("3.33"),)
    assert result.line_freight["freight"].sum() == D("10.00")


def test_partial_refund_reverses_the_refunded_share_of_every_allocation() -> None:
    """3 × 10.00 with 3.00 promotion and 4.00 shipping; 1 unit refunded: a third of each
    is reversed (10.00 goods, 1.00 promotion, 1.33 shipping)."""
    data = inputs(
        [order("O1", promotion_discount="3.00", shipping_charged="4.00", payment_fee="0.90")],
        [line("L1", "O1", unit_price="10.00", quantity=3)],
        refunds=[refund("R1", "L1", 1)],
    )
    result = run(data)
    names = ("refunded", "net_revenue", "shipping_income", "payment_fee", "refunded_qty")
    assert figures(result, "L1", *names) == (D("9.00"), D("18.00"), D("2.67"), D("0.60"), 1)
    # 18.00 + 2.67 - 0.60 = 20.07, no costs yet (not issued: provisional)
    assert figures(result, "L1", "contribution_margin", "status") == (D("20.07"), "PROVISIONAL")


def test_return_reverses_cogs_on_the_line_it_returns() -> None:
    """2 units issued at 12.00; one comes back (RETURN movement 6.00, refund of kind RETURN)."""
    data = inputs(
        [order("O1")],
        [line("L1", "O1", unit_price="15.00", quantity=2, sku="SKU-A")],
        refunds=[refund("R1", "L1", 1, kind="RETURN")],
        postings=[
            posting("MV1", "O1", "SKU-A", "12.00"),
            posting("MV9", "O1", "SKU-A", "-6.00", category="RETURN"),
        ],
        shipments=[shipment("S1", "O1", "5.00", True)],
    )
    result = run(data)
    names = ("net_revenue", "cogs", "freight", "contribution_margin", "issues", "cogs_status")
    assert figures(result, "L1", *names) == (
        D("15.00"),
        D("6.00"),
        D("5.00"),
        D("4.00"),
        "MV1,MV9",
        "FINAL",
    )
    assert figures(result, "L1", "status") == ("FINAL",)


def test_unbilled_parcel_is_expected_then_billed_at_a_different_amount() -> None:
    """Shipped, not billed: 8.00 expected, provisional. Billed later at 11.00 of which 9.50
    approved and 1.50 disputed: freight 9.50, the dispute apart, final."""
    data = inputs(
        [order("O1")],
        [line("L1", "O1", unit_price="40.00", sku="SKU-A")],
        postings=[posting("MV1", "O1", "SKU-A", "12.00")],
        shipments=[shipment("S1", "O1", "8.00", False)],
    )
    before = run(data)
    names = ("freight", "freight_disputed", "freight_status", "status", "contribution_margin")
    assert figures(before, "L1", *names) == (
        D("8.00"),
        D("0.00"),
        "EXPECTED",
        "PROVISIONAL",
        D("20.00"),
    )
    assert figures(before, "L1", "provisional_reasons") == ("FREIGHT_EXPECTED",)
    after = run(with_shipments(data, [shipment("S1", "O1", "9.50", True, disputed="1.50")]))
    assert figures(after, "L1", *names) == (D("9.50"), D("1.50"), "BILLED", "FINAL", D("18.50"))


def test_provisional_cogs_and_a_cancelled_order() -> None:
    data = inputs(
        [order("O1"), order("O2")],
        [line("L1", "O1", unit_price="10.00"), line("L2", "O2", unit_price="10.00")],
        postings=[posting("MV1", "O1", "SKU-A", "4.00", provisional_open="4.00")],
    )
    result = run(data)
    assert figures(result, "L1", "cogs_status", "provisional_reasons") == (
        "PROVISIONAL",
        "COGS_PROVISIONAL",
    )
    assert figures(result, "L2", "cogs_reason") == ("NOT_ISSUED",)


def test_margin_identity_holds_in_functional_currency_after_conversion() -> None:
    """A CN01 order in USD at 7.1: each component converted on its own, the margin their
    difference, so it holds exactly in CNY too."""
    data = inputs(
        [order("O1", company="CN01", coupon_discount="0.07", shipping_charged="3.33")],
        [line("L1", "O1", unit_price="9.99", quantity=3, line_discount="0.01")],
        postings=[posting("MV1", "O1", "SKU-A", "50.00", company="CN01")],
    )
    result = run(data)
    row = result.lines.row(0, named=True)
    assert row["functional_currency"] == "CNY"
    assert row["gross_revenue"] == D("212.79")  # 29.97 × 7.1
    assert row["gross_revenue_doc"] == D("29.97")
    assert margin_breaks(result.lines).is_empty()
    assert margin_breaks(result.orders).is_empty()


def _price_adjusted(refunds: list[dict]) -> ProfitInputs:
    """2 × 20.00 with 4.00 promotion, 5.00 shipping and 3.00 commission; issued at 16.00,
    one parcel billed 6.00."""
    return inputs(
        [order("O1", promotion_discount="4.00", shipping_charged="5.00", commission_fee="3.00")],
        [line("L1", "O1", unit_price="20.00", quantity=2, sku="SKU-A")],
        refunds=refunds,
        postings=[posting("MV1", "O1", "SKU-A", "16.00")],
        shipments=[shipment("S1", "O1", "6.00", True)],
    )


FIGURES = ("refunded", "refunded_amount", *MARGIN_TERMS)
"""What a refund may move, beside the margin's own terms (pipelines/profit/invariants.py)."""


def test_a_refund_of_an_amount_reduces_the_net_revenue_only() -> None:
    """A 5.00 price adjustment, goods kept: net revenue 36.00 − 5.00 = 31.00; shipping,
    fees, COGS and freight unchanged; margin 31.00 + 5.00 − 3.00 − 16.00 − 6.00 = 11.00."""
    result = run(_price_adjusted([refund("R1", "L1", None, amount="5.00")]))
    assert figures(result, "L1", *FIGURES) == (
        D("5.00"),
        D("5.00"),
        D("31.00"),
        D("5.00"),
        D("3.00"),
        D("16.00"),
        D("6.00"),
        D("11.00"),
    )
    assert figures(result, "L1", "refunded_qty", "net_revenue_doc", "status") == (
        0,
        D("31.00"),
        "FINAL",
    )
    assert result.over_refunded.is_empty()
    assert margin_breaks(result.lines).is_empty() and margin_breaks(result.orders).is_empty()
    # the roll-ups say how much of `refunded` was an amount, too
    assert result.orders.select("refunded", "refunded_amount").row(0) == (D("5.00"), D("5.00"))
    assert result.daily.select("refunded", "refunded_amount").row(0) == (D("5.00"), D("5.00"))


def test_refunds_of_an_amount_take_what_the_refunds_of_units_left_and_never_more() -> None:
    """One unit refunded (half of everything: 20.00 − 2.00 = 18.00, shipping 2.50, fees
    1.50), then 5.00 and 15.00 refunded with the goods kept: 18.00 of net revenue is left,
    5.00 and 13.00 of them are taken, the last 2.00 is not reversed and is reported."""
    result = run(
        _price_adjusted(
            [
                refund("R1", "L1", 1, refunded_at=datetime(2026, 3, 7, 9, 0)),
                refund("R2", "L1", None, amount="5.00", refunded_at=datetime(2026, 3, 5, 9, 0)),
                refund("R3", "L1", None, amount="15.00", refunded_at=datetime(2026, 3, 6, 9, 0)),
            ]
        )
    )
    # 0.00 + 2.50 − 1.50 − 16.00 − 6.00 = −21.00; COGS stays (REFUND: the goods are kept)
    assert figures(result, "L1", *FIGURES) == (
        D("36.00"),
        D("18.00"),
        D("0.00"),
        D("2.50"),
        D("1.50"),
        D("16.00"),
        D("6.00"),
        D("-21.00"),
    )
    assert result.over_refunded.rows() == [
        (
            "R3",
            "L1",
            "REFUND",
            "USD",
            None,
            D("2.00"),
            "refunds 15.00 USD where 13.00 USD of the line's net revenue is left (after its "
            "refunds of units and earlier refunds of an amount): 2.00 USD not reversed",
        )
    ]
    assert result.orders.row(0, named=True)["largest_cost"] == "COGS"


def test_units_refunded_beyond_the_line_are_reported_not_reversed_twice() -> None:
    result = run(_price_adjusted([refund("R1", "L1", 1), refund("R2", "L1", 2, kind="RETURN")]))
    assert figures(result, "L1", "refunded_qty", "refunded", "net_revenue") == (
        2,
        D("36.00"),
        D("0.00"),
    )
    assert result.over_refunded.select("refund_id", "excess_quantity", "reason").rows() == [
        ("R2", 1, "refunds 2 unit(s) where 1 of the line's 2 are left: 1 not reversed")
    ]


def _three_lines(refunds: list[dict]) -> ProfitInputs:
    """One order of three lines, 10.00, 20.00 and 30.00 (basis 60.00), and an order O2
    without lines."""
    return inputs(
        [order("O1"), order("O2")],
        [line(f"L{i}", "O1", unit_price=f"{10 * i}.00") for i in (1, 2, 3)],
        refunds=refunds,
    )


def test_a_refund_of_an_amount_on_the_order_is_shared_by_cumulative_rounding() -> None:
    """10.00 refunded on the order: 10 × 10/60 = 1.67; 10 × 30/60 = 5.00, less 1.67 = 3.33;
    10.00 less 5.00 = 5.00. Net revenue 8.33, 16.67 and 25.00; the order's 50.00."""
    result = run(_three_lines([refund("RO", None, None, amount="10.00", order_id="O1")]))
    got = {
        lid: figures(result, lid, "refunded_amount", "refunded", "net_revenue")
        for lid in ("L1", "L2", "L3")
    }
    assert got == {
        "L1": (D("1.67"), D("1.67"), D("8.33")),
        "L2": (D("3.33"), D("3.33"), D("16.67")),
        "L3": (D("5.00"), D("5.00"), D("25.00")),
    }
    assert result.orders.select("refunded_amount", "net_revenue").row(0) == (
        D("10.00"),
        D("50.00"),
    )
    assert result.over_refunded.is_empty()
    assert margin_breaks(result.lines).is_empty() and margin_breaks(result.orders).is_empty()


def test_a_share_of_an_order_refund_beyond_its_line_and_an_order_without_lines_are_reported() -> (
    None
):
    """L1 gave 9.00 back first: of its 1.67 share of the order's 10.00 only 1.00 is left
    (0.67 reported on L1); 5.00 refunded on O2, which has no line, is reported whole."""
    result = run(
        _three_lines(
            [
                refund("R1", "L1", None, amount="9.00", refunded_at=datetime(2026, 3, 3, 9, 0)),
                refund("RO", None, None, amount="10.00", order_id="O1"),
                refund("RX", None, None, amount="5.00", order_id="O2"),
            ]
        )
    )
    assert figures(result, "L1", "refunded_amount", "net_revenue") == (D("10.00"), D("0.00"))
    assert figures(result, "L2", "net_revenue") == (D("16.67"),)
    beyond = {
        (r["refund_id"], r["order_line_id"]): (r["excess_amount"], r["reason"])
        for r in result.over_refunded.iter_rows(named=True)
    }
    assert beyond.keys() == {("RO", "L1"), ("RX", None)}
    assert beyond["RO", "L1"][0] == D("0.67")
    assert beyond["RX", None][0] == D("5.00")
    assert "order O2, which has no line to carry it" in beyond["RX", None][1]
