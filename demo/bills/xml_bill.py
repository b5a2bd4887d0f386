"""FOURPX: a namespaced XML statement, one element per charge (demo/bills/FORMATS.md, "FOURPX").

The default namespace is the realistic trap: an XPath without the namespace
finds nothing, and a parser that then reports "no lines" instead of failing
would silently drop a bill (DOMAIN.md: nothing is silently dropped).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from lxml import etree

from demo.bills import codes
from demo.bills._common import as_text, carrier_dir
from storage.files import write_bytes
from storage.layout import DataLayout

NAMESPACE = "urn:4px:billing:statement:1.0"


def _el(parent: etree._Element, tag: str, text: str | None, **attrib: str) -> None:
    if text is not None:
        child = etree.SubElement(parent, f"{{{NAMESPACE}}}{tag}", attrib)
        child.text = text


def statement(header: dict, lines: pl.DataFrame) -> etree._Element:
    """The `<BillStatement>` tree of one bill; `lines` are that bill's lines, all text."""
    root = etree.Element(
        f"{{{NAMESPACE}}}BillStatement", {"version": "1.0"}, nsmap={None: NAMESPACE}
    )
    head = etree.SubElement(root, f"{{{NAMESPACE}}}StatementHeader")
    _el(head, "StatementNo", header["bill_number"])
    _el(head, "CustomerCode", header["account"])
    _el(head, "StatementDate", header["bill_date"])
    if header["period_start"] is not None or header["period_end"] is not None:
        period = etree.SubElement(head, f"{{{NAMESPACE}}}BillingPeriod")
        _el(period, "From", header["period_start"])
        _el(period, "To", header["period_end"])
    _el(head, "Currency", header["currency"])
    _el(head, "TotalAmount", header["stated_total"])
    _el(head, "ChargeCount", str(lines.height))
    charges = etree.SubElement(root, f"{{{NAMESPACE}}}ChargeList")
    currency = header["currency"]
    for row in lines.iter_rows(named=True):
        code, name = codes.FOURPX[row["charge_type"]]
        charge = etree.SubElement(charges, f"{{{NAMESPACE}}}Charge", {"seq": row["line_number"]})
        _el(charge, "WaybillNo", row["tracking_number"])
        _el(charge, "ShipDate", row["shipment_date"])
        _el(charge, "DestinationCountry", row["destination_country"])
        _el(charge, "Zone", row["zone"])
        _el(charge, "ChargeableWeight", row["billed_weight_kg"], unit="KG")
        _el(charge, "FeeCode", code)
        _el(charge, "FeeName", name)
        _el(charge, "Amount", row["amount"], currency=currency)
    return root


def write(headers: pl.DataFrame, lines: pl.DataFrame, layout: DataLayout) -> list[Path]:
    """One `bills/inbox/FOURPX/<bill_number>.xml` per bill, UTF-8, pretty-printed."""
    folder = carrier_dir(layout.bills_inbox, "FOURPX")
    by_bill = as_text(lines.sort("bill_number", "line_number")).partition_by(
        "bill_number", as_dict=True
    )
    empty = as_text(lines.clear())
    paths = []
    for header in as_text(headers).iter_rows(named=True):
        bill_lines = by_bill.get((header["bill_number"],), empty)
        tree = statement(header, bill_lines)
        data = etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        path = folder / f"{header['bill_number']}.xml"
        write_bytes(path, data)
        paths.append(path)
    return paths
