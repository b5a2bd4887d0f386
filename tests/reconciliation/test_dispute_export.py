"""The dispute list reads back with plain headings, reasons in words and exact amounts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from storage.dispute_workbook import write_dispute_list
from tests.rating.builders import line
from tests.reconciliation.scenario import run


@pytest.fixture(scope="module")
def disputes() -> pl.DataFrame:
    return run(
        line("B1", 1, "TRKS3", "FREIGHT", "21.00", "0.5"),
        line("B1", 2, "NOPE", "FREIGHT", "9.99", "1"),
    ).disputes


def test_csv_with_bom(tmp_path: Path, disputes: pl.DataFrame) -> None:
    path = write_dispute_list(disputes, tmp_path / "out" / "EXPR-2026-01.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    back = pl.read_csv(path, schema_overrides={"Disputed": pl.String})
    assert back["Reason"].to_list() == [
        "Amount differs from the contract rate",
        "No such shipment from us with this carrier",
    ]
    assert back["Disputed"].to_list() == ["1.00", "9.99"]
    assert back.columns[0] == "Tracking number"
    assert list(tmp_path.joinpath("out").iterdir()) == [path]  # no temporary file left


def test_excel(tmp_path: Path, disputes: pl.DataFrame) -> None:
    path = write_dispute_list(disputes, tmp_path / "EXPR.xlsx")
    back = pl.read_excel(path, sheet_name="Disputes")
    assert back["Tracking number"].to_list() == ["TRKS3", "NOPE"]
    assert [Decimal(str(x)).quantize(Decimal("0.01")) for x in back["Billed"]] == [
        Decimal("21.00"),
        Decimal("9.99"),
    ]


def test_other_suffix_is_refused(tmp_path: Path, disputes: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"\.csv or \.xlsx"):
        write_dispute_list(disputes, tmp_path / "x.pdf")
