"""Findings streamed to a sink (Parquet parts, one per bucket) give exactly what the
in-memory reconciliation gives; parts are replaced on a rerun and never half-written;
the warehouse loads them in one transaction, in line order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

import pipelines.reconciliation.engine as engine
from pipelines.contracts.bills import BILL_LINES
from pipelines.contracts.reconciliation import FINDINGS
from pipelines.reconciliation import billed_not_split, lines_without_one_finding
from storage.parts import write_part
from storage.warehouse import read_table, replace_slice_from_parquet
from tests.rating import builders as b
from tests.rating.builders import line
from tests.reconciliation.scenario import run

LINE_KEY = list(BILL_LINES.key)
OUTPUTS = ("findings", "period_summary", "payable_vouchers", "disputes", "accruals")
LINES = (
    line("B1", 1, "TRKS1", "FREIGHT", "15.00", "1.5"),  # DUPLICATE of B2#1
    line("B1", 2, "TRKS1", "FUEL", "1.50"),  # OK
    line("B1", 3, "TRKS3", "FREIGHT", "21.00", "0.5"),  # RATE_MISMATCH
    line("B2", 1, "TRKS1", "FREIGHT", "15.00", "1.5", bill_date=date(2026, 1, 25)),
    line("B2", 2, "NOPE", "FREIGHT", "10.00", "1", bill_date=date(2026, 1, 25)),  # UNKNOWN
    line("B2", 3, "TRKS2", "FREIGHT", "45.00", "6", bill_date=date(2026, 1, 25)),
    line("B2", 4, "TRKS2", "FUEL", "4.50", bill_date=date(2026, 1, 25)),
    line("B2", 5, "TRKX1", "FREIGHT", "1.00", "1", bill_date=date(2026, 1, 25)),
)


def _parts(sink: Path) -> list[str]:
    return sorted(p.name for p in sink.iterdir())


@pytest.mark.parametrize("bucket_lines", [1, 2, 3, 500_000])
def test_streamed_outputs_equal_the_in_memory_ones(tmp_path: Path, bucket_lines: int) -> None:
    whole = run(*LINES)
    streamed = run(*LINES, bucket_lines=bucket_lines, sink=tmp_path)
    assert whole.finding_parts == () and whole.findings_in_memory is not None
    assert streamed.findings_in_memory is None
    buckets = -(-len(LINES) // bucket_lines)
    assert len(streamed.finding_parts) == buckets == len(_parts(tmp_path))
    for name in OUTPUTS:
        assert getattr(streamed, name).equals(getattr(whole, name)), name
    # the lazy scan holds the same rows (bucket order), with the contract's schema
    scanned = streamed.scan_findings().collect()
    assert scanned.schema == FINDINGS.schema
    assert scanned.sort(LINE_KEY).equals(whole.findings)
    assert streamed.line_count == len(LINES)
    # the checks read the lazy parts
    assert lines_without_one_finding(b.bill_lines(*LINES), streamed.scan_findings()).is_empty()
    assert billed_not_split(streamed.scan_findings()).is_empty()


def test_summary_and_vouchers_from_bucket_partials_are_the_hand_computed_figures(
    tmp_path: Path,
) -> None:
    result = run(*LINES, bucket_lines=1, sink=tmp_path, stated={"B1": "37.50"})
    (s,) = result.period_summary.iter_rows(named=True)
    # 8 lines in 2 bills; each bill's lines fall in several buckets and are summed back
    assert (s["bill_count"], s["line_count"]) == (2, 8)
    assert s["billed_total"] == Decimal("113.00")
    assert s["billed_total"] == s["approved_total"] + s["disputed_total"]
    assert s["bills_total_mismatch"] == 0  # B1 states 37.50 = 15.00 + 1.50 + 21.00
    vouchers = {r["bill_number"]: r for r in result.payable_vouchers.iter_rows(named=True)}
    assert (vouchers["B1"]["line_count"], vouchers["B1"]["billed_total"]) == (3, Decimal("37.50"))
    assert (vouchers["B2"]["line_count"], vouchers["B2"]["billed_total"]) == (5, Decimal("75.50"))


def test_a_rerun_replaces_the_parts_without_duplicates(tmp_path: Path) -> None:
    first = run(*LINES, bucket_lines=1, sink=tmp_path)
    assert len(_parts(tmp_path)) == 8
    again = run(*LINES, bucket_lines=3, sink=tmp_path)  # fewer buckets: none left over
    assert _parts(tmp_path) == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    scanned = again.scan_findings().collect()
    assert scanned.height == len(LINES)
    assert scanned.select(LINE_KEY).is_unique().all()
    assert again.findings.equals(run(*LINES).findings)
    with pytest.raises(FileNotFoundError, match="findings parts are gone"):
        first.findings  # noqa: B018 - its parts were replaced by the rerun


def test_a_failure_mid_way_leaves_no_part_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(*LINES, bucket_lines=1, sink=tmp_path)  # a previous complete run
    judge = engine._judge_bucket
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # two parts of this run are written by now
            raise RuntimeError("disk on fire")
        return judge(*args, **kwargs)

    monkeypatch.setattr(engine, "_judge_bucket", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        run(*LINES, bucket_lines=1, sink=tmp_path)
    assert _parts(tmp_path) == [], "neither the old run's parts nor this run's two"


def test_a_part_that_fails_while_written_is_never_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_written(self: pl.DataFrame, path: Path, **kwargs) -> None:
        Path(path).write_bytes(b"PAR1 half")
        raise OSError("no space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", half_written)
    with pytest.raises(OSError, match="no space"):
        write_part(pl.DataFrame({"a": [1]}), tmp_path, 0)
    assert _parts(tmp_path) == []


def _load(con: duckdb.DuckDBPyConnection, parts, **kw) -> int:
    where = {"carrier": "EXPR", "period_start": date(2026, 1, 1)}
    return replace_slice_from_parquet(
        con, "reconciliation_findings", parts, where, order_by=LINE_KEY, **kw
    )


def test_the_warehouse_loads_the_parts_in_line_order_once_per_rerun(tmp_path: Path) -> None:
    streamed = run(*LINES, bucket_lines=2, sink=tmp_path / "sink")
    whole = run(*LINES)
    # bucket order is not line order here, so the ORDER BY on the way in is tested
    assert not streamed.scan_findings().collect().equals(whole.findings)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    default = _limit(con)
    for _ in range(2):
        assert _load(con, streamed.finding_parts, memory_limit="1GB") == len(LINES)
        stored = read_table(con, "reconciliation_findings")
        assert stored.equals(whole.findings)
        assert _limit(con) == default
    # a limit the deployment set is kept
    con.execute("SET memory_limit = '3GB'")
    configured = _limit(con)
    _load(con, streamed.finding_parts, memory_limit="1GB")
    assert _limit(con) == configured != default


def _limit(con: duckdb.DuckDBPyConnection) -> str:
    return con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_a_failed_load_leaves_the_previous_rows(tmp_path: Path) -> None:
    streamed = run(*LINES, bucket_lines=2, sink=tmp_path / "sink")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _load(con, streamed.finding_parts)
    with pytest.raises(duckdb.Error):
        _load(con, [*streamed.finding_parts, tmp_path / "missing.parquet"])
    assert read_table(con, "reconciliation_findings").height == len(LINES)
