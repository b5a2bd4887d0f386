"""The Dagster instance is embedded by default and on PostgreSQL when the URL variable is set."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from typer.testing import CliRunner

from reckon.cli import app
from reckon.instance import INSTANCE_CONFIG, POSTGRES_URL_VARIABLE, ensure_dagster_home

SECRET_URL = "postgresql+psycopg2://reckon:s3cret@db.example:5432/reckon_dagster"


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


def test_a_process_without_the_variable_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service started without the environment file must not fall back to an empty
    embedded history: Dagster refuses to open the instance and names the variable."""
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, SECRET_URL)
    home = ensure_dagster_home(tmp_path)
    monkeypatch.delenv(POSTGRES_URL_VARIABLE)
    with pytest.raises(dg.DagsterInvalidConfigError, match=POSTGRES_URL_VARIABLE):
        dg.DagsterInstance.from_config(str(home))


def test_a_url_without_the_psycopg2_driver_is_a_usage_error_that_keeps_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLAlchemy 2.1 would take `postgresql://` for psycopg 3, not installed: the run would
    fail deep in Dagster with "No module named 'psycopg'"."""
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, "postgresql://reckon:s3cret@db.example/reckon")
    done = CliRunner().invoke(app, ["dagster-home", "--data", str(tmp_path)])
    assert done.exit_code == 2
    said = " ".join(done.output.replace("│", " ").split())  # unwrapped from typer's box
    assert "must start with postgresql+psycopg2://" in said
    assert "not postgresql://" in said and "s3cret" not in said
    assert not (tmp_path / ".dagster_home" / "dagster.yaml").exists()


def test_dagster_home_prints_the_home_it_wrote(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["dagster-home", "--data", str(tmp_path)])
    assert done.exit_code == 0, done.output
    assert done.output.strip() == str(tmp_path / ".dagster_home")
    assert (
        tmp_path / ".dagster_home" / "dagster.yaml"
    ).read_bytes() == INSTANCE_CONFIG.read_bytes()
