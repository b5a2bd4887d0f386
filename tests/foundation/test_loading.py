"""Loading extracts: exact types, every bad row named and quarantined, reruns idempotent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from pipelines.contracts.inputs import MOVEMENTS, REFERENCE_TABLES, SKUS
from storage.layout import DataLayout
from storage.loading.load import load_daily_table, load_reference_table
from storage.loading.validation import validate_files
from storage.warehouse import connect
from tests.foundation.tiny_data import MOVEMENTS_DAY_1, write_tiny_data

HEADER = MOVEMENTS_DAY_1.splitlines()[0]


@pytest.fixture
def layout(tmp_path: Path) -> DataLayout:
    return DataLayout(write_tiny_data(tmp_path / "data"))


def _load_references(con, layout: DataLayout) -> None:
    for contract in REFERENCE_TABLES:
        report = load_reference_table(con, layout, contract)
        assert report.problems == 0, report.violations


def _movements_file(layout: DataLayout, day: str, rows: list[str]) -> None:
    (layout.input_dir("movements") / f"{day}.csv").write_text(
        "\n".join([HEADER, *rows]) + "\n", encoding="utf-8"
    )


def test_valid_files_load_with_exact_types_and_provenance(layout: DataLayout) -> None:
    with connect(layout.warehouse_db) as con:
        _load_references(con, layout)
        report = load_daily_table(con, layout, MOVEMENTS, date(2026, 1, 5))
        rows = con.sql("SELECT * FROM movements ORDER BY movement_id").pl()
    assert (report.rows_loaded, report.rows_quarantined) == (3, 0)
    assert rows.schema["unit_cost"] == pl.Decimal(18, 6)
    assert rows["unit_cost"][0] == Decimal("12.345600")
    assert rows["quantity"].to_list() == [100, 3, 10]
    assert rows["_source_file"][0].endswith("movements/2026-01-05.csv")
    assert rows["_source_row"].to_list() == [2, 3, 4]


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("M-9,2026-01-05 08:00,CN01,SZ-DOM,MUG-01,SELL,1,,,", "movement_type", "is not one of"),
        ("M-9,2026-01-05 08:00,CN01,SZ-DOM,MUG-01,ISSUE,1.5,,,", "quantity", "a whole number"),
        ("M-9,2026-01-05 08:00,CN01,SZ-DOM,MUG-01,ISSUE,0,,,", "quantity", "greater than 0"),
        (
            "M-9,2026-01-05 08:00,CN01,SZ-DOM,MUG-01,RECEIPT,1,1.0000001,CNY,P",
            "unit_cost",
            "6 decimal",
        ),
        ("M-9,2026-01-05 08:00,CN01,SZ-DOM,MUG-01,RECEIPT,1,,,P", "unit_cost", "needs a unit_cost"),
        ("M-9,2026-01-05 08:00,CN01,SZ-DOM,MUG-01,RETURN,1,,,", "reference", "needs the issue"),
        ("M-9,05/01/2026,CN01,SZ-DOM,MUG-01,ISSUE,1,,,", "occurred_at", "is not a timestamp"),
        ("M-9,2026-01-07 08:00,CN01,SZ-DOM,MUG-01,ISSUE,1,,,", "occurred_at", "after its load day"),
        (
            "M-9,2026-01-05 08:00,US01,SZ-DOM,MUG-01,ISSUE,1,,,",
            "warehouse",
            "no match in warehouses",
        ),
        ("M-9,2026-01-05 08:00,CN01,SZ-DOM,NOPE,ISSUE,1,,,", "sku", "no match in skus"),
        (",2026-01-05 08:00,CN01,SZ-DOM,MUG-01,ISSUE,1,,,", "movement_id", "required value"),
    ],
)
def test_each_bad_row_is_quarantined_with_file_row_column_and_reason(
    layout: DataLayout, row: str, column: str, reason: str
) -> None:
    good = "M-8,2026-01-05 08:00,CN01,SZ-DOM,MUG-01,ISSUE,1,,,SO-8"
    _movements_file(layout, "2026-01-05", [good, row])
    with connect(layout.warehouse_db) as con:
        _load_references(con, layout)
        report = load_daily_table(con, layout, MOVEMENTS, date(2026, 1, 5))
        loaded = con.sql("SELECT movement_id FROM movements").fetchall()
        quarantined = con.sql("SELECT row, reasons FROM quarantine_rows").fetchall()
    assert loaded == [("M-8",)], "the good row still loads"
    assert report.rows_quarantined == 1
    violation = report.violations.filter(pl.col("column") == column)
    assert violation.height == 1, report.violations
    assert violation["row"][0] == 3
    assert violation["file"][0].endswith("2026-01-05.csv")
    assert reason in violation["reason"][0]
    assert quarantined[0][0] == 3 and reason in quarantined[0][1]
    csv = layout.quarantine_dir / "inputs" / "movements" / "2026-01-05.csv"
    assert csv.exists() and reason in csv.read_text(encoding="utf-8-sig")


def test_duplicate_ids_within_a_load_and_across_days(layout: DataLayout) -> None:
    with connect(layout.warehouse_db) as con:
        _load_references(con, layout)
        load_daily_table(con, layout, MOVEMENTS, date(2026, 1, 5))
        _movements_file(
            layout,
            "2026-01-06",
            [
                "M-1,2026-01-06 08:00,CN01,SZ-DOM,MUG-01,ISSUE,1,,,SO-9",
                "M-7,2026-01-06 08:00,CN01,SZ-DOM,MUG-01,ISSUE,1,,,SO-9",
                "M-7,2026-01-06 09:00,CN01,SZ-DOM,MUG-01,ISSUE,2,,,SO-9",
            ],
        )
        report = load_daily_table(con, layout, MOVEMENTS, date(2026, 1, 6))
    reasons = report.violations.sort("row")["reason"].to_list()
    assert report.rows_loaded == 0
    assert "already loaded on 2026-01-05" in reasons[0]
    assert all("appears 2 times" in r for r in reasons[1:])


def test_a_file_missing_a_required_column_is_rejected_whole(layout: DataLayout) -> None:
    path = layout.input_dir("movements") / "2026-01-05.csv"
    path.write_text("movement_id,occurred_at\nM-1,2026-01-05 08:00\n", encoding="utf-8")
    with connect(layout.warehouse_db) as con:
        _load_references(con, layout)
        report = load_daily_table(con, layout, MOVEMENTS, date(2026, 1, 5))
        stored = con.sql("SELECT file, reason FROM quarantine_files").fetchall()
    assert report.rows_loaded == 0
    assert len(report.rejected_files) == 1
    assert "missing required column(s): company, warehouse, sku" in report.rejected_files[0]
    assert stored[0][0] == str(path)


def test_a_file_in_the_wrong_encoding_is_rejected_not_garbled(tmp_path: Path) -> None:
    path = tmp_path / "skus.csv"
    path.write_bytes("sku,weight_kg,length_cm,width_cm,height_cm\n杯子,1,1,1,1\n".encode("gb18030"))
    batch = validate_files([path], SKUS)
    assert batch.valid.height == 0
    assert "not valid UTF-8" in batch.rejected_files[0].reason


def test_binary_float_money_in_parquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "2026-01-05.parquet"
    pl.DataFrame(
        {
            "movement_id": ["M-1"],
            "occurred_at": ["2026-01-05 08:00:00"],
            "company": ["CN01"],
            "warehouse": ["SZ-DOM"],
            "sku": ["MUG-01"],
            "movement_type": ["RECEIPT"],
            "quantity": [1],
            "unit_cost": [0.1],
            "currency": ["CNY"],
            "reference": ["PO"],
        }
    ).write_parquet(path)
    batch = validate_files([path], MOVEMENTS, load_date=date(2026, 1, 5))
    assert batch.valid.height == 0
    assert "binary float" in batch.violations["reason"][0]


def test_typed_parquet_loads_like_csv(tmp_path: Path) -> None:
    csv = tmp_path / "2026-01-05.csv"
    csv.write_text(MOVEMENTS_DAY_1, encoding="utf-8")
    from_csv = validate_files([csv], MOVEMENTS, load_date=date(2026, 1, 5)).valid
    parquet = tmp_path / "2026-01-05.parquet"
    from_csv.select(MOVEMENTS.column_names).write_parquet(parquet)
    from_parquet = validate_files([parquet], MOVEMENTS, load_date=date(2026, 1, 5)).valid
    assert from_parquet.select(MOVEMENTS.column_names).equals(
        from_csv.select(MOVEMENTS.column_names)
    )


def test_reloading_a_day_replaces_it_and_counts_late_rows(layout: DataLayout) -> None:
    with connect(layout.warehouse_db) as con:
        _load_references(con, layout)
        for _ in range(2):
            load_daily_table(con, layout, MOVEMENTS, date(2026, 1, 5))
            report = load_daily_table(con, layout, MOVEMENTS, date(2026, 1, 6))
        count = con.sql("SELECT count(*) FROM movements").fetchall()[0][0]
    assert count == 5, "no duplicates after a rerun"
    assert report.late_rows == 1, "M-5 is dated 2026-01-05 but arrived on 2026-01-06"
