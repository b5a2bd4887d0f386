"""The Dagster instance is embedded by default and on PostgreSQL when the URL variable is set."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from reckon.instance import INSTANCE_CONFIG, POSTGRES_URL_VARIABLE, ensure_dagster_home

SECRET_URL = "postgresql://reckon:s3cret@db.example:5432/reckon_dagster"


@pytest.fixture(autouse=True)
def no_inherited_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv(POSTGRES_URL_VARIABLE, raising=False)


def test_without_the_variable_the_home_holds_the_embedded_config_unchanged(tmp_path: Path) -> None:
    home = ensure_dagster_home(tmp_path)
    assert home == tmp_path / ".dagster_home"
    assert (home / "dagster.yaml").read_bytes() == INSTANCE_CONFIG.read_bytes()
    config, _ = dagster_instance_config(str(home))
    assert "storage" not in config, "SQLite files in the home, Dagster's default"


def test_with_the_variable_the_storage_is_postgres_and_nothing_else_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, SECRET_URL)
    home = ensure_dagster_home(tmp_path)
    written = (home / "dagster.yaml").read_text()
    assert "s3cret" not in written, "the password stays in the environment"
    config, _ = dagster_instance_config(str(home))  # validated against Dagster's schema
    assert config["storage"] == {"postgres": {"postgres_url": {"env": POSTGRES_URL_VARIABLE}}}
    embedded = yaml.safe_load(INSTANCE_CONFIG.read_text())
    assert {k: v for k, v in yaml.safe_load(written).items() if k != "storage"} == embedded


def test_unsetting_the_variable_rewrites_the_home_back_to_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, SECRET_URL)
    home = ensure_dagster_home(tmp_path)
    monkeypatch.delenv(POSTGRES_URL_VARIABLE)
    assert ensure_dagster_home(tmp_path) == home
    assert (home / "dagster.yaml").read_bytes() == INSTANCE_CONFIG.read_bytes()
