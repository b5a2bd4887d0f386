"""YANWEN: a multi-page PDF statement (demo/bills/FORMATS.md, "YANWEN").

Page 1 opens with a block of bill facts; the charge table runs across pages
with its column headers repeated on every page, each page has a running title
and a "Page n of N" footer, and a summary page closes the statement. Those
repeated headers, footers and the summary are exactly what a PDF template must
skip without skipping a charge (DOMAIN.md: nothing is silently dropped).

Text is Latin only, in the PDF core font Helvetica: the machine has no CJK font
(`fc-list :lang=zh` is empty) and none ships in an installed package, so
Chinese labels would not render. Empty values print as "-".
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from fpdf import FPDF

from demo.bills import codes
from demo.bills._common import (
    BillWriteError,
    as_text,
    carrier_dir,
    fixed_timestamp,
)
from storage.files import write_bytes
from storage.layout import DataLayout

COLUMNS = (
    ("No.", 12, "R"),
    ("Tracking No.", 36, "L"),
    ("Ship Date", 20, "L"),
    ("Country", 14, "L"),
    ("Zone", 11, "L"),
    ("Weight (kg)", 18, "R"),
    ("Code", 12, "L"),
    ("Description", 45, "L"),
    ("Amount", 22, "R"),
)
SUMMARY_COLUMNS = (
    ("Code", 20, "L"),
    ("Description", 60, "L"),
    ("Lines", 20, "R"),
    ("Amount", 30, "R"),
)
ROW_HEIGHT = 5
FONT_SIZE = 8
MARGIN = 10
EMPTY = "-"


class _Statement(FPDF):
    def __init__(self, bill_number: str, currency: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.bill_number = bill_number
        self.currency = currency
        self.in_table = False
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=15)

    def header(self) -> None:
        self.set_font("Helvetica", "B", 9)
        self.cell(
            0, 6, f"YANWEN LOGISTICS - Statement {self.bill_number}", new_x="LMARGIN", new_y="NEXT"
        )
        if self.in_table and self.page_no() > 1:
            self.column_header()

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")

    def column_header(self) -> None:
        self.set_font("Helvetica", "B", FONT_SIZE)
        for title, width, align in COLUMNS:
            text = f"Amount ({self.currency})" if title == "Amount" else title
            self.cell(width, ROW_HEIGHT + 1, text, border="B", align=align)
        self.ln(ROW_HEIGHT + 1)
        self.set_font("Helvetica", "", FONT_SIZE)


def table_rows(lines: pl.DataFrame) -> pl.DataFrame:
    """One printed row per line, in line-number order, empty values as "-"."""
    mapping = pl.DataFrame(
        {
            "charge_type": list(codes.YANWEN),
            "code": [v[0] for v in codes.YANWEN.values()],
            "description": [v[1] for v in codes.YANWEN.values()],
        }
    )
    return as_text(
        lines.sort("line_number")
        .join(mapping, on="charge_type", how="left", maintain_order="left")
        .select(
            "line_number",
            "tracking_number",
            "shipment_date",
            "destination_country",
            "zone",
            "billed_weight_kg",
            "code",
            "description",
            "amount",
        )
    ).fill_null(EMPTY)


def summary_rows(lines: pl.DataFrame) -> pl.DataFrame:
    """Count and exact sum per charge code, in the codes' table order."""
    order = pl.DataFrame(
        {
            "charge_type": list(codes.YANWEN),
            "code": [v[0] for v in codes.YANWEN.values()],
            "description": [v[1] for v in codes.YANWEN.values()],
            "_order": range(len(codes.YANWEN)),
        }
    )
    return (
        lines.group_by("charge_type")
        .agg(pl.len().alias("lines"), pl.col("amount").sum().alias("amount"))
        .join(order, on="charge_type")
        .sort("_order")
        .select(
            "code", "description", pl.col("lines").cast(pl.String), pl.col("amount").cast(pl.String)
        )
    )


