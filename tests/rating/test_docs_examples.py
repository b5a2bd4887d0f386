"""The examples in docs/rate-cards.md are valid and price as their worked examples say."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import yaml

from pipelines.rating import RateCard, rate_shipments
from pipelines.reconciliation import CarriersFile
from tests.rating import builders as b

DOC = Path(__file__).resolve().parents[2] / "docs" / "rate-cards.md"


def _blocks() -> list[dict]:
    return [yaml.safe_load(x) for x in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)]


def test_every_yaml_example_validates() -> None:
    blocks = _blocks()
    cards = [RateCard.model_validate(x) for x in blocks if "carrier" in x]
    assert {c.shape.value for c in cards} == {"EXPRESS", "PER_KG", "WEIGHT_BREAK"}
    carriers = [CarriersFile.model_validate(x) for x in blocks if "carriers" in x]
    assert carriers and carriers[0].get("UPS").api is not None


def test_worked_examples() -> None:
    cards = [RateCard.model_validate(x) for x in _blocks() if "carrier" in x]
    feb20 = datetime(2026, 2, 20, 10)
    result = rate_shipments(
        b.shipments(
            b.shipment("D", "DHL", feb20, "US", "99501", "1.2", ("30", "20", "10")),
            b.shipment("Y", "YUNEXPRESS", feb20, "DE", "10115", "0.321", company="CN01"),
            b.shipment("F1", "FOURPX", feb20, "US", None, "0.8", company="CN01"),
            b.shipment("F2", "FOURPX", feb20, "US", None, "1.003", company="CN01"),
        ),
        cards,
        b.fx_rates(),
        b.companies(),
    )
    got = {
        (s, c): a
        for s, c, a in result.expected_charges.select(
            "shipment_id", "charge_type", "expected_amount"
        ).iter_rows()
    }
    assert got == {
        ("D", "FREIGHT"): Decimal("41.06"),
        ("D", "FUEL"): Decimal("8.42"),
        ("D", "REMOTE_AREA"): Decimal("32.50"),
        ("Y", "FREIGHT"): Decimal("21.96"),
        ("Y", "REGISTRATION"): Decimal("18.00"),
        ("Y", "FUEL"): Decimal("0.99"),
        ("F1", "FREIGHT"): Decimal("108.00"),
        ("F2", "FREIGHT"): Decimal("176.00"),
    }
