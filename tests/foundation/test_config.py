"""Configuration files (storage/config.py): one error that names the file and every field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from storage.config import ConfigError, load_carriers


def test_an_invalid_carriers_file_names_the_file_and_every_field(tmp_path: Path) -> None:
    path = tmp_path / "carriers.yaml"
    path.write_text("carriers:\n  - carrier: dhl\n    currency: EUR\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_carriers(path)
    message = str(err.value)
    assert message.startswith("invalid carriers file\n")
    assert f"{path}: carriers.0.carrier: String should match pattern" in message
    assert f"{path}: carriers.0.billing_cycle: Field required" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "a carriers file is a YAML mapping (carriers, ...), got an empty file"),
        ("- DHL\n", "a carriers file is a YAML mapping (carriers, ...), got a list"),
        ("carriers: [unclosed", "carriers file is not valid YAML"),
    ],
)
def test_a_carriers_file_that_is_not_a_mapping_is_named(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "carriers.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        load_carriers(path)
    assert str(err.value).startswith(f"{path}: ")


def test_a_missing_carriers_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read carriers file"):
        load_carriers(tmp_path / "carriers.yaml")
