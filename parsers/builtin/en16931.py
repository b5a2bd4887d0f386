"""The EN 16931 invoice mapping: UBL 2.1 Invoice/CreditNote and UN/CEFACT CII
(incl. ZUGFeRD 1.0) trees -> canonical frames, shared by the plain-XML parser
(einvoice.py), the Factur-X PDF parser (facturx.py) and, for the charge codes,
the EDIFACT INVOIC parser (edifact.py), so the mapping lives in one place.

These are generic invoices, not carrier bills, so the mapping is a documented
decision (docs/parsers.md): each invoice line is one canonical line (amount =
the line's net amount), each document-level charge is a line (allowances
negative), taxes are not lines, and the stated total is the tax-exclusive
total, so the footing rule (lines sum to the stated total) holds exactly as
EN 16931 defines it. A line's tracking number is its delivery tracking id when
given, else '<invoice number>-<line id>', a synthetic reference that
reconciliation reports as an unknown shipment rather than losing the amount.
A credit note (UBL CreditNote, CII type 381) is negated: it reduces what is owed.

Elements are found by local name so the same code reads CII D16B and the older
ZUGFeRD 1.0 namespace.
"""

from __future__ import annotations

from lxml import etree

from parsers.base import ParseContext, Parser
from parsers.model import (
    BillParseError,
    ParseResult,
    RawBill,
    canonical_frames,
    parse_date_text,
    raw_lines,
)

EINVOICE_CHARGE_CODES = {"FC": "FREIGHT", "ABK": "OTHER"}
"""UNTDID 7161 charge reason codes: FC = freight charge."""

UBL_NS = "urn:oasis:names:specification:ubl:schema:xsd:"
CII_ROOTS = ("CrossIndustryInvoice", "CrossIndustryDocument")


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _first(el: etree._Element, path: str) -> str | None:
    """First text at a local-name path such as 'LegalMonetaryTotal/TaxExclusiveAmount'."""
    xp = "/".join(f"*[local-name()='{step}']" for step in path.split("/"))
    found = el.xpath(xp)
    return found[0].text.strip() if found and found[0].text else None


def _all(el: etree._Element, path: str) -> list[etree._Element]:
    return el.xpath("/".join(f"*[local-name()='{step}']" for step in path.split("/")))


def _negate(amount: str | None) -> str | None:
    if amount is None:
        return None
    return amount[1:] if amount.startswith("-") else "-" + amount


def _carrier(name: str | None, hint: str | None) -> str:
    if hint:
        return hint.upper()
    return "".join(c if c.isalnum() else "_" for c in (name or "UNKNOWN").upper()).strip("_")


def ubl_bill(root: etree._Element, ctx: ParseContext) -> RawBill:
    kind = _local(root)
    credit = kind == "CreditNote"
    number = _first(root, "ID") or ""
    tree = root.getroottree()
    rows: list[dict[str, str | None]] = []
    for line in _all(root, f"{kind}Line"):
        amount = _first(line, "LineExtensionAmount")
        line_id = _first(line, "ID") or str(len(rows) + 1)
        rows.append(
            {
                "tracking_number_raw": _first(line, "Delivery/TrackingID") or f"{number}-{line_id}",
                "charge_code": _first(line, "Item/SellersItemIdentification/ID"),
                "charge_description": _first(line, "Item/Name"),
                "amount": _negate(amount) if credit else amount,
                "locator": f"xpath={tree.getpath(line)}",
                "charge_type": None,
            }
        )
    for charge in _all(root, "AllowanceCharge"):
        is_charge = (_first(charge, "ChargeIndicator") or "").lower() in ("true", "1")
        amount = _first(charge, "Amount")
        signed = amount if is_charge != credit else _negate(amount)
        rows.append(
            {
                "tracking_number_raw": number,
                "charge_code": _first(charge, "AllowanceChargeReasonCode"),
                "charge_description": _first(charge, "AllowanceChargeReason")
                or ("charge" if is_charge else "allowance"),
                "amount": signed,
                "locator": f"xpath={tree.getpath(charge)}",
                "charge_type": None,
            }
        )
    total = _first(root, "LegalMonetaryTotal/TaxExclusiveAmount")
    return RawBill(
        carrier=_carrier(
            _first(root, "AccountingSupplierParty/Party/PartyLegalEntity/RegistrationName")
            or _first(root, "AccountingSupplierParty/Party/PartyName/Name"),
            ctx.carrier_hint,
        ),
        account=_first(root, "AccountingCustomerParty/Party/PartyIdentification/ID"),
        bill_number=number,
        bill_date=parse_date_text(_first(root, "IssueDate")),
        currency=_first(root, "DocumentCurrencyCode") or "",
        period_start=parse_date_text(_first(root, "InvoicePeriod/StartDate")),
        period_end=parse_date_text(_first(root, "InvoicePeriod/EndDate")),
        stated_total=_negate(total) if credit else total,
        lines=raw_lines(rows),
    )


