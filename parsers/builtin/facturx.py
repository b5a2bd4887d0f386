"""Factur-X / ZUGFeRD PDFs: read the embedded CII XML, never the printed text.

The XML is the legal invoice; the PDF page is only its picture. The attachment
is picked by its conventional names (factur-x.xml, zugferd-invoice.xml,
ZUGFeRD-invoice.xml, xrechnung.xml); supplementary attachments are ignored.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from parsers.base import Candidate, ParseContext, Parser, Sniff
from parsers.builtin.en16931 import einvoice_result
from parsers.model import BillParseError, ParseResult
from parsers.safe_xml import parse_bytes

INVOICE_ATTACHMENTS = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml", "order-x.xml")


def embedded_invoice(path: Path, name: str) -> tuple[str, bytes]:
    """(attachment name, XML bytes); BillParseError names what is wrong with the PDF."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    damage = None
    try:
        PdfReader(path, strict=True).attachments  # noqa: B018 - strict read detects damage
    except (PdfReadError, ValueError, KeyError) as exc:
        damage = str(exc)
    try:
        attachments = PdfReader(path).attachments
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise BillParseError("corrupt_pdf", f"{name} cannot be read as a PDF: {exc}") from exc
    for attached, blobs in attachments.items():
        if attached.lower() in INVOICE_ATTACHMENTS and blobs:
            return attached, blobs[0]
    if damage:
        raise BillParseError(
            "corrupt_pdf", f"{name} is a damaged PDF ({damage}) with no embedded invoice XML"
        )
    raise BillParseError(
        "no_embedded_xml",
        f"{name} has no embedded Factur-X/ZUGFeRD XML (attachments: {sorted(attachments)})",
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
