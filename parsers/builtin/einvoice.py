"""EN 16931 e-invoices as XML files: UBL 2.1 Invoice/CreditNote and UN/CEFACT CII.

The mapping to canonical lines is en16931.py's (docs/parsers.md, "Generic
invoices"); this parser only recognises the document and reads it with the
hardened XML reader.
"""

from __future__ import annotations

from pathlib import Path

from parsers.base import Candidate, ParseContext, Parser, Sniff
from parsers.builtin.en16931 import CII_ROOTS, UBL_NS, einvoice_result
from parsers.model import ParseResult
from parsers.safe_xml import parse_bytes


class EInvoiceXml(Parser):
    name = "en16931-xml"
    version = "1"
    formats = ("xml",)
    description = "UBL 2.1 Invoice/CreditNote and UN/CEFACT CII invoices (EN 16931)"

    def sniff(self, candidate: Candidate, template=None) -> Sniff:
        text = candidate.text
        if not text.lstrip("\ufeff \r\n\t").startswith("<"):
            return Sniff(0.0, "not XML")
        if UBL_NS + "Invoice-2" in text or UBL_NS + "CreditNote-2" in text:
            return Sniff(0.9, "UBL 2.1 Invoice/CreditNote namespace")
        if any(f":{root}" in text or f"<{root}" in text for root in CII_ROOTS):
            return Sniff(0.9, "UN/CEFACT CII root element")
        return Sniff(0.0, "XML, but no UBL or CII root")

    def parse(self, path: Path, ctx: ParseContext, template=None) -> ParseResult:
        return einvoice_result(self, parse_bytes(path.read_bytes(), ctx.source_name), ctx)