def _cii_date(text: str | None):
    return parse_date_text(text, ("%Y%m%d", "%Y-%m-%d"))


def cii_bill(root: etree._Element, ctx: ParseContext) -> RawBill:
    doc = (_all(root, "ExchangedDocument") or _all(root, "HeaderExchangedDocument"))[0]
    number = _first(doc, "ID") or ""
    credit = _first(doc, "TypeCode") == "381"
    tree = root.getroottree()
    transaction = (
        _all(root, "SupplyChainTradeTransaction")
        or _all(root, "SpecifiedSupplyChainTradeTransaction")
    )[0]
    settlement = (
        _all(transaction, "ApplicableHeaderTradeSettlement")
        or _all(transaction, "ApplicableSupplyChainTradeSettlement")
    )[0]
    profile = " ".join(
        el.text or ""
        for el in root.xpath(
            "//*[local-name()='GuidelineSpecifiedDocumentContextParameter']/*[local-name()='ID']"
        )
    )
    rows: list[dict[str, str | None]] = []
    warnings: list[str] = []
    for item in _all(transaction, "IncludedSupplyChainTradeLineItem"):
        totals = item.xpath(".//*[local-name()='LineTotalAmount']")
        if not totals and not _all(item, "SpecifiedTradeProduct"):
            warnings.append(f"note-only line item skipped at xpath={tree.getpath(item)}")
            continue
        if not totals:
            raise BillParseError(
                "invalid_value",
                "CII line item without LineTotalAmount",
                f"xpath={tree.getpath(item)}",
            )
        line_id = _first(item, "AssociatedDocumentLineDocument/LineID") or str(len(rows) + 1)
        amount = totals[0].text.strip()
        rows.append(
            {
                "tracking_number_raw": f"{number}-{line_id}",
                "charge_code": _first(item, "SpecifiedTradeProduct/SellerAssignedID"),
                "charge_description": _first(item, "SpecifiedTradeProduct/Name"),
                "amount": _negate(amount) if credit else amount,
                "locator": f"xpath={tree.getpath(item)}",
                "charge_type": None,
            }
        )
    for charge in _all(settlement, "SpecifiedTradeAllowanceCharge"):
        is_charge = (_first(charge, "ChargeIndicator/Indicator") or "").lower() == "true"
        amount = _first(charge, "ActualAmount")
        rows.append(
            {
                "tracking_number_raw": number,
                "charge_code": _first(charge, "ReasonCode"),
                "charge_description": _first(charge, "Reason")
                or ("charge" if is_charge else "allowance"),
                "amount": amount if is_charge != credit else _negate(amount),
                "locator": f"xpath={tree.getpath(charge)}",
                "charge_type": None,
            }
        )
    for charge in _all(settlement, "SpecifiedLogisticsServiceCharge"):
        amount = _first(charge, "AppliedAmount")
        rows.append(
            {
                "tracking_number_raw": number,
                "charge_code": None,
                "charge_description": _first(charge, "Description") or "logistics service charge",
                "amount": _negate(amount) if credit else amount,
                "locator": f"xpath={tree.getpath(charge)}",
                "charge_type": "FREIGHT",
            }
        )
    if not rows:
        why = (
            " (Factur-X BASIC WL profile: header totals only)"
            if "basicwl" in profile.lower()
            else ""
        )
        raise BillParseError("no_lines", f"invoice {number} has no line items{why}")
    summation = _all(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation") or _all(
        settlement, "SpecifiedTradeSettlementMonetarySummation"
    )
    total = _first(summation[0], "TaxBasisTotalAmount") if summation else None
    seller = _first(transaction, "ApplicableHeaderTradeAgreement/SellerTradeParty/Name") or _first(
        transaction, "ApplicableSupplyChainTradeAgreement/SellerTradeParty/Name"
    )
    period = _all(settlement, "BillingSpecifiedPeriod")
    return RawBill(
        carrier=_carrier(seller, ctx.carrier_hint),
        bill_number=number,
        bill_date=_cii_date(_first(doc, "IssueDateTime/DateTimeString")),
        currency=_first(settlement, "InvoiceCurrencyCode") or "",
        period_start=_cii_date(_first(period[0], "StartDateTime/DateTimeString"))
        if period
        else None,
        period_end=_cii_date(_first(period[0], "EndDateTime/DateTimeString")) if period else None,
        stated_total=_negate(total) if credit else total,
        lines=raw_lines(rows),
        warnings=warnings,
    )


def einvoice_result(parser: Parser, root: etree._Element, ctx: ParseContext) -> ParseResult:
    name = _local(root)
    if name in ("Invoice", "CreditNote") and (etree.QName(root).namespace or "").startswith(UBL_NS):
        bill = ubl_bill(root, ctx)
    elif name in CII_ROOTS:
        bill = cii_bill(root, ctx)
    else:
        raise BillParseError("unsupported", f"root element {name!r} is neither UBL nor CII")
    return canonical_frames([bill], parser.provenance(ctx, None), code_map=EINVOICE_CHARGE_CODES)