def _table_body(pdf: _Statement, rows: pl.DataFrame) -> None:
    """The table rows, placed with `text()` rather than `cell()`.

    `cell()` costs ~0.1 ms per call in fpdf2, which made a 10k-line statement take
    seconds; `text()` is ~50x cheaper. Right-aligned cells are measured with the core
    font's width table, and page breaks are taken here, before a row would cross the
    bottom margin (the page header then repeats the column headers).
    """
    widths = pdf.current_font.cw
    scale = pdf.font_size / 1000
    padding = pdf.c_margin
    lefts = []
    x = MARGIN
    for _, width, align in COLUMNS:
        lefts.append((x, x + width, align))
        x += width
    baseline = ROW_HEIGHT / 2 + 0.3 * pdf.font_size
    y = pdf.get_y()
    for values in rows.iter_rows():
        if y + ROW_HEIGHT > pdf.page_break_trigger:
            pdf.add_page()
            y = pdf.get_y()
        for value, (left, right, align) in zip(values, lefts, strict=True):
            if align == "R":
                left = right - padding - sum(widths[c] for c in value) * scale
            else:
                left += padding
            pdf.text(left, y + baseline, value)
        y += ROW_HEIGHT
    pdf.set_y(y)


def statement_bytes(header: dict, lines: pl.DataFrame) -> bytes:
    """The PDF of one bill; `header` is its header row as text, `lines` its canonical lines."""
    pdf = _Statement(header["bill_number"], header["currency"])
    pdf.set_creation_date(fixed_timestamp(date.fromisoformat(header["bill_date"])))
    pdf.set_title(f"Statement {header['bill_number']}")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 9, "STATEMENT OF ACCOUNT", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    facts = (
        ("Bill No.", header["bill_number"]),
        ("Bill Date", header["bill_date"]),
        ("Account", header["account"] or EMPTY),
        ("Period", f"{header['period_start'] or EMPTY} to {header['period_end'] or EMPTY}"),
        ("Currency", header["currency"]),
        ("Total Amount", header["stated_total"]),
    )
    for label, value in facts:
        pdf.cell(30, 5, f"{label}:")
        pdf.cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.in_table = True
    pdf.column_header()
    _table_body(pdf, table_rows(lines))
    pdf.in_table = False
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, "SUMMARY", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", FONT_SIZE)
    for title, width, align in SUMMARY_COLUMNS:
        pdf.cell(width, ROW_HEIGHT + 1, title, border="B", align=align)
    pdf.ln(ROW_HEIGHT + 1)
    pdf.set_font("Helvetica", "", FONT_SIZE)
    for values in summary_rows(lines).iter_rows():
        for value, (_, width, align) in zip(values, SUMMARY_COLUMNS, strict=True):
            pdf.cell(width, ROW_HEIGHT, value, align=align)
        pdf.ln(ROW_HEIGHT)
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 9)
    pdf.cell(40, 6, "Total lines:")
    pdf.cell(0, 6, str(lines.height), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(40, 6, f"Total Amount ({header['currency']}):")
    pdf.cell(0, 6, header["stated_total"], new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _check_printable(lines: pl.DataFrame) -> None:
    """Cells other than the description must be one token and never "-" (which means empty),
    or the printed row could not be taken apart again (FORMATS.md, YANWEN)."""
    for column in ("tracking_number", "zone", "destination_country"):
        bad = lines.filter(pl.col(column).str.contains(r"\s") | (pl.col(column) == EMPTY))
        if bad.height:
            raise BillWriteError(
                f"YANWEN bill {bad['bill_number'][0]!r} line {bad['line_number'][0]}: "
                f"{column} {bad[column][0]!r} cannot be printed unambiguously "
                "(contains whitespace or is '-')"
            )


def write(headers: pl.DataFrame, lines: pl.DataFrame, layout: DataLayout) -> list[Path]:
    """One `bills/inbox/YANWEN/<bill_number>.pdf` per bill."""
    _check_printable(lines)
    folder = carrier_dir(layout.bills_inbox, "YANWEN")
    by_bill = lines.partition_by("bill_number", as_dict=True)
    paths = []
    for header in as_text(headers).iter_rows(named=True):
        bill_lines = by_bill.get((header["bill_number"],), lines.clear())
        path = folder / f"{header['bill_number']}.pdf"
        write_bytes(path, statement_bytes(header, bill_lines))
        paths.append(path)
    return paths
