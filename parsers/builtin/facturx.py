"""Factur-X / ZUGFeRD / XRechnung PDFs: read the embedded invoice XML, and check the page.

The XML is the legal invoice; the PDF page is its picture, and the two must agree.
The attachment is looked for by its conventional names first (factur-x.xml,
zugferd-invoice.xml, ZUGFeRD-invoice.xml, xrechnung.xml, order-x.xml), then among
every other XML attachment for a UBL or CII invoice (a PDF that embeds a UBL
invoice as `invoice.xml` is still an e-invoice). The factur-x library extracts the
named ones (without XSD checks: the footing rule is ours, and a slightly invalid
invoice is still an invoice; and without its schematron check, which would send the
XML to a Saxon server); it parses the attachment itself to recognise it, so it runs
with our hardened parser as lxml's default (parsers/safe_xml.py), and the bytes it
returns are read by parse_bytes.

The cross-check: the page's text (pypdf) must show the XML's invoice number and one
of its document totals (net, gross or payable, in any usual number format). A page
that shows neither is refused as `visible_mismatch`, naming what is missing: an
invoice whose picture says something else than its data is not paid from the data
without a word. A PDF without a text layer (a scan) cannot be checked; that is a
warning on the result.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from facturx import get_xml_from_pdf
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from parsers.base import Candidate, ParseContext, Parser, Sniff
from parsers.builtin.en16931 import document_kind, einvoice_bill, einvoice_result, visible_totals
from parsers.model import BillParseError, ParseResult
from parsers.safe_xml import hardened_default_parser, parse_bytes

INVOICE_ATTACHMENTS = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml", "order-x.xml")
PRINTED_NUMBER = re.compile(r"\d{1,3}(?:[.,'\u00a0 ]\d{3})+(?:[.,]\d{1,4})?|\d+(?:[.,]\d{1,4})?")
"""A number as pages print it: 1234.56, 1,234.56, 1.234,56, 1 234,56, 1'234.56."""


def embedded_invoice(path: Path, name: str) -> tuple[str, bytes]:
    """(attachment name, XML bytes); BillParseError names what is wrong with the PDF.

    factur-x finds the attachment by name, keeping only well-formed XML whose root fits
    the name (CII for factur-x.xml, the Order-X root for order-x.xml); anything else is
    `no_embedded_xml`. It does not tell a damaged PDF from a sound one, so a strict pypdf
    read does, and also lists the attachments for the reason when there is no invoice."""
    for logger in ("pypdf", "factur-x"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    damage = None
    attachments: dict[str, list[bytes]] = {}
    try:
        attachments = dict(PdfReader(path, strict=True).attachments)
    except (PdfReadError, ValueError, KeyError) as exc:
        damage = str(exc)
    try:
        with path.open("rb") as fh, hardened_default_parser():
            attached, data = get_xml_from_pdf(
                fh, check_xsd=False, filenames=list(INVOICE_ATTACHMENTS)
            )
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise BillParseError("corrupt_pdf", f"{name} cannot be read as a PDF: {exc}") from exc
    if attached:
        return attached, data
    for other in sorted(attachments):
        if other.lower().endswith(".xml"):
            for blob in attachments[other]:
                if _is_invoice(blob, f"{name}:{other}"):
                    return other, blob
    if damage:
        raise BillParseError(
            "corrupt_pdf", f"{name} is a damaged PDF ({damage}) with no embedded invoice XML"
        )
    raise BillParseError(
        "no_embedded_xml",
        f"{name} has no embedded Factur-X/ZUGFeRD XML nor any UBL/CII invoice "
        f"(attachments: {sorted(attachments)})",
    )


def _is_invoice(data: bytes, name: str) -> bool:
    try:
        document_kind(parse_bytes(data, name))
    except BillParseError:
        return False
    return True


def printed_amounts(text: str) -> set[Decimal]:
    """Every number on the page, read both as dot-decimal and as comma-decimal (the check
    asks only whether a total is shown, so an ambiguous '1.234' may be either)."""
    found: set[Decimal] = set()
    for token in PRINTED_NUMBER.findall(text):
        for group, point in ((",", "."), (".", ",")):
            plain = re.sub(f"[{re.escape(group)}'\u00a0 ]", "", token).replace(point, ".")
            try:
                found.add(Decimal(plain))
            except InvalidOperation:
                continue
    return found


def cross_check(path: Path, name: str, number: str, totals: list[str]) -> str | None:
    """BillParseError `visible_mismatch` when the page does not show the invoice number or
    any of the totals; a warning (returned) when the PDF has no text to check."""
    try:
        text = "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        return f"visible text not cross-checked: the pages cannot be read ({exc})"
    if not text.strip():
        return "visible text not cross-checked: the PDF has no text layer"
    squeezed = re.sub(r"\s+", "", text)
    if re.sub(r"\s+", "", number) not in squeezed:
        raise BillParseError(
            "visible_mismatch",
            f"{name}: the embedded XML is invoice {number!r}, but the printed page does not "
            "show that number",
        )
    stated = {abs(Decimal(t)) for t in totals}
    if stated and not stated & printed_amounts(text):
        shown = ", ".join(sorted({str(t) for t in stated}))
        raise BillParseError(
            "visible_mismatch",
            f"{name}: invoice {number}: none of the embedded XML's totals ({shown}) appears "
            "on the printed page",
        )
    return None


class FacturX(Parser):
    name = "factur-x"
    version = "2"
    formats = ("pdf",)
    description = "Factur-X/ZUGFeRD/XRechnung PDF: the embedded invoice, checked against its page"

    def sniff(self, candidate: Candidate, template=None) -> Sniff:
        if not candidate.head.startswith(b"%PDF"):
            return Sniff(0.0, "not a PDF")
        try:
            name, _ = embedded_invoice(candidate.path, candidate.name)
        except BillParseError as exc:
            return Sniff(0.0, exc.reason, exc.code if exc.code == "corrupt_pdf" else None)
        return Sniff(0.95, f"PDF embeds {name}")

    def parse(self, path: Path, ctx: ParseContext, template=None) -> ParseResult:
        name, data = embedded_invoice(path, ctx.source_name)
        root = parse_bytes(data, f"{ctx.source_name}:{name}")
        bill = einvoice_bill(root, ctx)
        warning = cross_check(path, ctx.source_name, bill.bill_number, visible_totals(root))
        if warning:
            bill.warnings.append(warning)
        return einvoice_result(self, root, ctx, bill)
