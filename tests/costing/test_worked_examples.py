"""Hand-computed worked examples, one per costing rule of issue 3 / DOMAIN.md."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import polars as pl
import pytest

from pipelines.contracts.inputs import LANDED_COSTS
from pipelines.costing import POOL_BY_COMPANY, CostingInputError, CostingPolicy, cost_range
from tests.costing.helpers import amounts, inputs, move

JAN1, JAN10 = date(2026, 1, 1), date(2026, 1, 10)


def cost(rows: list[dict], fx=(), start=JAN1, end=JAN10, policy=None):
    return cost_range(inputs(rows, fx), None, start, end, policy)


def test_receipt_value_is_rounded_half_up_once_in_functional_currency() -> None:
    # 1 x 1.005 EUR = 1.005 -> 1.01 (half-up; half-even would give 1.00).
    # 3 x 2.5 USD x 0.92487500 = 6.9365625 -> 6.94 EUR.
    r = cost(
        [
            move("r1", "2026-01-01T09:00", "RECEIPT", 1, cost="1.005"),
            move("r2", "2026-01-01T10:00", "RECEIPT", 3, cost="2.5", currency="USD"),
        ],
        fx=[("2026-01-01", "USD", "EUR", "0.92487500")],
    )
    got = amounts(r.postings.filter(category="RECEIPT"), col="value")
    assert got == {"r1": D("1.01"), "r2": D("6.94")}


def test_cumulative_rounding_releases_a_layer_exactly() -> None:
    # 3 units worth 1.00 (3 x 0.333333 = 0.999999 -> 1.00), issued one by one:
    # round(100*1/3)=33, round(100*2/3)=67 -> 34, 100-67 -> 33: 0.33 + 0.34 + 0.33 = 1.00.
    rows = [move("r1", "2026-01-01T09:00", "RECEIPT", 3, cost="0.333333")]
    rows += [move(f"i{k}", f"2026-01-02T0{k}:00", "ISSUE", 1) for k in (1, 2, 3)]
    r = cost(rows)
    assert amounts(r.cogs) == {"i1": D("0.33"), "i2": D("0.34"), "i3": D("0.33")}
    assert r.open_layers.height == 0
    trace = r.consumption.select("movement_id", "origin_id", "origin_a", "origin_b").rows()
    assert trace == [("i1", "r1", 0, 1), ("i2", "r1", 1, 2), ("i3", "r1", 2, 3)]


def test_fifo_consumes_oldest_layer_first_across_receipts() -> None:
    # 2 @ 1.00 then 2 @ 3.00; an issue of 3 costs 2.00 + 3.00 = 5.00; 1 @ 3.00 stays open.
    r = cost(
        [
            move("r1", "2026-01-01T09:00", "RECEIPT", 2, cost="1"),
            move("r2", "2026-01-01T10:00", "RECEIPT", 2, cost="3"),
            move("i1", "2026-01-02T09:00", "ISSUE", 3),
        ]
    )
    assert amounts(r.cogs) == {"i1": D("5.00")}
    assert r.open_layers.select("origin_id", "quantity", "value").rows() == [("r2", 1, D("3.00"))]


def test_inbound_before_outbound_at_the_same_time() -> None:
    # Issue and receipt at the same instant: the receipt counts first, so no shortfall.
    r = cost(
        [
            move("a_issue", "2026-01-01T09:00", "ISSUE", 1),
            move("z_receipt", "2026-01-01T09:00", "RECEIPT", 1, cost="4"),
        ]
    )
    row = r.cogs.row(0, named=True)
    assert (row["amount"], row["is_provisional"]) == (D("4.00"), False)


def test_negative_stock_costs_provisionally_then_trues_up_on_receipt_date() -> None:
    # 2 @ 5.00 on hand; issue 3: 10.00 + 1 short at the last layer's 5.00 -> 15.00 provisional.
    # Receipt 4 @ 6.00 on Jan 3 serves the short unit: 6.00 - 5.00 = +1.00 true-up on Jan 3.
    r = cost(
        [
            move("r1", "2026-01-01T09:00", "RECEIPT", 2, cost="5"),
            move("i1", "2026-01-02T09:00", "ISSUE", 3),
            move("r2", "2026-01-03T09:00", "RECEIPT", 4, cost="6"),
        ]
    )
    c = r.cogs.select(
        "posting_date", "movement_id", "kind", "amount", "provisional_qty", "provisional"
    )
    assert c.rows() == [
        (date(2026, 1, 2), "i1", "COST", D("15.00"), 1, D("5.00")),
        (date(2026, 1, 3), "i1", "TRUE_UP", D("1.00"), 0, D("5.00")),
    ]
    assert "NEGATIVE_STOCK_PROVISIONAL" in r.flags.get_column("flag").to_list()
    closing = r.valuation_on(date(2026, 1, 2)).row(0, named=True)
    assert (closing["closing_qty"], closing["closing_value"]) == (-1, D("-5.00"))
    closing = r.valuation_on(date(2026, 1, 3)).row(0, named=True)
    assert (closing["closing_qty"], closing["closing_value"]) == (3, D("18.00"))


def test_shortfall_true_up_shares_the_provisional_cost_cumulatively() -> None:
    # Issue 3 with nothing on hand but a past layer of 1 @ 1.00 fully gone: P = 3 x 1.00.
    # Receipts of 1 unit @ 2.00 each serve it: shares 1.00 each, true-ups 1.00 each.
    rows = [
        move("r0", "2026-01-01T08:00", "RECEIPT", 1, cost="1"),
        move("i0", "2026-01-01T09:00", "ISSUE", 1),
        move("i1", "2026-01-02T09:00", "ISSUE", 3),
    ]
    rows += [move(f"r{k}", f"2026-01-0{k + 2}T09:00", "RECEIPT", 1, cost="2") for k in (1, 2, 3)]
    r = cost(rows)
    tu = r.cogs.filter(kind="TRUE_UP").select("posting_date", "amount").rows()
    assert tu == [(date(2026, 1, d), D("1.00")) for d in (3, 4, 5)]


def test_shortfall_with_no_layer_ever_is_zero_and_flagged() -> None:
    r = cost([move("i1", "2026-01-02T09:00", "ISSUE", 2)])
    assert amounts(r.cogs) == {"i1": D("0.00")}
    assert set(r.flags.get_column("flag")) == {"NO_REFERENCE_COST", "NEGATIVE_STOCK_PROVISIONAL"}


def test_shortfall_in_a_pool_with_no_history_takes_the_latest_other_warehouse_reference() -> None:
    # DOMAIN.md "Negative stock": W3 never had S1. At i3 (Jan 4) the company's other pools of
    # S1 are W1 (last inbound r1, Jan 1) and W2 (last inbound r2b, Jan 3): W2's is the latest.
    # W2 holds stock then, so its reference is its oldest open layer: r2a (1 unit left of 4
    # worth 10.00 -> V/Q = 2.50); 3 units short -> P = 7.50. C2's S1 and W1's S2 do not count.
    # At i4 (Jan 5) W2 is empty (i2 took the rest on Jan 4, 23:00): the reference is W2's
    # last entered layer r2b (2 units worth 7.00 -> 3.50): 1 unit -> 3.50. Then r4 (W3)
    # serves both: true-ups at its cost 4.00 a unit.
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 5, cost="1"),
        move("r2a", "2026-01-02T09:00", "RECEIPT", 4, wh="W2", cost="2.5"),
        move("i2a", "2026-01-02T10:00", "ISSUE", 3, wh="W2"),
        move("r2b", "2026-01-03T09:00", "RECEIPT", 2, wh="W2", cost="3.5"),
        move("rc", "2026-01-03T12:00", "RECEIPT", 1, company="C2", cost="99"),
        move("rs", "2026-01-03T13:00", "RECEIPT", 1, sku="S2", cost="50"),
        move("i3", "2026-01-04T09:00", "ISSUE", 3, wh="W3"),
        move("i2", "2026-01-04T23:00", "ISSUE", 3, wh="W2"),
        move("i4", "2026-01-05T09:00", "ISSUE", 1, wh="W3"),
        move("r4", "2026-01-06T09:00", "RECEIPT", 4, wh="W3", cost="4"),
    ]
    r = cost(rows)
    provisional = r.cogs.filter(kind="COST", warehouse="W3").select("movement_id", "provisional")
    assert provisional.rows() == [("i3", D("7.50")), ("i4", D("3.50"))]
    true_ups = amounts(r.cogs.filter(kind="TRUE_UP"))
    assert true_ups == {"i3": D("4.50"), "i4": D("0.50")}
    flags = r.flags.filter(pl.col("movement_id").is_in(["i3", "i4"]))
    assert set(flags.select("movement_id", "flag").rows()) == {
        ("i3", "NEGATIVE_STOCK_PROVISIONAL"),
        ("i3", "REFERENCE_COST_FROM_WAREHOUSE"),
        ("i4", "NEGATIVE_STOCK_PROVISIONAL"),
        ("i4", "REFERENCE_COST_FROM_WAREHOUSE"),
    }
    # day by day (the other pools' references carried in the state) gives the same
    days = _day_by_day(inputs(rows), JAN1, JAN10)
    got = pl.concat(d.cogs for d in days).filter(kind="COST", warehouse="W3")
    assert got.select("movement_id", "provisional").rows() == provisional.rows()
    carried = days[2].end_state.pool_refs.filter(company="C1", sku="S1")
    assert carried.select("warehouse", "last_in_id").sort("warehouse").rows() == [
        ("W1", "r1"),
        ("W2", "r2b"),
    ]


def test_a_shortfall_takes_the_pool_whose_last_inbound_is_latest_across_days() -> None:
    # W1's last inbound (Jan 2) is later than W2's (Jan 1), both carried into Jan 3's call:
    # the W3 shortfall takes W1's reference (4.00 a unit), not W2's (1.00).
    rows = [
        move("r2", "2026-01-01T09:00", "RECEIPT", 1, wh="W2", cost="1"),
        move("r1", "2026-01-02T09:00", "RECEIPT", 1, wh="W1", cost="4"),
        move("i3", "2026-01-03T09:00", "ISSUE", 2, wh="W3"),
    ]
    for result in (cost(rows), _day_by_day(inputs(rows), JAN1, date(2026, 1, 3))[-1]):
        assert amounts(result.cogs.filter(kind="COST")) == {"i3": D("8.00")}


def test_return_is_valued_at_its_issue_cost_share() -> None:
    # Issue of 3 cost 1.00 (layer 3 @ 0.333333); return 1 -> round(1.00 x 1/3) = 0.33.
    r = cost(
        [
            move("r1", "2026-01-01T09:00", "RECEIPT", 3, cost="0.333333"),
            move("i1", "2026-01-02T09:00", "ISSUE", 3),
            move("rt", "2026-01-03T09:00", "RETURN", 1, ref="i1"),
        ]
    )
    assert amounts(r.postings.filter(category="RETURN"), col="value") == {"rt": D("0.33")}
    assert r.open_layers.select("origin_id", "receipt_date").rows() == [("rt", date(2026, 1, 3))]


def test_unknown_return_and_gain_use_the_oldest_open_layer_and_are_flagged() -> None:
    # Oldest open layer 3 units worth 1.00: a gain of 2 -> round(2 x 100/3) = 0.67.
    r = cost(
        [
            move("r1", "2026-01-01T09:00", "RECEIPT", 3, cost="0.333333"),
            move("r2", "2026-01-01T10:00", "RECEIPT", 1, cost="9"),
            move("g1", "2026-01-02T09:00", "ADJUST_GAIN", 2),
            move("rt", "2026-01-02T10:00", "RETURN", 1, ref="nope"),
        ]
    )
    got = amounts(
        r.postings.filter(pl.col("category").is_in(["ADJUST_GAIN", "RETURN"])), col="value"
    )
    assert got == {"g1": D("0.67"), "rt": D("0.33")}
    flags = dict(r.flags.select("movement_id", "flag").rows())
    assert flags == {"g1": "GAIN_AT_REFERENCE_COST", "rt": "RETURN_OF_UNKNOWN_ISSUE"}


def test_loss_is_consumed_fifo_and_booked_as_inventory_loss() -> None:
    r = cost(
        [
            move("r1", "2026-01-01T09:00", "RECEIPT", 2, cost="1.5"),
            move("l1", "2026-01-02T09:00", "ADJUST_LOSS", 1),
        ]
    )
    j = r.journals.filter(category="ADJUST_LOSS").select("account", "debit", "credit").rows()
    assert sorted(j) == [("INVENTORY", D("0"), D("1.50")), ("INVENTORY_LOSS", D("1.50"), D("0"))]


def test_transfer_moves_slices_with_value_and_receipt_date_through_transit() -> None:
    # 10 @ 1.00 received Jan 1 in W1; 4 leave Mar 1 and arrive in W2 Mar 3 still dated Jan 1.
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 10, cost="1"),
        move("to", "2026-03-01T09:00", "TRANSFER_OUT", 4, ref="T1"),
        move("ti", "2026-03-03T09:00", "TRANSFER_IN", 4, wh="W2", ref="T1"),
    ]
    r = cost(rows, end=date(2026, 3, 5))
    transit = r.valuation_on(date(2026, 3, 2)).filter(warehouse="IN_TRANSIT:C1")
    assert transit.select("closing_qty", "closing_value").rows() == [(4, D("4.00"))]
    ageing = r.ageing_on(date(2026, 3, 5)).select("warehouse", "bucket", "quantity", "value").rows()
    assert ageing == [("W1", "61-90", 6, D("6.00")), ("W2", "61-90", 4, D("4.00"))]
    arrival = r.journals.filter(pl.col("category").is_in(["TRANSFER_IN", "TRANSIT_OUT"]))
    assert sorted(arrival.select("account", "debit", "credit").rows()) == [
        ("INVENTORY", D("4.00"), D("0.00")),
        ("INVENTORY_IN_TRANSIT", D("0.00"), D("4.00")),
    ]


def test_intercompany_transfer_is_an_issue_then_a_receipt_at_the_transfer_price() -> None:
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 2, cost="1"),
        move("to", "2026-01-02T09:00", "TRANSFER_OUT", 2, ref="T1"),
        move(
            "ti", "2026-01-04T09:00", "TRANSFER_IN", 2, wh="W3", company="C2", cost="1.5", ref="T1"
        ),
    ]
    r = cost(rows)
    v = r.valuation_on(date(2026, 1, 4)).select("warehouse", "closing_qty", "closing_value").rows()
    assert v == [("W3", 2, D("3.00"))]
    ic = r.postings.filter(pl.col("category").str.contains("INTERCOMPANY"))
    assert ic.select("company", "category", "value").sort("company").rows() == [
        ("C1", "TRANSFER_OUT_INTERCOMPANY", D("-2.00")),
        ("C2", "TRANSFER_IN_INTERCOMPANY", D("3.00")),
    ]


def test_an_unpriced_intercompany_transfer_in_is_at_the_reference_cost_and_flagged() -> None:
    # docs/costing.md "Transfers": without a transfer price the destination layer is valued at
    # the destination pool's reference unit cost (its oldest open layer: 4 units worth 10.00,
    # so 2 units -> 5.00), flagged INTERCOMPANY_WITHOUT_PRICE.
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 2, cost="1"),
        move("r2", "2026-01-01T09:00", "RECEIPT", 4, wh="W3", company="C2", cost="2.5"),
        move("to", "2026-01-02T09:00", "TRANSFER_OUT", 2, ref="T1"),
        move("ti", "2026-01-04T09:00", "TRANSFER_IN", 2, wh="W3", company="C2", ref="T1"),
    ]
    r = cost(rows)
    ic = r.postings.filter(pl.col("category") == "TRANSFER_IN_INTERCOMPANY")
    assert ic.select("movement_id", "value").rows() == [("ti", D("5.00"))]
    flags = r.flags.filter(pl.col("movement_id") == "ti").select("flag", "detail").rows()
    assert [f for f, _ in flags] == ["INTERCOMPANY_WITHOUT_PRICE"]
    assert "from C1" in flags[0][1]


def test_closed_period_posts_late_documents_on_the_first_open_day() -> None:
    rows = [move("r1", "2026-01-01T09:00", "RECEIPT", 1, cost="2")]
    frame = inputs(rows)
    frame["movements"] = frame["movements"].with_columns(
        pl.lit(date(2026, 1, 5)).alias("load_date")
    )
    policy = CostingPolicy(closed_before=date(2026, 1, 5))
    r = cost_range(frame, None, date(2026, 1, 5), date(2026, 1, 5), policy)
    assert r.postings.select("posting_date", "value").rows() == [(date(2026, 1, 5), D("2.00"))]
    assert r.late.select("movement_id", "redated").rows() == [("r1", True)]
    open_r = cost_range(frame, None, JAN1, JAN10)
    assert open_r.late.select("movement_id", "redated").rows() == [("r1", False)]


def test_company_pool_ignores_transfers_within_a_company() -> None:
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 1, cost="1"),
        move("r2", "2026-01-01T10:00", "RECEIPT", 1, cost="5", wh="W2"),
        move("to", "2026-01-02T09:00", "TRANSFER_OUT", 1, wh="W2", ref="T1"),
        move("ti", "2026-01-03T09:00", "TRANSFER_IN", 1, ref="T1"),
        move("i1", "2026-01-04T09:00", "ISSUE", 1),
    ]
    r = cost(rows, policy=CostingPolicy(pool=POOL_BY_COMPANY))
    assert amounts(r.cogs) == {"i1": D("1.00")}
    assert r.valuation_on(JAN10).select("warehouse", "closing_qty").rows() == [("*", 1)]


@pytest.mark.parametrize(
    ("rows", "message"),
    [([move("x", "2026-01-01T09:00", "ISSUE", 0)], "quantity must be > 0")],
)
def test_bad_rows_raise_errors_naming_them(rows: list[dict], message: str) -> None:
    with pytest.raises(CostingInputError, match=message) as err:
        cost(rows)
    assert rows[-1]["movement_id"] in str(err.value)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([move("r1", "2026-01-01T09:00", "RECEIPT", 1)], "receipt_without_unit_cost"),
        ([move("r1", "2026-01-01T09:00", "RECEIPT", 1, cost="1", currency="GBP")], "no_fx_rate"),
        (
            [
                move("to", "2026-01-01T09:00", "TRANSFER_OUT", 2, ref="T"),
                move("ti", "2026-01-02T09:00", "TRANSFER_IN", 1, ref="T", wh="W2"),
            ],
            "transfer_quantity_differs",
        ),
    ],
)
def test_rows_that_cannot_be_costed_are_refused_naming_them(rows: list[dict], message: str) -> None:
    # issue 15: these used to stop the whole range (CostingInputError); now only the row is
    # left out, with its reason (tests/costing/test_refusals.py)
    refused = cost(rows).refused
    assert refused.select("document_id").rows() == [(rows[-1]["movement_id"],)]
    assert refused["reason"][0].startswith(message)


def test_landed_cost_is_allocated_capitalised_on_hand_and_expensed_on_units_gone() -> None:
    # L1 = 1.00 over po1's lines by quantity (2 and 1): r1 round(100x2/3) = 0.67, r2 0.33.
    # One of r1's two units is already issued: its slice [1, 2) keeps 67-34 = 0.33, so
    # 0.34 is a COGS adjustment on Jan 3; r2's unit keeps 0.33. The Jan 4 issue of the two
    # remaining units costs (1.00 + 0.33) + (1.00 + 0.33) = 2.66.
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 2, cost="1", ref="po1"),
        move("r2", "2026-01-01T09:00", "RECEIPT", 1, cost="1", ref="po1"),
        move("i1", "2026-01-02T09:00", "ISSUE", 1),
        move("i2", "2026-01-04T09:00", "ISSUE", 2),
    ]
    frame = inputs(rows)
    frame["landed_costs"] = pl.DataFrame(
        [
            {
                "landed_cost_id": "L1",
                "posted_at": datetime(2026, 1, 3, 9),
                "company": "C1",
                "receipt_reference": "po1",
                "amount": D("1.00"),
                "currency": "EUR",
                "basis": "QUANTITY",
            }
        ],
        schema=LANDED_COSTS.schema,
    )
    r = cost_range(frame, None, JAN1, JAN10)
    assert amounts(r.landed_cost_allocations) == {"r1": D("0.67"), "r2": D("0.33")}
    assert amounts(r.landed_cost_expensed) == {"r1": D("0.34")}
    cap = r.postings.filter(category="LANDED_COST_CAPITALISED")
    assert cap.select("posting_date", "value").rows() == [(date(2026, 1, 3), D("0.66"))]
    assert amounts(r.cogs.filter(kind="COST")) == {"i1": D("1.00"), "i2": D("2.66")}
    assert amounts(r.cogs.filter(kind="LANDED_COST")) == {"r1": D("0.34")}
    assert r.valuation_on(date(2026, 1, 4)).is_empty()
    lc_lines = r.journals.filter(pl.col("category").str.starts_with("LANDED"))
    assert sorted(lc_lines.select("account", "category", "debit", "credit").rows()) == [
        ("COGS", "LANDED_COST_EXPENSED", D("0.34"), D("0.00")),
        ("INVENTORY", "LANDED_COST_CAPITALISED", D("0.66"), D("0.00")),
        ("LANDED_COST_ACCRUAL", "LANDED_COST_CAPITALISED", D("0.00"), D("0.66")),
        ("LANDED_COST_ACCRUAL", "LANDED_COST_EXPENSED", D("0.00"), D("0.34")),
    ]


def _with_landed(rows: list[dict], *landed: tuple[str, str, str]) -> dict[str, pl.DataFrame]:
    """Inputs with landed costs (id, posted_at, amount in EUR) on purchase line po1, by quantity."""
    frame = inputs(rows)
    frame["landed_costs"] = pl.DataFrame(
        [
            {
                "landed_cost_id": lc_id,
                "posted_at": datetime.fromisoformat(at),
                "company": "C1",
                "receipt_reference": "po1",
                "amount": D(amount),
                "currency": "EUR",
                "basis": "QUANTITY",
            }
            for lc_id, at, amount in landed
        ],
        schema=LANDED_COSTS.schema,
    )
    return frame


def _day_by_day(frame: dict[str, pl.DataFrame], start: date, end: date) -> list:
    results, state, day = [], None, start
    while day <= end:
        r = cost_range(frame, state, day, day)
        results.append(r)
        state, day = r.end_state, date.fromordinal(day.toordinal() + 1)
    return results


def test_gain_without_cost_takes_the_landed_cost_in_effect_on_the_oldest_layer() -> None:
    # r1: 3 units worth 3.00 (po1). i1 issues 1 on Jan 2 (1.00).
    # L1 0.90 on po1 (r1 its only line) on Jan 3: on hand [1, 3) takes 90 - round(90/3) = 0.60,
    # the issued unit's 0.30 is expensed. The layer is now V = 3.00 + 0.90 = 3.90 over Q = 3.
    # g1 (2 units, no cost) on Jan 4: round(2 x 390 / 3) = 2.60 (not 2.00 without landed cost).
    # L2 0.30 on Jan 5 comes after g1 and does not change it; V = 4.20 from then on.
    # g2 (1 unit) on Jan 6, oldest open layer still r1: round(1 x 420 / 3) = 1.40.
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 3, cost="1", ref="po1"),
        move("i1", "2026-01-02T09:00", "ISSUE", 1),
        move("g1", "2026-01-04T09:00", "ADJUST_GAIN", 2),
        move("g2", "2026-01-06T09:00", "ADJUST_GAIN", 1),
    ]
    frame = _with_landed(
        rows, ("L1", "2026-01-03T09:00", "0.90"), ("L2", "2026-01-05T09:00", "0.30")
    )
    for postings in (
        cost_range(frame, None, JAN1, JAN10).postings,
        pl.concat(r.postings for r in _day_by_day(frame, JAN1, JAN10)),
    ):
        gains = amounts(postings.filter(category="ADJUST_GAIN"), col="value")
        assert gains == {"g1": D("2.60"), "g2": D("1.40")}


def test_shortfall_provisional_cost_includes_landed_cost_on_the_last_layer() -> None:
    # r1: 2 units worth 10.00 (po1), all issued by i0 on Jan 2 (10.00).
    # L1 1.00 on po1 on Jan 3: no unit on hand, so all 1.00 is a COGS adjustment; the layer
    # (the last to enter the pool, none open) is now V = 11.00 over Q = 2.
    # i1 issues 1 on Jan 4 with nothing on hand: P = round(1 x 1100 / 2) = 5.50 (not 5.00).
    # r2 (1 @ 6.00) on Jan 5 serves the shortfall: true-up 6.00 - 5.50 = 0.50.
    # Day by day, the pool's carried reference (r1) takes L1 on Jan 3 and gives the same P.
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 2, cost="5", ref="po1"),
        move("i0", "2026-01-02T09:00", "ISSUE", 2),
        move("i1", "2026-01-04T09:00", "ISSUE", 1),
        move("r2", "2026-01-05T09:00", "RECEIPT", 1, cost="6"),
    ]
    frame = _with_landed(rows, ("L1", "2026-01-03T09:00", "1.00"))
    for cogs in (
        cost_range(frame, None, JAN1, JAN10).cogs,
        pl.concat(r.cogs for r in _day_by_day(frame, JAN1, JAN10)),
    ):
        got = cogs.sort("posting_date").select("movement_id", "kind", "amount", "provisional")
        assert got.rows() == [
            ("i0", "COST", D("10.00"), D("0.00")),
            ("r1", "LANDED_COST", D("1.00"), D("0.00")),
            ("i1", "COST", D("5.50"), D("5.50")),
            ("i1", "TRUE_UP", D("0.50"), D("5.50")),
        ]


def test_unknown_return_takes_the_landed_cost_on_a_partly_issued_layer() -> None:
    # r1: 3 units worth 3.00 (po1). i1 issues 1 on Jan 2 (1.00).
    # L1 1.00 on Jan 3: on hand [1, 3) takes 100 - round(100/3) = 0.67; 0.33 is expensed.
    # rt returns 2 units of an unknown issue on Jan 4: V/Q of the oldest open layer with
    # its landed cost, round(2 x 400 / 3) = round(266.67) = 2.67, which is also exactly what
    # the two open units of r1 are carried at (2.00 + 0.67). Flagged.
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 3, cost="1", ref="po1"),
        move("i1", "2026-01-02T09:00", "ISSUE", 1),
        move("rt", "2026-01-04T09:00", "RETURN", 2, ref="no-such-issue"),
    ]
    r = cost_range(_with_landed(rows, ("L1", "2026-01-03T09:00", "1.00")), None, JAN1, JAN10)
    assert amounts(r.postings.filter(category="RETURN"), col="value") == {"rt": D("2.67")}
    layers = r.open_layers.select("origin_id", "quantity", "value").sort("origin_id").rows()
    assert layers == [("r1", 2, D("2.67")), ("rt", 2, D("2.67"))]
    assert ("rt", "RETURN_OF_UNKNOWN_ISSUE") in r.flags.select("movement_id", "flag").rows()
