"""Generated demo data goes through the real loaders and Dagster without a single violation."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from demo.generate import generate
from pipelines.contracts.inputs import MOVEMENTS, REFERENCE_TABLES
from reckon.runner import run_range
from storage.layout import DataLayout
from storage.loading.load import load_daily_range, load_daily_table, load_reference_table
from storage.warehouse import connect

START, END = date(2026, 1, 1), date(2026, 1, 7)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "data"
    generate(out, scale=1, seed=11, start=START, end=END, bills=False)
    return out


@pytest.mark.slow  # a week of scale-1 data through the Dagster graph
def test_a_week_of_generated_data_loads_through_dagster_with_every_check_passing(
    generated: Path, tmp_path: Path
) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(generated, START, END, instance=instance, log_level="WARNING")
    assert result.success
    failed = [
        (e.asset_key.to_user_string(), e.check_name)
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]
    assert failed == []
    with duckdb.connect(str(generated / "warehouse.duckdb"), read_only=True) as con:
        late = con.sql(
            "SELECT count(*) FROM movements WHERE CAST(occurred_at AS DATE) < _load_date"
        ).fetchall()[0][0]
    assert late > 0, "the generator's late documents arrive in later files"


def test_loading_a_range_at_once_equals_loading_day_by_day(generated: Path, tmp_path: Path) -> None:
    days = [date.fromordinal(d) for d in range(START.toordinal(), END.toordinal() + 1)]
    tables = {}
    for mode in ("range", "daily"):
        layout = DataLayout(generated, warehouse_path=tmp_path / f"{mode}.duckdb")
        with connect(layout.warehouse_db) as con:
            for contract in REFERENCE_TABLES:
                load_reference_table(con, layout, contract)
            if mode == "range":
                load_daily_range(con, layout, MOVEMENTS, days)
            else:
                for day in days:
                    load_daily_table(con, layout, MOVEMENTS, day)
            tables[mode] = con.sql("SELECT * FROM movements ORDER BY movement_id").pl()
    assert tables["range"].height > 1000
    assert tables["range"].equals(tables["daily"])
