"""The demo rate cards and carriers.yaml load, cover every demo destination and
include a version switch-over and a monthly fuel change."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl

from demo.rate_cards import DEMO_COUNTRIES, write_demo_rate_cards
from pipelines.rating import rate_shipments
from pipelines.reconciliation import billing_periods
from storage.config import load_carriers, load_rate_cards
from storage.layout import DataLayout
from tests.rating import builders as b

START, END = date(2026, 1, 1), date(2026, 3, 31)


def test_demo_cards_load_and_rate_every_destination(tmp_path: Path) -> None:
    write_demo_rate_cards(tmp_path, START, END)
    layout = DataLayout(tmp_path)
    cards = load_rate_cards(layout.rate_cards_dir)
    carriers = load_carriers(layout.carriers_file)
    assert {c.carrier for c in cards} == {"DHL", "UPS", "FOURPX", "YUNEXPRESS", "YANWEN"}
    assert {c.shape.value for c in cards} == {"EXPRESS", "PER_KG", "WEIGHT_BREAK"}
    assert {c.carrier for c in carriers.carriers} == {c.carrier for c in cards}

    dhl = sorted((c for c in cards if c.carrier == "DHL"), key=lambda c: c.version)
    assert [c.version for c in dhl] == [1, 2]
    assert START < dhl[1].valid_from < END
    assert len(set(dhl[0].fuel_percent_by_month.values())) > 1  # fuel % moves by month

    rows, day = [], datetime(2026, 1, 3, 9)
    for i, (carrier, country) in enumerate(
        (c, k) for c in sorted({c.carrier for c in cards}) for k in DEMO_COUNTRIES
    ):
        rows.append(
            b.shipment(
                f"S{i}", carrier, day + timedelta(days=i * 17 % 85), country, "10001", "1.25"
            )
        )
    result = rate_shipments(b.shipments(*rows), cards, b.fx_rates(), b.companies())
    assert result.unrated.is_empty(), result.unrated["unrated_reason"].to_list()
    versions = result.shipment_ratings.filter(pl.col("carrier") == "DHL")["contract_version"]
    assert set(versions.to_list()) == {1, 2}
    assert (result.expected_charges["expected_amount"] >= Decimal(0)).all()


def test_demo_billing_cycles(tmp_path: Path) -> None:
    write_demo_rate_cards(tmp_path, START, END)
    carriers = load_carriers(DataLayout(tmp_path).carriers_file)
    counts = {c.carrier: len(billing_periods(c, START, END)) for c in carriers.carriers}
    assert counts["DHL"] == 3 and counts["YUNEXPRESS"] == 3  # monthly
    assert counts["FOURPX"] == 6 and counts["YANWEN"] == 6  # semi-monthly
    # ISO weeks touching Q1 2026: from Monday 29 Dec 2025 to Monday 30 Mar 2026
    assert counts["UPS"] == 14
    assert carriers.get("UPS").api is not None
