"""YUNEXPRESS: an Excel workbook with Chinese headers (demo/bills/FORMATS.md, "YUNEXPRESS").

A title row, two rows of bill facts, a merged two-row column header, one row
per charge (long form), and a 合计 summary row at the bottom: the shape a
consolidator's customer-service export really has, with the rows a naive
reader would mistake for data. Amounts and weights are text cells holding the
exact decimal, never Excel numbers (which are binary floats; DOMAIN.md, money
is exact).
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import polars as pl
import xlsxwriter

from demo.bills import codes
from demo.bills._common import as_text, carrier_dir, fixed_timestamp
from storage.files import write_bytes
from storage.layout import DataLayout

SHEET = "账单明细"
TITLE = "云途物流 客户对账单 YunExpress Statement of Account"
GROUP_HEADER = (("序号", 0, 0), ("运单信息", 1, 5), ("费用明细", 6, 8))
COLUMN_HEADER = (
    "序号",
    "运单号",
    "发货日期",
    "目的国家",
    "分区",
    "计费重量(kg)",
    "费用代码",
    "费用名称",
    "金额",
)
FIRST_DATA_ROW = 5
"""0-based: Excel row 6. Rows 1-5 are title, two fact rows and the two header rows."""


def data_rows(lines: pl.DataFrame) -> pl.DataFrame:
    """One row per line, in the column order of `COLUMN_HEADER`, all text."""
    mapping = pl.DataFrame(
        {
            "charge_type": list(codes.YUNEXPRESS),
            "费用代码": [v[0] for v in codes.YUNEXPRESS.values()],
            "费用名称": [v[1] for v in codes.YUNEXPRESS.values()],
        }
    )
    return as_text(
        lines.sort("line_number")
        .join(mapping, on="charge_type", how="left", maintain_order="left")
        .select(
            pl.col("line_number").alias("序号"),
            pl.col("tracking_number").alias("运单号"),
            pl.col("shipment_date").alias("发货日期"),
            pl.col("destination_country").alias("目的国家"),
            pl.col("zone").alias("分区"),
            pl.col("billed_weight_kg").alias("计费重量(kg)"),
            "费用代码",
            "费用名称",
            pl.col("amount").alias("金额"),
        )
    )


def workbook_bytes(header: dict, rows: pl.DataFrame) -> bytes:
    """The .xlsx file of one bill; `header` is the bill's header row as text."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True, "in_memory": True})
    book.set_properties({"created": fixed_timestamp(date.fromisoformat(header["bill_date"]))})
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14, "align": "center"})
    head = book.add_format({"bold": True, "align": "center", "valign": "vcenter", "border": 1})
    sheet = book.add_worksheet(SHEET)
    sheet.merge_range(0, 0, 0, len(COLUMN_HEADER) - 1, TITLE, title)
    facts = (
        (
            "账单号",
            header["bill_number"],
            "客户代码",
            header["account"],
            "账期起",
            header["period_start"],
        ),
        (
            "账单日期",
            header["bill_date"],
            "币种",
            header["currency"],
            "账期止",
            header["period_end"],
        ),
    )
    for r, row in enumerate(facts, start=1):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write_string(r, c, value, bold if c % 2 == 0 else None)
    for text, first, last in GROUP_HEADER:
        if first == last:
            sheet.merge_range(3, first, 4, last, text, head)
        else:
            sheet.merge_range(3, first, 3, last, text, head)
    for c, text in enumerate(COLUMN_HEADER[1:], start=1):
        sheet.write_string(4, c, text, head)
    r = FIRST_DATA_ROW
    for r, values in enumerate(rows.iter_rows(), start=FIRST_DATA_ROW):
        for c, value in enumerate(values):
            if value is not None:
                sheet.write_string(r, c, value)
    summary = r + 1 if rows.height else FIRST_DATA_ROW
    sheet.write_string(summary, 0, "合计", bold)
    sheet.write_string(summary, 1, f"共{rows.height}条")
    sheet.write_string(summary, len(COLUMN_HEADER) - 1, header["stated_total"], bold)
    sheet.set_column(1, 1, 22)
    sheet.set_column(2, 8, 12)
    book.close()
    return buffer.getvalue()


def write(headers: pl.DataFrame, lines: pl.DataFrame, layout: DataLayout) -> list[Path]:
    """One `bills/inbox/YUNEXPRESS/<bill_number>.xlsx` per bill."""
    folder = carrier_dir(layout.bills_inbox, "YUNEXPRESS")
    by_bill = lines.partition_by("bill_number", as_dict=True)
    paths = []
    for header in as_text(headers).iter_rows(named=True):
        bill_lines = by_bill.get((header["bill_number"],), lines.clear())
        path = folder / f"{header['bill_number']}.xlsx"
        write_bytes(path, workbook_bytes(header, data_rows(bill_lines)))
        paths.append(path)
    return paths
