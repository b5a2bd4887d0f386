"""Input files no load reads are reported by the load, never skipped in silence.

Before: a daily extract without a date in its name (`movements_latest.csv`), with a
date that is not one (`2026-13-05`), of another type (`.xlsx`) or in a sub-folder was
simply never loaded, and every check stayed green.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from assets.defs.inputs import daily_assets, reference_assets
from assets.resources import ReckonResource
from tests.foundation.tiny_data import MOVEMENTS_DAY_1, write_tiny_data


def test_a_daily_load_rejects_the_files_it_would_never_read(tmp_path: Path) -> None:
    data = write_tiny_data(tmp_path / "data")
    movements = data / "movements"
    (movements / "movements_latest.csv").write_text(MOVEMENTS_DAY_1)
    (movements / "2026-13-05.csv").write_text(MOVEMENTS_DAY_1)
    (movements / "2026-01-05.xlsx").write_bytes(b"PK")
    (movements / "archive").mkdir()
    (movements / ".upload.csv.part").write_text("in flight")
    (data / "skus" / "skus.json").write_text("{}")
    resource = ReckonResource(data_dir=str(data))
    assets = [*reference_assets, *daily_assets]
    result = dg.materialize(assets, partition_key="2026-01-05", resources={"reckon": resource})
    assert result.success
    checks = {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}
    assert checks["movements"].passed is False
    assert checks["movements"].severity == dg.AssetCheckSeverity.WARN, "never blocking"
    assert checks["movements"].metadata["rejected_files"].value == 4
    assert checks["skus"].passed is False
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        rejected = con.sql(
            'SELECT "table", "partition", file, reason FROM quarantine_files ORDER BY file'
        ).fetchall()
        loaded = con.sql("SELECT count(*) FROM movements").fetchall()[0][0]
    assert loaded == 3, "the dated extract still loads"
    by_file = {Path(f).name: (table, partition, reason) for table, partition, f, reason in rejected}
    assert by_file == {
        "2026-01-05.xlsx": (
            "movements",
            "2026-01-05",
            "unsupported file type '.xlsx': expected .csv or .parquet",
        ),
        "2026-13-05.csv": (
            "movements",
            "2026-01-05",
            "daily extract named for 2026-13-05, which is not a date: loaded for no day",
        ),
        "archive": (
            "movements",
            "2026-01-05",
            "a folder inside the table's folder: its files are not loaded",
        ),
        "movements_latest.csv": (
            "movements",
            "2026-01-05",
            "daily extract without a date (YYYY-MM-DD) in its name: loaded for no day",
        ),
        "skus.json": (
            "skus",
            "reference",
            "unsupported file type '.json': expected .csv or .parquet",
        ),
    }
