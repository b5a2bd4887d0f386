"""Independent readers of the demo bill files, with plain libraries only.

They deliberately do not use the parser engineer's code: they are the writers'
round-trip oracle, reading each file the way FORMATS.md says it is laid out.
Each returns (header dict, canonical line tuples in line order).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import fastexcel
import pdfplumber
from lxml import etree

from demo.bills import codes

Line = tuple  # (line_number, tracking, ship_date, weight, zone, country, charge_type, amount)


def _reverse(mapping: dict, index: int) -> dict:
    return {v[index]: k for k, v in mapping.items()}


def _day(text: str | None, fmt: str = "%Y-%m-%d") -> date | None:
    return datetime.strptime(text, fmt).date() if text else None


def _dec(text: str | None) -> Decimal | None:
    return Decimal(text) if text else None


def read_dhl(path: Path) -> tuple[dict, list[Line]]:
    text = path.read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    by_code = _reverse(codes.DHL, 0)
    lines: list[Line] = []
    for row in rows[:-1]:
        assert row["Line Type"] == "S"
        for n in range(1, 11):
            code = row[f"Charge {n} Code"]
            if not code:
                continue
            lines.append(
                (
                    len(lines) + 1,
                    row["Shipment Number"],
                    _day(row["Shipment Date"], "%Y%m%d"),
                    _dec(row["Weight"]),
                    row["Zone"] or None,
                    row["Dest Country Code"],
                    by_code[code],
                    Decimal(row[f"Charge {n} Amount"]),
                )
            )
    total = rows[-1]
    header = {
        "bill_number": total["Invoice Number"],
        "account": total["Billing Account"] or None,
        "bill_date": _day(total["Invoice Date"], "%Y%m%d"),
        "period_start": _day(total["Billing Period Start"], "%Y%m%d"),
        "period_end": _day(total["Billing Period End"], "%Y%m%d"),
        "currency": total["Currency"],
        "stated_total": Decimal(total["Total Charge"]),
    }
    return header, lines


def _ups_header(invoice: dict) -> dict:
    return {
        "bill_number": invoice["invoiceNumber"],
        "account": invoice["accountNumber"],
        "bill_date": _day(invoice["invoiceDate"]),
        "period_start": _day(invoice["billingPeriod"]["start"]),
        "period_end": _day(invoice["billingPeriod"]["end"]),
        "currency": invoice["currencyCode"],
        "stated_total": Decimal(invoice["invoiceAmount"]),
    }


def _ups_line(item: dict) -> Line:
    by_class = _reverse(codes.UPS, 1)
    return (
        item["lineNumber"],
        item["trackingNumber"],
        _day(item["shipmentDate"]),
        _dec(item["billedWeight"]),
        item["zone"],
        item["receiverCountry"],
        by_class[item["chargeClassificationCode"]],
        Decimal(item["netAmount"]),
    )


def read_ups_source(path: Path) -> tuple[dict, list[Line]]:
    document = json.loads(path.read_bytes())
    return _ups_header(document["invoice"]), [_ups_line(i) for i in document["charges"]]


def read_ups_envelope(path: Path) -> tuple[dict, list[Line], list[str]]:
    """Header, lines, and each line's locator `api_page=N;index=i`."""
    envelope = json.loads(path.read_bytes())
    assert envelope["envelope"] == "reckon.api_bill/1"
    header, lines, locators = None, [], []
    for page in envelope["pages"]:
        body = json.loads(page["body"])
        header = header or _ups_header(body["invoice"])
        for i, item in enumerate(body["charges"]):
            lines.append(_ups_line(item))
            locators.append(f"api_page={page['api_page']};index={i}")
    return header, lines, locators


NS = {"s": "urn:4px:billing:statement:1.0"}


def read_fourpx(path: Path) -> tuple[dict, list[Line]]:
    root = etree.parse(str(path)).getroot()
    by_code = _reverse(codes.FOURPX, 0)

    def text(node, xpath: str) -> str | None:
        found = node.find(xpath, NS)
        return None if found is None else found.text

    head = root.find("s:StatementHeader", NS)
    header = {
        "bill_number": text(head, "s:StatementNo"),
        "account": text(head, "s:CustomerCode"),
        "bill_date": _day(text(head, "s:StatementDate")),
        "period_start": _day(text(head, "s:BillingPeriod/s:From")),
        "period_end": _day(text(head, "s:BillingPeriod/s:To")),
        "currency": text(head, "s:Currency"),
        "stated_total": Decimal(text(head, "s:TotalAmount")),
    }
    lines = [
        (
            int(c.get("seq")),
            text(c, "s:WaybillNo"),
            _day(text(c, "s:ShipDate")),
            _dec(text(c, "s:ChargeableWeight")),
            text(c, "s:Zone"),
            text(c, "s:DestinationCountry"),
            by_code[text(c, "s:FeeCode")],
            Decimal(text(c, "s:Amount")),
        )
        for c in root.iterfind("s:ChargeList/s:Charge", NS)
    ]
    return header, lines


def read_yunexpress(path: Path) -> tuple[dict, list[Line], list[list]]:
    """Header, lines, and the raw grid (for layout checks)."""
    sheet = fastexcel.read_excel(str(path)).load_sheet("账单明细", header_row=None, dtypes="string")
    grid = [list(r) for r in sheet.to_polars().rows()]
    by_code = _reverse(codes.YUNEXPRESS, 0)
    header = {
        "bill_number": grid[1][1],
        "account": grid[1][3],
        "bill_date": _day(grid[2][1]),
        "period_start": _day(grid[1][5]),
        "period_end": _day(grid[2][5]),
        "currency": grid[2][3],
        "stated_total": Decimal(grid[-1][8]),
    }
    lines = [
        (int(r[0]), r[1], _day(r[2]), _dec(r[5]), r[4], r[3], by_code[r[6]], Decimal(r[8]))
        for r in grid[5:-1]
    ]
    return header, lines, grid


ROW = re.compile(r"^(\d+) (\S+) (\S+) (\S+) (\S+) (\S+) ([A-Z]{3}) (.+) (-?\d+\.\d{2})$")


def read_yanwen(path: Path) -> tuple[dict, list[Line], list[str]]:
    """Header, lines, and each page's extracted text (for layout checks)."""
    with pdfplumber.open(path) as pdf:
        pages = [p.extract_text() for p in pdf.pages]
    by_code = _reverse(codes.YANWEN, 0)
    facts = dict(
        re.findall(
            r"^(Bill No\.|Bill Date|Account|Period|Currency|Total Amount): (.*)$", pages[0], re.M
        )
    )
    start, end = facts["Period"].split(" to ")

    def dash(value: str) -> str | None:
        return None if value == "-" else value

    header = {
        "bill_number": facts["Bill No."],
        "account": dash(facts["Account"]),
        "bill_date": _day(facts["Bill Date"]),
        "period_start": _day(dash(start)),
        "period_end": _day(dash(end)),
        "currency": facts["Currency"],
        "stated_total": Decimal(facts["Total Amount"]),
    }
    lines = []
    for text in pages[:-1]:
        for row in text.splitlines():
            m = ROW.match(row)
            if m:
                no, trk, day, country, zone, weight, code, _desc, amount = m.groups()
                lines.append(
                    (
                        int(no),
                        trk,
                        _day(dash(day)),
                        _dec(dash(weight)),
                        dash(zone),
                        country,
                        by_code[code],
                        Decimal(amount),
                    )
                )
    return header, lines, pages
