"""The input assets through Dagster itself: a partition, a rerun, and a range as one run."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.defs.inputs import daily_assets, reference_assets
from assets.resources import ReckonResource
from reckon.runner import run_range
from tests.foundation.tiny_data import write_tiny_data


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_tiny_data(tmp_path / "data")


def _input_assets(data_dir: Path) -> tuple[list[dg.AssetsDefinition], ReckonResource]:
    return [*reference_assets, *daily_assets], ReckonResource(data_dir=str(data_dir))


def _count(data_dir: Path, table: str) -> int:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def test_materialize_one_partition_then_rerun_without_duplicates(data_dir: Path) -> None:
    # a folder with no extract for the day (an input the directory has no folder for is not
    # used, and its check is skipped: tests/operations/test_costing_faults.py)
    (data_dir / "landed_costs").mkdir()
    assets, resource = _input_assets(data_dir)
    reference = [a for a in assets if not a.partitions_def]
    daily = [a for a in assets if a.partitions_def]
    assert dg.materialize(reference, resources={"reckon": resource}).success
    for _ in range(2):
        result = dg.materialize(
            daily + reference,
            selection=daily,
            partition_key="2026-01-05",
            resources={"reckon": resource},
        )
        assert result.success
    assert _count(data_dir, "movements") == 3
    checks = {e.asset_key.to_user_string(): e.passed for e in result.get_asset_check_evaluations()}
    assert checks["movements"] is True
    assert checks["landed_costs"] is False, "a day without an extract is flagged"
    meta = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert meta["movements"]["rows_loaded"].value == 3


def test_a_bad_row_fails_the_check_but_the_good_rows_load(data_dir: Path) -> None:
    path = data_dir / "movements" / "2026-01-05.csv"
    path.write_text(
        path.read_text() + "M-9,2026-01-05 08:00,CN01,SZ-DOM,MUG-01,SELL,1,,,\n",
        encoding="utf-8",
    )
    assets, resource = _input_assets(data_dir)
    result = dg.materialize(assets, partition_key="2026-01-05", resources={"reckon": resource})
    evaluation = next(
        e for e in result.get_asset_check_evaluations() if e.asset_key.path == ["movements"]
    )
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN, "the good rows load, run goes on"
    assert evaluation.metadata["rows_quarantined"].value == 1
    assert next(iter(evaluation.metadata)) == "reason", "the reason comes first"
    reason = evaluation.metadata["reason"].value
    assert evaluation.description == reason, "the evaluation's description too"
    assert isinstance(reason, str) and reason.startswith(
        "1 row(s) quarantined, 0 file(s) rejected; "
    )
    assert _count(data_dir, "movements") == 3


def test_a_range_is_one_run_covering_every_day(data_dir: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(data_dir, date(2026, 1, 4), date(2026, 1, 6), instance=instance)
        assert result.success
        runs = instance.get_runs()
    assert len(runs) == 1
    partitions = {
        e.partition
        for e in result.get_asset_materialization_events()
        if e.asset_key.path == ["movements"]
    }
    assert partitions == {"2026-01-04", "2026-01-05", "2026-01-06"}
    assert _count(data_dir, "movements") == 5
