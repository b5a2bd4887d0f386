"""Per-order logistics cost: approved where billed, expected where not (functional currency)."""

from __future__ import annotations

from decimal import Decimal

from pipelines.reconciliation import order_logistics_cost
from tests.rating.builders import line
from tests.reconciliation.scenario import RATING, run

D = Decimal


def test_order_cost_mixes_approved_and_expected() -> None:
    # O1 = S1 (billed: freight 15.00 OK + fuel 2.00 disputed down to 1.50) + S2 (unbilled: 58.90)
    result = run(
        line("B1", 1, "TRKS1", "FREIGHT", "15.00", "1.5"),
        line("B1", 2, "TRKS1", "FUEL", "2.00"),
    )
    costs = {
        r["order_id"]: r
        for r in order_logistics_cost(result.findings, RATING.shipment_ratings).iter_rows(
            named=True
        )
    }
    o1 = costs["O1"]
    assert (o1["shipment_count"], o1["billed_shipments"], o1["status"]) == (2, 1, "PARTIAL")
    assert o1["approved_freight_functional"] == D("16.50")
    assert o1["expected_unbilled_functional"] == D("58.90")
    assert o1["logistics_cost_functional"] == D("75.40")
    assert costs["OS3"]["status"] == "UNBILLED"
    # P1 is a CNY contract for a CNY company: expected 0.4 x 80 + 20 = 52.00
    assert (costs["OP1"]["functional_currency"], costs["OP1"]["logistics_cost_functional"]) == (
        "CNY",
        D("52.00"),
    )
