"""The `reckon` command line as an analyst uses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reckon.cli import app
from tests.foundation.tiny_data import write_tiny_data

runner = CliRunner()


def test_parsers_alone_lists_parsers_and_templates() -> None:
    result = runner.invoke(app, ["parsers"])
    assert result.exit_code == 0, result.output
    assert "registry fingerprint" in result.output
    assert "dhl-mybill-csv" in result.output


def test_a_bad_date_is_refused_with_the_reason(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", "--data", str(tmp_path), "--from", "2026-13-01", "--to", "2026-01-02"]
    )
    assert result.exit_code != 0
    assert "is not a date" in result.output


@pytest.mark.slow  # the whole graph through Dagster, with a persistent instance
def test_run_prints_what_was_materialised_and_the_failed_checks(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    data = write_tiny_data(tmp_path / "data")
    # a snapshots folder without the days' files: a WARN (an absent folder skips the check)
    (data / "snapshots").mkdir(exist_ok=True)
    result = runner.invoke(
        app, ["run", "--data", str(data), "--from", "2026-01-05", "--to", "2026-01-06"]
    )
    assert "movements: 2 partition(s)" in result.output, result.output
    assert "snapshots: loaded_without_quarantine (WARN)" in result.output
    assert (data / ".dagster_home" / "dagster.yaml").exists(), "history lives beside the data"
