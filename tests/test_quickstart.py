"""The README's quick start, run as a new user would: a clean copy of the repository, `make demo`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="git is needed to make a clean copy")
def test_make_demo_from_a_clean_clone(tmp_path: Path) -> None:
    clone = tmp_path / "reckon"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"VIRTUAL_ENV", "DAGSTER_HOME", "RECKON_DATA_DIR", "UV_PROJECT_ENVIRONMENT"}
    }
    done = subprocess.run(
        ["make", "demo"], cwd=clone, env=env, capture_output=True, text=True, timeout=1200
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "demo finished" in done.stdout
    with duckdb.connect(str(clone / "demo_data" / "warehouse.duckdb"), read_only=True) as con:
        movements = con.sql("SELECT count(*) FROM movements").fetchall()[0][0]
        parsed = con.sql(
            "SELECT count(*) FROM bill_file_status WHERE status = 'parsed'"
        ).fetchall()[0][0]
        findings = con.sql(
            "SELECT carrier, bill_number, tracking_number, charge_type, finding AS anomaly "
            "FROM reconciliation_findings WHERE finding <> 'OK'"
        ).pl()
        cogs = con.sql("SELECT count(*) FROM costing_cogs").fetchall()[0][0]
    assert movements > 10_000
    assert parsed >= 20
    assert cogs > 10_000
    assert (clone / "demo_data" / ".dagster_home" / "dagster.yaml").exists()
    assert (clone / "demo_data" / "exports" / "costing_cogs").is_dir()
    # Every injected bill anomaly is found through the whole Dagster path, and nothing else.
    truth = pl.read_parquet(clone / "demo_data" / "ground_truth" / "bill_anomalies.parquet")
    cols = list(findings.columns)
    got = findings.group_by(cols).len().sort(cols)
    want = truth.select(cols).group_by(cols).len().sort(cols)
    assert got.equals(want)
