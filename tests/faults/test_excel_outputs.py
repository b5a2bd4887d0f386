"""Files for Excel: carrier text never runs as a formula; files get documented permissions.

Before: a carrier's charge code `=HYPERLINK(...)` or a description `=1+1` went verbatim
into the ERP CSVs and the dispute workbook, where Excel runs it (OWASP: CSV injection);
and files got whatever the process umask allowed.
"""

from __future__ import annotations

import os
import stat
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from parsers.ingest import store_raw
from storage.dispute_workbook import write_dispute_list
from storage.exports import write_export
from tests.rating.builders import line
from tests.reconciliation.scenario import run

HOSTILE = ["=1+1", "+SUM(A1:A9)", "-2+3", "@cmd", "\t=x", "\r=x", "DHL", "云途", "a=b"]
ESCAPED = ["'=1+1", "'+SUM(A1:A9)", "'-2+3", "'@cmd", "'\t=x", "'\r=x", "DHL", "云途", "a=b"]
FRAME = pl.DataFrame(
    {
        "day": [date(2026, 1, 5)] * len(HOSTILE),
        "description": HOSTILE,
        "charge": pl.Series(HOSTILE, dtype=pl.Categorical),
        "amount": [Decimal("-3.00"), Decimal("+1.50"), *[Decimal("0.10")] * 7],
        "pieces": [-1, 2, *[3] * 7],
    },
    schema_overrides={"amount": pl.Decimal(18, 2)},
)


@pytest.fixture
def umask_077():
    """The strict umask a cron job or systemd unit often runs with."""
    previous = os.umask(0o077)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_erp_csv_escapes_formula_text_keeps_numbers_and_parquet_keeps_the_text(tmp_path):
    files = write_export(FRAME, tmp_path, "cogs", "2026-01-05")
    back = pl.read_csv(files.csv, infer_schema=False)
    assert back["description"].to_list() == ESCAPED
    assert back["charge"].to_list() == ESCAPED
    assert back["amount"].to_list()[:2] == ["-3.00", "1.50"], "amounts stay plain numbers"
    assert back["pieces"].to_list()[:2] == ["-1", "2"]
    assert pl.read_parquet(files.parquet).equals(FRAME), "Parquet keeps the raw text"


def test_the_dispute_workbook_never_holds_a_formula(tmp_path):
    disputes = run(
        line("B1", 1, "TRKS3", "FREIGHT", "21.00", "0.5"),
        line("B1", 2, "NOPE", "FREIGHT", "9.99", "1"),
    ).disputes
    disputes = disputes.with_columns(
        charge_code=pl.Series(['=HYPERLINK("http://evil.example","Refund")', "@SUM(1+1)"]),
        evidence=pl.Series(["-1+cmd|' /C calc'!A0", "ok"]),
    )
    path = write_dispute_list(disputes, tmp_path / "EXPR.xlsx")
    with zipfile.ZipFile(path) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        strings = book.read("xl/sharedStrings.xml").decode()
    assert "<f>" not in sheet, "no cell is a formula"
    assert "&apos;=HYPERLINK" in strings or "'=HYPERLINK" in strings
    back = pl.read_excel(path, sheet_name="Disputes")
    assert back["Your charge code"].to_list() == [
        '\'=HYPERLINK("http://evil.example","Refund")',
        "'@SUM(1+1)",
    ]
    assert back["Details"].to_list() == ["'-1+cmd|' /C calc'!A0", "ok"]
    assert back["Billed"].dtype.is_numeric(), "amounts stay numbers"
    csv = write_dispute_list(disputes, tmp_path / "EXPR.csv")
    assert pl.read_csv(csv)["Your charge code"].to_list()[1] == "'@SUM(1+1)"


def test_raw_store_and_exports_get_their_documented_modes_whatever_the_umask(tmp_path, umask_077):
    bill = tmp_path / "bill.csv"
    bill.write_bytes(b"a,b\n")
    _, raw = store_raw(bill, tmp_path / "data" / "raw")
    assert mode(raw) == 0o444
    assert mode(raw.parent) == 0o755 and mode(raw.parent.parent) == 0o755
    files = write_export(FRAME, tmp_path / "exports", "cogs", "2026-01-05")
    assert (mode(files.csv), mode(files.parquet)) == (0o644, 0o644)
    assert mode(files.csv.parent) == 0o755
    disputes = run(line("B1", 1, "NOPE", "FREIGHT", "9.99", "1")).disputes
    for suffix in (".csv", ".xlsx"):
        assert mode(write_dispute_list(disputes, tmp_path / "d" / f"x{suffix}")) == 0o644
