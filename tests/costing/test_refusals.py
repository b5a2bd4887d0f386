"""A row that cannot be costed is refused with its reason, and the rest of the range is costed
(issue 15, point 9): worked by hand, in one call and day by day."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import polars as pl

from pipelines.contracts.inputs import LANDED_COSTS
from pipelines.costing import Sharding, cost_range, cost_range_sharded
from tests.costing.helpers import amounts, inputs, move

JAN1, JAN10 = date(2026, 1, 1), date(2026, 1, 10)
USD_EUR = [("2026-01-01", "USD", "EUR", "0.90000000")]


def _night(rows: list[dict], fx=USD_EUR, landed: list[dict] | None = None):
    frame = inputs(rows, fx)
    if landed:
        frame["landed_costs"] = pl.DataFrame(landed, schema=LANDED_COSTS.schema)
    return frame


def _refused(result) -> dict[str, str]:
    return dict(result.refused.select("document_id", "reason").rows())


def test_a_receipt_without_a_rate_for_its_date_is_refused_and_the_rest_is_costed() -> None:
    # r2 is in USD on Jan 2, and the only USD rate is for Jan 1: refused. r1 (EUR) and the
    # issue are costed: i1 takes 2 of r1's 4 units worth 10.00 -> 5.00; i2 (W2, whose only
    # receipt was r2) is 3 units short, no reference cost there or in W1's... W1 holds r1.
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 4, cost="2.5"),
        move("r2", "2026-01-02T09:00", "RECEIPT", 3, wh="W2", cost="1", currency="USD"),
        move("i1", "2026-01-03T09:00", "ISSUE", 2),
    ]
    r = cost_range(_night(rows), None, JAN1, JAN10)
    assert _refused(r) == {"r2": "no_fx_rate: no USD -> EUR rate for the document date 2026-01-02"}
    assert r.refused.select("table", "day").rows() == [("movements", date(2026, 1, 2))]
    assert amounts(r.cogs) == {"i1": D("5.00")}
    assert r.valuation_on(JAN10).select("warehouse", "closing_qty").rows() == [("W1", 2)]


def test_a_transfer_in_of_another_quantity_is_refused_and_its_units_stay_in_transit() -> None:
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 5, cost="2"),
        move("to", "2026-01-02T09:00", "TRANSFER_OUT", 5, ref="T1"),
        move("ti", "2026-01-03T09:00", "TRANSFER_IN", 4, wh="W2", ref="T1"),
        move("r3", "2026-01-03T10:00", "RECEIPT", 1, wh="W2", cost="3"),
    ]
    r = cost_range(_night(rows), None, JAN1, JAN10)
    assert _refused(r) == {
        "ti": "transfer_quantity_differs: TRANSFER_IN of 4 units, its TRANSFER_OUT to "
        "(transfer T1) sent 5"
    }
    closing = r.valuation_on(JAN10).select("warehouse", "closing_qty", "closing_value").rows()
    assert closing == [("IN_TRANSIT:C1", 5, D("10.00")), ("W2", 1, D("3.00"))]


def test_a_transfer_in_before_its_transfer_out_is_refused() -> None:
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 2, cost="1"),
        move("ti", "2026-01-02T08:00", "TRANSFER_IN", 2, wh="W2", ref="T1"),
        move("to", "2026-01-02T09:00", "TRANSFER_OUT", 2, ref="T1"),
    ]
    r = cost_range(_night(rows), None, JAN1, JAN10)
    (reason,) = _refused(r).values()
    assert reason.startswith("transfer_in_before_out: TRANSFER_IN at 2026-01-02 08:00")
    assert "precedes its TRANSFER_OUT to at 2026-01-02 09:00" in reason


def test_transfer_legs_without_an_id_or_sharing_one_are_refused() -> None:
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 6, cost="1"),
        move("o1", "2026-01-02T09:00", "TRANSFER_OUT", 1, ref=None),
        move("o2", "2026-01-02T10:00", "TRANSFER_OUT", 1, ref="T9"),
        move("o3", "2026-01-02T11:00", "TRANSFER_OUT", 1, ref="T9"),
        move("i1", "2026-01-03T09:00", "ISSUE", 1),
    ]
    r = cost_range(_night(rows), None, JAN1, JAN10)
    assert {k: v.split(":")[0] for k, v in _refused(r).items()} == {
        "o1": "transfer_without_id",
        "o2": "transfer_id_shared",
        "o3": "transfer_id_shared",
    }
    assert amounts(r.cogs) == {"i1": D("1.00")}


def test_a_landed_cost_without_a_rate_is_refused_and_not_allocated() -> None:
    landed = {
        "landed_cost_id": "L1",
        "posted_at": datetime(2026, 1, 4, 12),
        "company": "C1",
        "receipt_reference": "po1",
        "amount": D("5"),
        "currency": "USD",
        "basis": "QUANTITY",
    }
    rows = [move("r1", "2026-01-01T09:00", "RECEIPT", 2, cost="1", ref="po1")]
    r = cost_range(_night(rows, landed=[landed]), None, JAN1, JAN10)
    assert _refused(r) == {"L1": "no_fx_rate: no USD -> EUR rate for the posting date 2026-01-04"}
    assert r.refused["table"].to_list() == ["landed_costs"]
    assert r.landed_cost_allocations.is_empty()
    assert r.valuation_on(JAN10)["closing_value"].to_list() == [D("2.00")]


def test_refusals_are_the_same_in_one_call_day_by_day_and_in_sku_chunks() -> None:
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 5, cost="2"),
        move("r2", "2026-01-02T09:00", "RECEIPT", 3, sku="S2", cost="1", currency="USD"),
        move("to", "2026-01-02T09:00", "TRANSFER_OUT", 5, ref="T1"),
        move("ti", "2026-01-04T09:00", "TRANSFER_IN", 4, wh="W2", ref="T1"),
        move("i1", "2026-01-05T09:00", "ISSUE", 1, sku="S2"),
    ]
    frame = _night(rows)
    whole = cost_range(frame, None, JAN1, JAN10)
    state, days = None, []
    for d in range(1, 11):
        day = date(2026, 1, d)
        one = cost_range(frame, state, day, day)
        days.append(one.refused)
        state = one.end_state
    sharded = cost_range_sharded(frame, None, JAN1, JAN10, sharding=Sharding(2))
    assert set(_refused(whole)) == {"r2", "ti"}
    assert pl.concat(days).sort("document_id").equals(whole.refused.sort("document_id"))
    assert sharded.refused.sort("document_id").equals(whole.refused.sort("document_id"))
    assert state.open_layers.equals(whole.end_state.open_layers)
