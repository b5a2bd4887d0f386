"""The EN 16931 invoice mapping: UBL 2.1 Invoice/CreditNote/DebitNote/FreightInvoice and
UN/CEFACT CII (incl. ZUGFeRD 1.0) trees -> canonical frames, shared by the plain-XML parser
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
A credit note (UBL CreditNote, CII type 381) is negated: it reduces what is owed; a
debit note adds to it. The currency is the document's currency code, else the one
currency every amount's `currencyID` names; an amount in another currency, or no
currency at all, is refused (never an empty currency). Header-only profiles (Factur-X
MINIMUM and BASIC WL) are refused naming the profile: they carry totals, not lines.

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
UBL_BILLS = {
    "Invoice": ("InvoiceLine", "LegalMonetaryTotal", 1),
    "CreditNote": ("CreditNoteLine", "LegalMonetaryTotal", -1),
    "DebitNote": ("DebitNoteLine", "RequestedMonetaryTotal", 1),
    "FreightInvoice": ("InvoiceLine", "LegalMonetaryTotal", 1),
}
"""UBL 2.1 documents that are bills: root -> (line element, total element, sign)."""
ORDER_X_ROOT = "SCRDMCCBDACIOMessageStructure"
HEADER_ONLY_PROFILES = {"minimum": "MINIMUM", "basicwl": "BASIC WL"}
"""Factur-X profiles (in the guideline id) that carry header totals and no lines."""
VISIBLE_TOTALS = (
    "TaxExclusiveAmount",
    "TaxInclusiveAmount",
    "PayableAmount",
    "TaxBasisTotalAmount",
    "GrandTotalAmount",
    "DuePayableAmount",
    "LineTotalAmount",
)
"""Document totals one of which the printed page of a PDF invoice must show."""


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


def ubl_currency(root: etree._Element, number: str) -> str:
    """The document currency code, else the single currency of every amount's currencyID.

    An amount in another currency than the document's (tax amounts aside: EN 16931
    allows a separate tax currency) or a document with no currency at all is refused."""
    tree = root.getroottree()
    stated = _first(root, "DocumentCurrencyCode")
    amounts = [
        el
        for el in root.iter()
        if isinstance(el.tag, str)
        and el.get("currencyID") is not None
        and "TaxTotal" not in {_local(a) for a in el.iterancestors()}
    ]
    named = {el.get("currencyID", "").strip() for el in amounts} - {""}
    if stated:
        other = [el for el in amounts if el.get("currencyID", "").strip() not in ("", stated)]
        if other:
            raise BillParseError(
                "invalid_value",
                f"invoice {number}: amount in {other[0].get('currencyID')!r}, the document "
                f"currency is {stated!r}",
                f"xpath={tree.getpath(other[0])}",
            )
        return stated
    if len(named) == 1:
        return named.pop()
    if named:
        raise BillParseError(
            "invalid_value",
            f"invoice {number}: no DocumentCurrencyCode and amounts in several currencies "
            f"{sorted(named)}",
        )
    raise BillParseError(
        "missing_field",
        f"invoice {number}: no DocumentCurrencyCode and no currencyID on any amount",
    )


def ubl_bill(root: etree._Element, ctx: ParseContext) -> RawBill:
    kind = _local(root)
    line_tag, total_tag, sign = UBL_BILLS[kind]
    credit = sign < 0
    number = _first(root, "ID") or ""
    tree = root.getroottree()
    rows: list[dict[str, str | None]] = []
    for line in _all(root, line_tag):
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
    total = _first(root, f"{total_tag}/TaxExclusiveAmount")
    return RawBill(
        carrier=_carrier(
            _first(root, "AccountingSupplierParty/Party/PartyLegalEntity/RegistrationName")
            or _first(root, "AccountingSupplierParty/Party/PartyName/Name"),
            ctx.carrier_hint,
        ),
        account=_first(root, "AccountingCustomerParty/Party/PartyIdentification/ID"),
        bill_number=number,
        bill_date=parse_date_text(_first(root, "IssueDate")),
        currency=ubl_currency(root, number),
        period_start=parse_date_text(_first(root, "InvoicePeriod/StartDate")),
        period_end=parse_date_text(_first(root, "InvoicePeriod/EndDate")),
        stated_total=_negate(total) if credit else total,
        lines=raw_lines(rows),
    )


def _cii_date(text: str | None):
    return parse_date_text(text, ("%Y%m%d", "%Y-%m-%d"))


def _cii_currency(settlement: etree._Element, number: str) -> str:
    currency = _first(settlement, "InvoiceCurrencyCode")
    if not currency:
        raise BillParseError("missing_field", f"invoice {number}: no InvoiceCurrencyCode")
    return currency


def cii_bill(root: etree._Element, ctx: ParseContext) -> RawBill:
    """A CII invoice (D16B, or the older ZUGFeRD 1.0 names) -> one raw bill."""
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
    items = _all(transaction, "IncludedSupplyChainTradeLineItem")
    if not items:
        _refuse_header_only_profile(root, number)
    warnings: list[str] = []
    rows = _cii_item_rows(items, number, credit, tree, warnings)
    rows += _cii_charge_rows(settlement, number, credit, tree)
    if not rows:
        raise BillParseError("no_lines", f"invoice {number} has no line items")
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
        currency=_cii_currency(settlement, number),
        period_start=_cii_date(_first(period[0], "StartDateTime/DateTimeString"))
        if period
        else None,
        period_end=_cii_date(_first(period[0], "EndDateTime/DateTimeString")) if period else None,
        stated_total=_negate(total) if credit else total,
        lines=raw_lines(rows),
        warnings=warnings,
    )


def _refuse_header_only_profile(root: etree._Element, number: str) -> None:
    """An invoice without line items in a header-only Factur-X profile (MINIMUM, BASIC WL)
    is refused naming the profile: its totals have no lines to be checked against."""
    profile = " ".join(
        el.text or ""
        for el in root.xpath(
            "//*[local-name()='GuidelineSpecifiedDocumentContextParameter']/*[local-name()='ID']"
        )
    )
    header_only = next((v for k, v in HEADER_ONLY_PROFILES.items() if k in profile.lower()), None)
    if header_only:
        raise BillParseError(
            "no_lines",
            f"invoice {number} is a Factur-X {header_only} profile ({profile.strip()}): "
            "header totals only, no line items to check them against",
        )


def _cii_item_rows(
    items: list[etree._Element],
    number: str,
    credit: bool,
    tree: etree._ElementTree,
    warnings: list[str],
) -> list[dict[str, str | None]]:
    """One raw line per CII line item (its LineTotalAmount, negated on a credit note).

    A note-only item (no product, no amount) is skipped with a warning; an item with a
    product but no LineTotalAmount is refused, since its amount would be lost."""
    rows: list[dict[str, str | None]] = []
    for item in items:
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
    return rows


def _cii_charge_rows(
    settlement: etree._Element, number: str, credit: bool, tree: etree._ElementTree
) -> list[dict[str, str | None]]:
    """Document-level charges (positive), allowances (negative) and logistics service
    charges (freight) as lines on the invoice number, each negated on a credit note."""
    rows: list[dict[str, str | None]] = []
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
    return rows


def document_kind(root: etree._Element) -> str:
    """'ubl' or 'cii' for a bill; BillParseError `not_a_bill` naming any other document."""
    name = _local(root)
    ubl = (etree.QName(root).namespace or "").startswith(UBL_NS)
    if ubl and name in UBL_BILLS:
        return "ubl"
    if name in CII_ROOTS:
        return "cii"
    if ubl:
        raise BillParseError(
            "not_a_bill",
            f"UBL {name} is not an invoice (reckon reads {', '.join(UBL_BILLS)})",
        )
    if name == ORDER_X_ROOT:
        raise BillParseError("not_a_bill", "an Order-X order is not an invoice")
    raise BillParseError("not_a_bill", f"root element {name!r} is neither a UBL nor a CII invoice")


def einvoice_bill(root: etree._Element, ctx: ParseContext) -> RawBill:
    return ubl_bill(root, ctx) if document_kind(root) == "ubl" else cii_bill(root, ctx)


def visible_totals(root: etree._Element) -> list[str]:
    """The document totals (net, gross, payable) as stated, for the PDF cross-check."""
    xp = " | ".join(f"//*[local-name()='{name}']" for name in VISIBLE_TOTALS)
    return [el.text.strip() for el in root.xpath(xp) if el.text and el.text.strip()]


def einvoice_result(
    parser: Parser, root: etree._Element, ctx: ParseContext, bill: RawBill | None = None
) -> ParseResult:
    bill = bill or einvoice_bill(root, ctx)
    return canonical_frames([bill], parser.provenance(ctx, None), code_map=EINVOICE_CHARGE_CODES)
