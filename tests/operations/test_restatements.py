"""Restatements through real runs: a document added, changed or removed on a day already
costed recosts from that day to the last costed day in the same run, rewrites the
inventory check and every export of those days, and is recorded; afterwards every export
is byte-identical to a clean run over the final extracts (DOMAIN.md, "Late (backdated),
corrected or removed documents"; docs/costing.md "Restatements")."""

from __future__ import annotations

import shutil
from datetime import datetime
from decimal import Decimal as D
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from typer.testing import CliRunner

from assets.definitions import build_definitions
from assets.partition_ranges import range_tags
from assets.resources import ReckonResource
from reckon.cli import app
from reckon.runner import run_range
from tests.operations.restatement_data import (
    BACKDATED_RECEIPT,
    DAYS,
    export_digests,
    movements,
    rewritten_partitions,
    warehouse_query,
    write_data,
    write_extract,
)

# Seven Dagster runs over a hand-built ledger.
pytestmark = pytest.mark.slow

JAN5, JAN6, JAN7, JAN8, JAN9, JAN10 = DAYS
CORRECTED_R3 = ("50,12.00,CNY", "50,13.00,CNY")
"""Jan 7's extract corrected: receipt R3 at 13.00 a unit instead of 12.00."""


def _run(data: Path, first, last, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    result = run_range(data, first, last, instance=instance, log_level="WARNING")
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def _clean(tmp: Path, last, change=None) -> Path:
    """A fresh data directory holding only the final extracts, costed in one run."""
    data = write_data(tmp, [d for d in DAYS if d <= last])
    if change is not None:
        change(data)
    with dg.DagsterInstance.ephemeral() as instance:
        _run(data, JAN5, last, instance)
    return data


def _assert_same_exports(got: Path, clean: Path) -> None:
    expected, found = export_digests(clean), export_digests(got)
    assert sorted(found) == sorted(expected)
    assert len(found) > 100
    stale = sorted(name for name in found if found[name] != expected[name])
    assert stale == [], f"exports differing from a clean run over the final data: {stale}"


@pytest.fixture(scope="module")
def costed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The original extracts of Jan 5-9, costed in one run."""
    data = write_data(tmp_path_factory.mktemp("costed") / "data", DAYS[:5])
    with dg.DagsterInstance.ephemeral() as instance:
        _run(data, JAN5, JAN9, instance)
    return data


def test_a_backdated_receipt_in_the_next_nights_extract_restates_every_day_since(
    costed: Path, tmp_path: Path
) -> None:
    data = shutil.copytree(costed, tmp_path / "nightly")
    write_data(data, [JAN10])
    write_extract(data, JAN10, movements(JAN10, (BACKDATED_RECEIPT,)))
    with dg.DagsterInstance.ephemeral() as instance:
        result = _run(data, JAN10, JAN10, instance)
    for asset in ("costing", "inventory_check", "costing_exports"):
        assert rewritten_partitions(result, asset) == [str(d) for d in DAYS[1:]], asset
    clean = _clean(tmp_path / "clean", JAN10, lambda d: write_extract(
        d, JAN10, movements(JAN10, (BACKDATED_RECEIPT,))
    ))  # fmt: skip
    _assert_same_exports(data, clean)
    docs = warehouse_query(data, "SELECT document_id, change, day_before, day_after, posted_on "
                        "FROM costing_restated_documents")  # fmt: skip
    assert docs.rows() == [("RB", "ADDED", None, JAN6, JAN6)]
    record = warehouse_query(data, "SELECT * FROM costing_restatements")
    assert record.select("company", "restated_from", "restated_to", "documents_added").rows() == [
        ("CN01", JAN6, JAN9, 1)
    ]
    # RB's 25 units at 9.00 queue behind R1's: I4 takes 10 of them instead of R3's (-30.00),
    # I5 15 (-45.00); I7 then finds 20 units of R3, no shortfall. COGS falls by 75.00, and
    # Jan 9 ends with 15 units of R3 (180.00) instead of -10 at 12.00 (-120.00): +300.00,
    # the receipt's 225.00 = -75.00 + 300.00.
    assert record.select("cogs_difference", "inventory_value_before", "inventory_value_after")\
        .rows() == [(D("-75.00"), D("1867.50"), D("2167.50"))]  # fmt: skip
    exported = pl.read_csv(data / "exports" / "costing_restatements" / f"{JAN10}.csv")
    assert exported.select("company", "detected_on").rows() == [("CN01", str(JAN10))]
    discrepancy = pl.read_parquet(data / "exports" / "inventory_discrepancies" / f"{JAN6}.parquet")
    assert discrepancy.select("sku", "computed_qty", "snapshot_qty").rows() == [("MUG-01", 75, 50)]


def test_a_corrected_day_rerun_through_reckon_run_recosts_the_days_after_it(
    costed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    data = shutil.copytree(costed, tmp_path / "rerun")
    corrected = movements(JAN7).replace(*CORRECTED_R3)
    write_extract(data, JAN7, corrected)
    before = warehouse_query(data, "SELECT sum(amount) AS cogs FROM costing_cogs")["cogs"][0]
    out = CliRunner().invoke(app, ["run", "--data", str(data), "--from", "2026-01-07",
                                   "--to", "2026-01-07"])  # fmt: skip
    assert out.exit_code == 0, out.output
    clean = _clean(tmp_path / "clean", JAN9, lambda d: write_extract(d, JAN7, corrected))
    _assert_same_exports(data, clean)
    # R3 at 13.00: I4 takes 10 of its units, I5 30, I7 10 and its 10 short units are
    # provisional at R3's unit cost: 60 units each 1.00 dearer. The -10 units on hand at
    # the end of Jan 9 are valued 10.00 lower.
    after = warehouse_query(data, "SELECT sum(amount) AS cogs FROM costing_cogs")["cogs"][0]
    assert after - before == D("60.00")
    record = warehouse_query(data, "SELECT * FROM costing_restatements")
    assert record.select(
        "company", "restated_from", "restated_to", "documents_changed", "cogs_difference",
        "inventory_value_difference",
    ).rows() == [("CN01", JAN7, JAN9, 1, D("60.00"), D("-10.00"))]  # fmt: skip
    assert warehouse_query(
        data, "SELECT document_id, change FROM costing_restated_documents"
    ).rows() == [("R3", "CHANGED")]


def test_a_backdated_receipt_removed_from_a_reloaded_extract_leaves_no_trace(
    tmp_path: Path, costed: Path
) -> None:
    data = write_data(tmp_path / "removed", DAYS[:5])
    write_extract(data, JAN8, movements(JAN8, (BACKDATED_RECEIPT,)))
    with dg.DagsterInstance.ephemeral() as instance:
        _run(data, JAN5, JAN9, instance)
        consumed = (data / "exports" / "costing_consumption").glob("*.csv")
        assert any(",RB," in path.read_text(encoding="utf-8-sig") for path in consumed)
        write_extract(data, JAN8, movements(JAN8))
        result = _run(data, JAN8, JAN8, instance)
    assert rewritten_partitions(result, "costing_exports") == [
        str(d) for d in (JAN6, JAN7, JAN8, JAN9)
    ]
    # the original extracts, costed once, are the clean run of the final data
    _assert_same_exports(data, costed)
    for path in (data / "exports").rglob("*.csv"):
        if path.parent.name not in ("costing_restatements", "costing_restated_documents"):
            assert "RB" not in path.read_text(encoding="utf-8-sig"), path
    docs = warehouse_query(data, "SELECT document_id, change, day_before, day_after "
                        "FROM costing_restated_documents")  # fmt: skip
    assert docs.rows() == [("RB", "REMOVED", JAN6, None)]


def test_a_rerun_with_nothing_changed_records_no_restatement(costed: Path, tmp_path: Path) -> None:
    data = shutil.copytree(costed, tmp_path / "same")
    before = export_digests(data)
    with dg.DagsterInstance.ephemeral() as instance:
        _run(data, JAN7, JAN7, instance)
    assert export_digests(data) == before
    assert warehouse_query(data, "SELECT count(*) AS n FROM costing_restatements")["n"][0] == 0
    record = pl.read_parquet(data / "exports" / "costing_restatements" / f"{JAN9}.parquet")
    assert record.is_empty()


def _run_closed(data: Path, first, last, instance: dg.DagsterInstance) -> None:
    """The nightly job with Jan 8 as the first open day (days before it are closed)."""
    reckon = ReckonResource(data_dir=str(data), closed_before=str(JAN8))
    job = build_definitions(reckon).resolve_job_def("nightly")
    tags = range_tags(str(first), str(last))
    result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]


def test_in_a_closed_period_a_backdated_receipt_posts_on_the_first_open_day(
    tmp_path: Path,
) -> None:
    data = write_data(tmp_path / "closed", DAYS[:5])
    with dg.DagsterInstance.ephemeral() as instance:
        _run_closed(data, JAN5, JAN9, instance)
        closed_days = {
            k: v for k, v in export_digests(data).items() if k.split("/")[1] < "2026-01-08"
        }
        write_data(data, [JAN10])
        write_extract(data, JAN10, movements(JAN10, (BACKDATED_RECEIPT,)))
        _run_closed(data, JAN10, JAN10, instance)
    after = export_digests(data)
    assert closed_days and all(after[k] == v for k, v in closed_days.items()), (
        "closed day rewritten"
    )
    late = warehouse_query(data, "SELECT movement_id, posted_at, redated FROM costing_late_documents "
                        "WHERE movement_id = 'RB'")  # fmt: skip
    assert late.rows() == [("RB", datetime(2026, 1, 8), True)]
    # RB's 25 units at 9.00 enter at 00:00 on Jan 8, behind R3's 40: I5 still takes R3's,
    # I7 takes R3's last 10 and 10 of RB's instead of 10 short at 12.00: COGS -30.00;
    # Jan 9 ends with 15 units at 9.00 (135.00) instead of -120.00: +255.00.
    record = warehouse_query(data, "SELECT * FROM costing_restatements")
    assert record.select(
        "company", "restated_from", "restated_to", "posted_on", "documents_added",
        "cogs_difference", "inventory_value_difference",
    ).rows() == [("CN01", JAN8, JAN9, JAN8, 1, D("-30.00"), D("255.00"))]  # fmt: skip
    docs = warehouse_query(data, "SELECT document_id, change, day_after, posted_on "
                        "FROM costing_restated_documents")  # fmt: skip
    assert docs.rows() == [("RB", "ADDED", JAN6, JAN8)]
    clean = write_data(tmp_path / "clean", DAYS)
    write_extract(clean, JAN10, movements(JAN10, (BACKDATED_RECEIPT,)))
    with dg.DagsterInstance.ephemeral() as instance:
        _run_closed(clean, JAN5, JAN10, instance)
    _assert_same_exports(data, clean)


R3_IN_USD = ("50,12.00,CNY", "50,1.70,USD")
"""Jan 7's receipt R3 bought in USD: 1.70 a unit, converted at the day's USD>CNY rate."""


def _with_jan7_rate(data: Path, rate: str) -> None:
    path = data / "fx_rates" / "fx_rates.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"{JAN7},USD,CNY,7.10000000", f"{JAN7},USD,CNY,{rate}"))


def test_a_corrected_fx_rate_of_a_costed_day_restates_from_that_day(tmp_path: Path) -> None:
    usd = movements(JAN7).replace(*R3_IN_USD)
    data = write_data(tmp_path / "fx", DAYS[:5])
    write_extract(data, JAN7, usd)
    with dg.DagsterInstance.ephemeral() as instance:
        _run(data, JAN5, JAN9, instance)
        _with_jan7_rate(data, "7.20000000")
        result = _run(data, JAN9, JAN9, instance)
    assert rewritten_partitions(result, "costing_exports") == [str(d) for d in (JAN7, JAN8, JAN9)]
    clean = write_data(tmp_path / "clean", DAYS[:5])
    write_extract(clean, JAN7, usd)
    _with_jan7_rate(clean, "7.20000000")
    with dg.DagsterInstance.ephemeral() as instance:
        _run(clean, JAN5, JAN9, instance)
    _assert_same_exports(data, clean)
    docs = warehouse_query(data, "SELECT source, document_id, company, change, day_before, day_after, "
                        "posted_on FROM costing_restated_documents")  # fmt: skip
    assert docs.rows() == [("fx_rates", f"USD>CNY@{JAN7}", "CN01", "CHANGED", JAN7, JAN7, JAN7)]
    # R3 = 50 x 1.70 USD: 603.50 CNY at 7.10, 612.00 at 7.20. 60 of its units are costed
    # (I4 10, I5 30, I7 10 and I7's 10 short units at R3's unit cost), each slice by
    # cumulative rounding: 120.70 + 362.10 + 120.70 + 120.70 becomes 122.40 + 367.20 +
    # 122.40 + 122.40, COGS +10.20; the -10 units held at the end of Jan 9 -1.70.
    record = warehouse_query(data, "SELECT * FROM costing_restatements")
    assert record.select(
        "company", "restated_from", "restated_to", "documents_changed", "cogs_difference",
        "inventory_value_difference",
    ).rows() == [("CN01", JAN7, JAN9, 1, D("10.20"), D("-1.70"))]  # fmt: skip
