"""`reckon run` over costing faults (issue 15, points 3 and 9): a document that cannot be costed
is quarantined with its file and row and the night goes on (exit 4); a key sent twice in an
export fails that export's key check (exit 3); a costing-only data directory shows the
checks of inputs it does not have as skipped, not failed."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from typer.testing import CliRunner

from reckon.cli import app
from tests.foundation.tiny_data import write_tiny_data

pytestmark = pytest.mark.slow

USD_RECEIPT_WITHOUT_RATE = "M-9,2026-01-06 08:00:00,US01,LA-3PL,LAMP-02,RECEIPT,4,3.00,CNY,PO-9/1\n"
"""US01 keeps USD books; the only CNY -> USD rate is for 2026-01-05."""


@pytest.fixture
def data(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return write_tiny_data(tmp_path / "data")


def _run(data: Path, *extra: str):
    args = ["run", "--data", str(data), "--from", "2026-01-05", "--to", "2026-01-06", *extra]
    return CliRunner().invoke(app, args)


def test_a_document_without_an_fx_rate_is_quarantined_and_the_rest_of_the_night_costed(
    data: Path,
) -> None:
    with (data / "movements" / "2026-01-06.csv").open("a", encoding="utf-8") as extract:
        extract.write(USD_RECEIPT_WITHOUT_RATE)
    result = _run(data)
    assert result.exit_code == 4, result.output
    assert "Result: QUARANTINED (exit 4)" in result.output
    assert "costing: 1 row(s) quarantined (costed_without_quarantine)" in result.output
    assert "movements M-9" in result.output and "2026-01-06.csv, row 4" in result.output
    assert "no_fx_rate: no CNY -> USD rate for the document date 2026-01-06" in result.output
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        costed = con.sql("SELECT movement_id FROM costing_cogs ORDER BY 1").fetchall()
        kept = con.sql('SELECT document_id, "row" FROM costing_quarantine').fetchall()
    assert costed == [("M-2",), ("M-4",), ("M-5",)]
    assert kept == [("M-9", 4)]
    assert (data / "exports" / "costing_cogs" / "2026-01-06.csv").is_file()
    # the rate arrives: rerunning the days costs the receipt and clears its quarantine
    with (data / "fx_rates" / "fx_rates.csv").open("a", encoding="utf-8") as rates:
        rates.write("2026-01-06,CNY,USD,0.14000000\n")
    again = _run(data)
    assert again.exit_code == 0, again.output
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM costing_quarantine").fetchall() == [(0,)]
        value = con.sql(
            "SELECT closing_value FROM costing_valuation WHERE warehouse = 'LA-3PL' "
            "AND day = DATE '2026-01-06'"
        ).fetchall()
    assert [str(v) for (v,) in value] == ["46.68"]  # 10 x 4.50 + round(4 x 3 x 0.14, 2)


def test_a_key_sent_twice_in_the_exports_fails_its_check_and_exits_3(data: Path) -> None:
    assert _run(data).exit_code == 0
    folder = data / "exports" / "costing_cogs"
    # a file left from some earlier layout, holding rows the day's file holds too
    shutil.copy(folder / "2026-01-05.parquet", folder / "2026-01-05-old.parquet")
    result = _run(data)
    assert result.exit_code == 3, result.output
    assert "check costing_cogs_unique_key on costing_exports did not pass" in result.output


def test_a_costing_only_data_directory_skips_the_checks_of_inputs_it_does_not_have(
    data: Path,
) -> None:
    shutil.rmtree(data / "shipments")
    instance_dir = data.parent / "dagster_home"
    instance_dir.mkdir()
    with dg.instance_for_test(temp_dir=str(instance_dir)) as instance:
        from reckon.runner import run_range

        result = run_range(data, _day("2026-01-05"), _day("2026-01-06"), instance)
        evaluated = {e.asset_key.to_user_string() for e in result.get_asset_check_evaluations()}
        records = {
            key: instance.event_log_storage.get_latest_asset_check_execution_by_key(
                [dg.AssetCheckKey(dg.AssetKey(key), "loaded_without_quarantine")]
            )
            for key in ("shipments", "orders", "movements")
        }
    assert result.success
    assert {"shipments", "orders", "order_lines", "order_refunds"}.isdisjoint(evaluated)
    assert "movements" in evaluated
    for key in ("shipments", "orders"):
        (record,) = records[key].values()
        assert record.status.value == "PLANNED"  # the UI shows it as skipped: the run ended
    (movements,) = records["movements"].values()
    assert movements.status.value == "SUCCEEDED"


def _day(text: str):
    from datetime import date

    return date.fromisoformat(text)
