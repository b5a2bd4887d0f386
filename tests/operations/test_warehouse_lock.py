"""One writer at a time on the warehouse, and a clear answer for the second one."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from assets.defs.inputs import reference_assets
from assets.resources import ReckonResource
from reckon.cli import app
from storage.warehouse import connect
from storage.warehouse_lock import WarehouseInUse, hold_warehouse, read_holder
from tests.foundation.tiny_data import write_tiny_data
from tests.operations.processes import kill, start_python, wait_for

HOLD = """
import sys, time
from pathlib import Path
from storage.warehouse import connect
from storage.warehouse_lock import hold_warehouse
warehouse, ready = Path(sys.argv[1]), Path(sys.argv[2])
with hold_warehouse(warehouse, "reckon run --from 2026-01-01 --to 2026-03-31"), connect(warehouse):
    ready.touch()
    time.sleep(300)
"""


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_tiny_data(tmp_path / "data")


@pytest.fixture
def held(data: Path, tmp_path: Path):
    """Another process writing the warehouse (an open DuckDB connection, as a run has)."""
    ready = tmp_path / "ready"
    process = start_python(HOLD, str(data / "warehouse.duckdb"), str(ready))
    wait_for(ready, process)
    yield process
    kill(process)


def test_a_second_writer_is_told_who_holds_the_warehouse_and_since_when(data: Path, held) -> None:
    warehouse = data / "warehouse.duckdb"
    with pytest.raises(WarehouseInUse) as refused, connect(warehouse):
        pass
    message = str(refused.value)
    assert f"pid {held.pid}" in message
    assert "reckon run --from 2026-01-01 --to 2026-03-31" in message
    assert refused.value.holder is not None and refused.value.holder.since in message


def test_a_killed_holders_lock_is_taken_over(data: Path, held) -> None:
    warehouse = data / "warehouse.duckdb"
    kill(held)
    with hold_warehouse(warehouse, "the next run"), connect(warehouse) as con:
        assert con.sql("SELECT 1").fetchall() == [(1,)]
        holder = read_holder(warehouse)
    assert holder is not None and holder.pid == os.getpid() and holder.purpose == "the next run"


def test_reckon_run_exits_5_naming_the_holder(data: Path, held, monkeypatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    result = CliRunner().invoke(
        app, ["run", "--data", str(data), "--from", "2026-01-05", "--to", "2026-01-06"]
    )
    assert result.exit_code == 5, result.output
    assert f"is in use by reckon run --from 2026-01-01 --to 2026-03-31 (pid {held.pid}" in (
        result.output
    )


def test_a_dagster_run_is_refused_with_the_holder_not_a_duckdb_error(data: Path, held) -> None:
    result = dg.materialize(
        reference_assets,
        resources={"reckon": ReckonResource(data_dir=str(data))},
        raise_on_error=False,
    )
    assert not result.success
    errors = [
        str(e.event_specific_data.error)
        for e in result.all_events
        if e.is_failure and e.event_specific_data is not None
    ]
    refusal = f"is in use by reckon run --from 2026-01-01 --to 2026-03-31 (pid {held.pid}"
    assert any(refusal in text for text in errors), errors
    assert not any("Could not set lock" in text for text in errors), errors


def test_holds_nest_within_one_process_and_say_what_runs_inside(data: Path) -> None:
    warehouse = data / "warehouse.duckdb"
    with hold_warehouse(warehouse, "reckon run --from A --to B"):
        with hold_warehouse(warehouse, "Dagster run 1234 (nightly)"), connect(warehouse):
            inner = read_holder(warehouse)
        outer = read_holder(warehouse)
    assert (
        inner is not None
        and inner.purpose == "reckon run --from A --to B: Dagster run 1234 (nightly)"
    )
    assert outer is not None and outer.purpose == "reckon run --from A --to B"
