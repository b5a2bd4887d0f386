"""The same rows give the same bytes: exports in key order, workbooks without a write time."""

from __future__ import annotations

import time
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl

from storage.dispute_workbook import write_dispute_list
from storage.exports import write_export

COGS = pl.DataFrame(
    {
        "posting_date": [date(2026, 1, 5)] * 4,
        "movement_id": ["M-2", "M-1", "M-2", "M-1"],
        "kind": ["ISSUE", "ISSUE", "TRUE_UP", "ISSUE"],
        "amount": [Decimal("1.00"), Decimal("2.00"), Decimal("3.00"), Decimal("0.50")],
    },
    schema={
        "posting_date": pl.Date,
        "movement_id": pl.String,
        "kind": pl.String,
        "amount": pl.Decimal(18, 2),
    },
)
KEY = ("posting_date", "movement_id", "kind")


def test_an_export_has_the_same_bytes_whatever_order_the_rows_arrive_in(tmp_path: Path) -> None:
    written = {
        seed: write_export(COGS.sample(fraction=1.0, shuffle=True, seed=seed), tmp_path / str(seed),
                           "costing_cogs", "2026-01-05", key=KEY)
        for seed in range(5)
    }  # fmt: skip
    csvs = {files.csv.read_bytes() for files in written.values()}
    parquets = {files.parquet.read_bytes() for files in written.values()}
    assert len(csvs) == 1 and len(parquets) == 1
    text = next(iter(csvs)).decode("utf-8-sig").splitlines()
    assert [line.split(",")[1:3] for line in text[1:]] == [
        ["M-1", "ISSUE"], ["M-1", "ISSUE"], ["M-2", "ISSUE"], ["M-2", "TRUE_UP"]
    ]  # fmt: skip
    assert text[1].endswith(",0.50") and text[2].endswith(",2.00"), "ties broken by amount"


DISPUTES = pl.DataFrame(
    {
        "tracking_number": ["1Z1"],
        "bill_number": ["INV-1"],
        "line_number": [1],
        "charge_type": ["FUEL"],
        "charge_code": ["FSC"],
        "currency": ["USD"],
        "billed_amount": [Decimal("3.10")],
        "expected_amount": [Decimal("2.90")],
        "disputed_amount": [Decimal("0.20")],
        "reason": ["FUEL_MISMATCH"],
        "evidence": ["=fuel 12% of 24.20"],
    }
)


def test_a_dispute_workbook_written_later_has_the_same_bytes(tmp_path: Path) -> None:
    first = write_dispute_list(DISPUTES, tmp_path / "a" / "disputes.xlsx").read_bytes()
    time.sleep(1.1)  # xlsxwriter's own stamp has a resolution of one second
    second = write_dispute_list(DISPUTES, tmp_path / "b" / "disputes.xlsx").read_bytes()
    assert first == second
    with zipfile.ZipFile(tmp_path / "a" / "disputes.xlsx") as workbook:
        sheet = workbook.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet, "text starting with = stays text, as Polars writes it"
