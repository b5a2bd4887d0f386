"""Rate-card validation: a bad card is refused with the file and the field named."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from storage.config import ConfigError, load_rate_card, load_rate_cards
from tests.rating.builders import EXPR_V1, EXPR_V2, POST


def _write(folder: Path, name: str, card: dict) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
    return path


def test_valid_cards_load(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", EXPR_V1)
    _write(tmp_path, "b.yaml", EXPR_V2)
    _write(tmp_path, "c.yaml", POST)
    cards = load_rate_cards(tmp_path)
    assert [c.key for c in cards] == ["EXPR:EXPR-WW:v1", "EXPR:EXPR-WW:v2", "POST:POST-REG:v1"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.update(currency="usd"), "currency"),
        (lambda c: c.update(shape="ZONAL"), "shape"),
        (lambda c: c["express"]["prices"][0].update(first="-1"), "express.prices.0.first"),
        (lambda c: c.update(colour="red"), "colour"),
        (lambda c: c.pop("express"), "shape EXPRESS needs a non-empty 'express' table"),
        (lambda c: c.update(allowed_charge_types=["FREIGHT"]), "must include the priced charges"),
        (lambda c: c["allowed_charge_types"].append("OVERSIZE"), "have no price"),
        (lambda c: c["allowed_charge_types"].append("PARKING"), "unknown charge type 'PARKING'"),
        (lambda c: c.update(fuel_percent_by_month={"2026-13": "5"}), "not YYYY-MM"),
        (lambda c: c["zones"].append({"zone": "D", "countries": ["FR"]}), "zones without a price"),
        (lambda c: c.update(weight_increment_kg="0.0005"), "finer than a gram"),
        (lambda c: c["accessorials"].append(c["accessorials"][0]), "accessorials repeat"),
        (lambda c: c.update(valid_to="2025-12-01"), "before valid_from"),
        (
            lambda c: c["zones"][0].update(postcodes=[{"from": "20000", "to": "10000"}]),
            "reversed",
        ),
    ],
)
def test_invalid_card_names_file_and_field(tmp_path: Path, mutate, message: str) -> None:
    card = copy.deepcopy(EXPR_V1)
    mutate(card)
    path = _write(tmp_path, "bad.yaml", card)
    with pytest.raises(ConfigError) as err:
        load_rate_card(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_unreadable_yaml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("carrier: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml"):
        load_rate_card(path)


def test_overlapping_versions_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", {**EXPR_V1, "valid_to": "2026-02-10"})
    _write(tmp_path, "b.yaml", EXPR_V2)
    with pytest.raises(ConfigError, match="overlaps"):
        load_rate_cards(tmp_path)


def test_two_versions_same_start_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", EXPR_V1)
    _write(tmp_path, "b.yaml", {**EXPR_V2, "valid_from": EXPR_V1["valid_from"]})
    with pytest.raises(ConfigError, match="two EXPR versions start"):
        load_rate_cards(tmp_path)


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no rate card files"):
        load_rate_cards(tmp_path)
