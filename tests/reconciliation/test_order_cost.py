"""Per-order logistics cost: approved where billed, expected where not (functional currency)."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from pipelines.reconciliation import order_logistics_cost
from tests.rating import builders as b
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
        for r in order_logistics_cost(
            result.findings, RATING.shipment_ratings, b.companies()
        ).iter_rows(named=True)
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


def test_an_unpriceable_shipment_keeps_every_contract_and_is_reported() -> None:
    """Before: a shipment no rate-card version was valid for (shipped before v1) had no
    functional currency, so its order got a row with an empty required currency beside
    its priced shipment's row: the key (order_id, company) held twice. And a carrier
    carriers.yaml does not name lost its shipments without a word."""
    from datetime import datetime

    from oracles.rating import rate_row
    from pipelines.contracts.reconciliation import ORDER_LOGISTICS_COST, UNPRICEABLE_SHIPMENTS
    from pipelines.rating import rate_shipments
    from pipelines.reconciliation import unpriceable_shipments
    from storage.schema import check_frame
    from tests.reconciliation.scenario import TABLES

    shipments = b.shipments(
        b.shipment("S1", "EXPR", datetime(2026, 1, 5, 9), "US", "12345", "1.2", order_id="O1"),
        b.shipment("S0", "EXPR", datetime(2025, 12, 20, 9), "US", "12345", "1.2", order_id="O1"),
        b.shipment("SB", "EXPR", datetime(2026, 1, 8, 9), "BR", "01000", "0.4", order_id="O2"),
    )
    rating = rate_shipments(shipments, TABLES, b.fx_rates(), b.companies())
    empty = run().findings.clear()
    costs = order_logistics_cost(empty, rating.shipment_ratings, b.companies())
    check_frame(ORDER_LOGISTICS_COST, costs)
    assert costs.select("order_id", "company").is_duplicated().sum() == 0
    o1 = costs.row(by_predicate=pl.col("order_id") == "O1", named=True)
    reference = rate_row(b.cards(), shipments.row(0, named=True))
    assert o1["functional_currency"] == "USD"
    assert (o1["shipment_count"], o1["unpriced_shipments"]) == (2, 1)
    assert o1["expected_unbilled_functional"] == sum(reference.charges.values())
    assert rate_row(b.cards(), shipments.row(1, named=True)).unrated_reason is not None

    elsewhere = b.shipments(
        b.shipment("Z1", "ACMEPOST", datetime(2026, 1, 9, 9), "US", "12345", "1.0")
    )
    loaded = pl.concat([shipments, elsewhere]).select(
        "shipment_id", "carrier", pl.col("shipped_at").dt.date().alias("ship_date"), "company",
        "order_id",
    )  # fmt: skip
    report = unpriceable_shipments(loaded, rating.shipment_ratings, ["EXPR", "POST"])
    check_frame(UNPRICEABLE_SHIPMENTS, report)
    assert dict(report.select("shipment_id", "reason_code").iter_rows()) == {
        "S0": "no_valid_rate_card",
        "SB": "not_priceable",
        "Z1": "carrier_not_configured",
    }
    assert "no zone for country BR" in report.filter(shipment_id="SB")["reason"][0]
