"""Factur-X / ZUGFeRD PDFs: read the embedded CII XML, never the printed text.

The XML is the legal invoice; the PDF page is only its picture. The attachment
is picked by its conventional names (factur-x.xml, zugferd-invoice.xml,
ZUGFeRD-invoice.xml, xrechnung.xml, order-x.xml); supplementary attachments are
ignored. The factur-x library extracts it (without XSD checks: the footing rule
is ours, and a slightly invalid invoice is still an invoice; and without its
schematron check, which would send the XML to a Saxon server); it parses the
attachment itself to recognise it, so it runs with our hardened parser as lxml's
default (parsers/safe_xml.py), and the bytes it returns are read by parse_bytes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from facturx import get_xml_from_pdf
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from parsers.base import Candidate, ParseContext, Parser, Sniff
from parsers.builtin.en16931 import einvoice_result
from parsers.model import BillParseError, ParseResult
from parsers.safe_xml import hardened_default_parser, parse_bytes

INVOICE_ATTACHMENTS = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml", "order-x.xml")


def embedded_invoice(path: Path, name: str) -> tuple[str, bytes]:
    """(attachment name, XML bytes); BillParseError names what is wrong with the PDF.

    factur-x finds the attachment by name, keeping only well-formed XML whose root fits
    the name (CII for factur-x.xml, the Order-X root for order-x.xml); anything else is
    `no_embedded_xml`. It does not tell a damaged PDF from a sound one, so a strict pypdf
    read does, and also lists the attachments for the reason when there is no invoice."""
    for logger in ("pypdf", "factur-x"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    damage = None
    attachments: list[str] = []
    try:
        attachments = sorted(PdfReader(path, strict=True).attachments)
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
    if damage:
        raise BillParseError(
            "corrupt_pdf", f"{name} is a damaged PDF ({damage}) with no embedded invoice XML"
        )
    raise BillParseError(
        "no_embedded_xml",
        f"{name} has no embedded Factur-X/ZUGFeRD XML (attachments: {attachments})",
    )


class FacturX(Parser):
    name = "factur-x"
    version = "1"
    formats = ("pdf",)
    description = "Factur-X / ZUGFeRD PDF: the embedded CII invoice XML"

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
        return einvoice_result(self, parse_bytes(data, f"{name}:{name}"), ctx)
