"""EN 16931 e-invoices as XML files: UBL 2.1 Invoice/CreditNote/DebitNote/FreightInvoice and
UN/CEFACT CII.

The mapping to canonical lines is en16931.py's (docs/parsers.md, "Generic
invoices"); this parser only recognises the document and reads it with the
hardened XML reader. Other UBL documents (an Order, a Catalogue) and Order-X orders
are recognised too, so that they are refused as what they are (`not_a_bill`) rather
than as "no parser".
"""

from __future__ import annotations

from pathlib import Path

from parsers.base import Candidate, ParseContext, Parser, Sniff
from parsers.builtin.en16931 import CII_ROOTS, ORDER_X_ROOT, UBL_BILLS, UBL_NS, einvoice_result
from parsers.model import ParseResult
from parsers.safe_xml import parse_bytes


class EInvoiceXml(Parser):
    name = "en16931-xml"
    version = "2"
    formats = ("xml",)
    description = "UBL 2.1 Invoice/CreditNote/DebitNote/FreightInvoice, UN/CEFACT CII (EN 16931)"

    def sniff(self, candidate: Candidate, template=None) -> Sniff:
        text = candidate.text
        if not text.lstrip("\ufeff \r\n\t").startswith("<"):
            return Sniff(0.0, "not XML")
        for root in UBL_BILLS:
            if f"{UBL_NS}{root}-2" in text:
                return Sniff(0.9, f"UBL 2.1 {root} namespace")
        if any(f":{root}" in text or f"<{root}" in text for root in CII_ROOTS):
            return Sniff(0.9, "UN/CEFACT CII root element")
        if UBL_NS in text or ORDER_X_ROOT in text:
            return Sniff(0.5, "a UBL or Order-X document that is not a bill (refused by parse)")
        return Sniff(0.0, "XML, but no UBL or CII root")

    def parse(self, path: Path, ctx: ParseContext, template=None) -> ParseResult:
        return einvoice_result(self, parse_bytes(path.read_bytes(), ctx.source_name), ctx)
