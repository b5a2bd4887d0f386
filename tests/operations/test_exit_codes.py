"""`reckon run` exits with a code a scheduler can act on, and says why (README)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reckon.cli import app
from tests.foundation.tiny_data import write_tiny_data

SNAPSHOT_MISCOUNTED = "snapshot_date,warehouse,sku,quantity\n2026-01-05,SZ-DOM,MUG-01,50\n"
"""The computed closing stock of MUG-01 at SZ-DOM on 2026-01-05 is 96 (100 in, 3 + 1 out)."""


@pytest.fixture
def data(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return write_tiny_data(tmp_path / "data")


def _run(data: Path, start: str = "2026-01-05", end: str = "2026-01-06"):
    return CliRunner().invoke(app, ["run", "--data", str(data), "--from", start, "--to", end])


@pytest.mark.slow  # a whole `reckon run` in a subprocess: 9 s idle, more under load
def test_a_clean_run_exits_0(data: Path) -> None:
    result = _run(data)
    assert result.exit_code == 0, result.output
    assert "Result: OK (exit 0)" in result.output


@pytest.mark.slow  # a whole `reckon run` in a subprocess: 9 s idle, more under load
def test_quarantined_rows_exit_4_naming_the_table_the_count_and_where(data: Path) -> None:
    with (data / "movements" / "2026-01-06.csv").open("a", encoding="utf-8") as extract:
        extract.write("M-9,2026-01-06 12:00:00,CN01,SZ-DOM,MUG-01,ISSUE,abc,,,SO-9\n")
    result = _run(data)
    assert result.exit_code == 4, result.output
    assert "Result: QUARANTINED (exit 4)" in result.output
    assert "movements: 1 row(s) quarantined, 0 file(s) rejected" in result.output
    assert "movements: loaded_without_quarantine (WARN)" in result.output, "exit 4 all the same"
    assert str(data / "quarantine" / "inputs" / "movements") in result.output


def test_a_failed_check_exits_3_naming_the_check_and_the_asset(data: Path) -> None:
    (data / "snapshots").mkdir()
    (data / "snapshots" / "2026-01-05.csv").write_text(SNAPSHOT_MISCOUNTED, encoding="utf-8")
    result = _run(data)
    assert result.exit_code == 3, result.output
    assert "check snapshot_accuracy on inventory_check did not pass" in result.output
    assert "its exports were not written" in result.output


def test_to_before_from_is_a_usage_error(data: Path) -> None:
    result = _run(data, start="2026-01-06", end="2026-01-05")
    assert result.exit_code == 2
    assert "is before --from" in result.output
