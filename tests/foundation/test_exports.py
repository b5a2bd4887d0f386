"""Exports: exact, Excel-friendly, atomic, and idempotent per partition."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from storage.exports import partition_file_stem, write_daily_exports, write_export

FRAME = pl.DataFrame(
    {
        "day": [date(2026, 1, 5), date(2026, 1, 5), date(2026, 1, 7)],
        "carrier": ["云途", "DHL", "UPS"],
        "amount": [Decimal("0.10"), Decimal("1234567890123.45"), Decimal("-3.00")],
    },
    schema={"day": pl.Date, "carrier": pl.String, "amount": pl.Decimal(18, 2)},
)


def test_csv_has_bom_and_exact_decimals_and_parquet_round_trips(tmp_path: Path) -> None:
    files = write_export(FRAME, tmp_path, "cogs", "2026-01-05")
    raw = files.csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to show Chinese text"
    text = raw.decode("utf-8-sig")
    assert "云途" in text and "1234567890123.45" in text and "0.10" in text
    assert pl.read_parquet(files.parquet).equals(FRAME)
    assert files.csv == tmp_path / "cogs" / "2026-01-05.csv"


def test_rerun_replaces_the_partition_with_identical_content(tmp_path: Path) -> None:
    first = write_export(FRAME, tmp_path, "cogs", "2026-01-05").csv.read_bytes()
    second = write_export(FRAME, tmp_path, "cogs", "2026-01-05").csv.read_bytes()
    assert first == second
    assert sorted(p.name for p in (tmp_path / "cogs").iterdir()) == [
        "2026-01-05.csv",
        "2026-01-05.parquet",
    ]


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = write_export(FRAME, tmp_path, "cogs", "2026-01-05")
    before = files.csv.read_bytes()

    def broken(self: pl.DataFrame, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"half a fi")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        write_export(FRAME.head(1), tmp_path, "cogs", "2026-01-05")
    assert files.csv.read_bytes() == before
    assert [p.name for p in (tmp_path / "cogs").iterdir() if p.name.startswith(".")] == []


def test_daily_exports_write_every_day_even_empty_ones(tmp_path: Path) -> None:
    days = [date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)]
    written = write_daily_exports(FRAME, tmp_path, "cogs", "day", days)
    assert [w.rows for w in written] == [2, 0, 1]
    assert pl.read_parquet(written[1].parquet).schema == FRAME.schema


def test_partition_keys_become_safe_file_names() -> None:
    assert partition_file_stem("DHL|2026-01") == "DHL_2026-01"
    assert partition_file_stem("../etc/passwd") == ".._etc_passwd"
