"""PDF bills printed as ruled tables: pdfplumber's table finder, across pages."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest
from fpdf import FPDF

from parsers.base import ParseContext
from parsers.ingest import ingest_file
from parsers.registry import Registry

TEMPLATE = """
id: acme-ruled-pdf
version: 1
carrier: ACME
format: pdf
match:
  contains: ["ACME FREIGHT INVOICE"]
read:
  pdf_tables: true
  header_contains: Tracking
  skip_pages_matching: '^SUMMARY'
  null_values: ["-"]
bill:
  bill_number: {regex: 'Invoice: (\\S+)'}
  bill_date: {regex: 'Date: (\\S+)', format: "%Y-%m-%d"}
  currency: {const: EUR}
  stated_total: {regex: 'Total: (\\S+)'}
lines:
  tracking_number: {column: Tracking}
  billed_weight: {column: Weight kg}
  charge:
    amount: {column: Amount}
    code: {column: Code}
    description: {column: Charge}
charge_map: {F: FREIGHT, S: FUEL}
"""


def ruled_pdf(path: Path, rows: list[tuple[str, str, str, str, str]], total: str) -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=9)
    pdf.add_page()
    pdf.cell(text="ACME FREIGHT INVOICE", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(
        text=f"Invoice: INV-9  Date: 2026-03-31  Total: {total}", new_x="LMARGIN", new_y="NEXT"
    )
    with pdf.table(col_widths=(40, 60, 20, 25, 25)) as table:
        table.row(("Tracking", "Charge", "Code", "Weight kg", "Amount"))
        for row in rows:
            table.row(row)
    pdf.add_page()
    pdf.cell(text="SUMMARY  Total: " + total)
    pdf.output(str(path))


@pytest.fixture
def registry_with_template(tmp_path) -> Registry:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "acme.yaml").write_text(TEMPLATE)
    return Registry.default(extra_templates=folder, use_entry_points=False)


def test_ruled_table_across_pages_with_repeated_header(tmp_path, registry_with_template):
    rows = [
        (
            f"AC{n:08d}",
            "Freight charge" if n % 2 else "Fuel surcharge",
            "F" if n % 2 else "S",
            "-" if n % 7 == 0 else f"{n}.250",
            f"{n}.{n % 100:02d}",
        )
        for n in range(1, 91)
    ]
    total = str(sum(Decimal(r[4]) for r in rows))
    path = tmp_path / "acme.pdf"
    ruled_pdf(path, rows, total)
    ctx = ParseContext(hashlib.sha256(path.read_bytes()).hexdigest(), path.name)
    choice, result = registry_with_template.parse(path, ctx)
    assert choice.template.id == "acme-ruled-pdf"
    assert result.lines["tracking_number"].to_list() == [r[0] for r in rows]
    assert result.lines["amount"].to_list() == [Decimal(r[4]) for r in rows]
    assert result.lines["charge_type"].to_list() == [
        "FREIGHT" if n % 2 else "FUEL" for n in range(1, 91)
    ]
    assert result.lines["billed_weight_kg"].null_count() == len(
        [n for n in range(1, 91) if n % 7 == 0]
    )
    pages = set(result.lines["locator"].str.extract(r"page=(\d+)").to_list())
    assert len(pages) >= 2  # the table continued onto a second page, its header repeated
    assert result.headers["stated_total"][0] == result.headers["parsed_total"][0] == Decimal(total)


def test_a_ruled_pdf_without_the_header_is_missing_columns(tmp_path, registry_with_template):
    path = tmp_path / "acme.pdf"
    pdf = FPDF()
    pdf.set_font("Helvetica", size=9)
    pdf.add_page()
    pdf.cell(text="ACME FREIGHT INVOICE  Invoice: INV-9  Date: 2026-03-31  Total: 1.00")
    pdf.output(str(path))
    outcome = ingest_file(path, tmp_path / "raw", tmp_path / "q", registry=registry_with_template)
    assert (outcome.status, outcome.error_code) == ("quarantined", "missing_columns")
