"""ANSI X12 210 (motor) and 110 (air) freight invoices.

Delimiters are read from the fixed-width ISA header (element separator at byte
3, segment terminator at byte 105), never assumed: the DB Schenker sample ends
segments with '.', not '~'. Money elements (B3-07, L1-04) are N2, two implied
decimals. One ST..SE transaction is one bill; its L1 charges must sum to B3-07
(the footing rule, checked by validation like every stated total). Any other
transaction set (214, 810, 850...) is refused as `not_a_bill`, naming the set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl

from parsers.base import Candidate, ParseContext, Parser, Sniff
from parsers.encoding import decode_text
from parsers.model import BillParseError, ParseResult, RawBill, canonical_frames, raw_lines

X12_CHARGE_CODES = {
    "400": "FREIGHT",
    "405": "FUEL",
    "FUE": "FUEL",
    "RES": "RESIDENTIAL",
    "ADC": "ADDRESS_CORRECTION",
}
"""X12 special-charge codes (element 150) we can name with confidence; other codes
map by description or to OTHER. An L1 with no code is the base rate: FREIGHT."""

FREIGHT_INVOICES = ("210", "110")
"""Transaction sets that are freight invoices (motor, air); any other is refused by name."""
TRACKING_QUALIFIERS = ("AW", "WY", "CN", "BM")
"""N9 qualifiers that identify the shipment, most specific first: air waybill,
waybill, carrier reference (PRO), bill of lading."""


def implied2(text: str, locator: str | None = None) -> str:
    """N2 element -> decimal text: '4640' -> '46.40', '-1010' -> '-10.10'."""
    value = text.strip()
    if re.fullmatch(r"-?\d*\.\d+", value):
        return value
    if not re.fullmatch(r"-?\d+", value):
        raise BillParseError("invalid_value", f"X12 amount {value!r} is not a number", locator)
    return str(Decimal(value).scaleb(-2))


def x12_date(text: str) -> date:
    fmt = "%Y%m%d" if len(text) == 8 else "%y%m%d"
    try:
        return datetime.strptime(text, fmt).date()
    except ValueError as exc:
        raise BillParseError("invalid_value", f"X12 date {text!r} is not CCYYMMDD/YYMMDD") from exc


def split_segments(text: str, name: str) -> tuple[list[list[str]], str]:
    body = text.lstrip("\ufeff \r\n\t")
    if not body.startswith("ISA") or len(body) < 106:
        raise BillParseError("malformed_edi", f"{name} does not start with a 106-byte ISA header")
    element, terminator = body[3], body[105]
    segments = [s.strip() for s in body.split(terminator)]
    return [s.split(element) for s in segments if s], element


@dataclass
class _Shipment:
    """The LX loop being read: its number and the shipment fields its L1 charges carry."""

    lx: str | None = None
    tracking: str | None = None
    ship_date: str | None = None
    weight: str | None = None
    unit: str | None = None


@dataclass
class _Transaction:
    kind: str
    shipment: _Shipment = field(default_factory=_Shipment)
    header: dict[str, list[str]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    currency: str | None = None
    rows: list[dict[str, str | None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _el(seg: list[str], i: int) -> str:
    return seg[i].strip() if len(seg) > i else ""


class X12FreightInvoice(Parser):
    name = "x12-freight-invoice"
    version = "2"
    formats = ("edi",)
    description = "ANSI X12 210/110 freight invoices (delimiters from ISA, N2 amounts)"

    def sniff(self, candidate: Candidate, template=None) -> Sniff:
        text = candidate.text.lstrip("\ufeff \r\n\t")
        if not text.startswith("ISA") or len(text) < 106:
            return Sniff(0.0, "no ISA interchange header")
        sep = text[3]
        for kind in ("210", "110"):
            if f"ST{sep}{kind}{sep}" in text:
                return Sniff(0.9, f"X12 interchange with an ST*{kind} freight invoice")
        return Sniff(0.1, "X12 interchange, but no 210/110 transaction near the start")

    def parse(self, path: Path, ctx: ParseContext, template=None) -> ParseResult:
        text = decode_text(path.read_bytes(), ctx.source_name, "utf-8")
        segments, _ = split_segments(text, ctx.source_name)
        transactions: list[_Transaction] = []
        sender = ""
        for index, seg in enumerate(segments, start=1):
            tag = seg[0]
            if tag == "GS":
                sender = _el(seg, 2)
            elif tag == "ST":
                if _el(seg, 1) not in FREIGHT_INVOICES:
                    raise BillParseError(
                        "not_a_bill",
                        f"{ctx.source_name}: transaction set {_el(seg, 1)} is not a freight "
                        "invoice (reckon reads X12 210 and 110)",
                        f"segment={index}",
                    )
                transactions.append(_Transaction(kind=_el(seg, 1)))
            elif transactions:  # segments before the first ST carry nothing read
                _read_segment(transactions[-1], tag, seg, index)
        if not transactions:
            raise BillParseError("malformed_edi", f"{ctx.source_name} has no ST transaction")
        bills = [self._bill(tx, sender, ctx, ctx.source_name) for tx in transactions]
        return canonical_frames(bills, self.provenance(ctx, None), code_map=X12_CHARGE_CODES)

    @staticmethod
    def _bill(tx: _Transaction, sender: str, ctx: ParseContext, name: str) -> RawBill:
        b3 = tx.header.get("B3")
        if b3 is None:
            raise BillParseError(
                "malformed_edi", f"{name}: transaction {tx.kind} has no B3 segment"
            )
        fallback = tx.refs.get("WY") or tx.refs.get("BM") or _el(b3, 3) or _el(b3, 2)
        frame = raw_lines(tx.rows, extra=("currency",))
        currencies = {c for c in frame["currency"].drop_nulls().to_list()}
        currency = tx.currency or (currencies.pop() if len(currencies) == 1 else "USD")
        frame = frame.with_columns(pl.col("tracking_number_raw").fill_null(fallback)).drop(
            "currency"
        )
        return RawBill(
            carrier=(_el(b3, 11) or ctx.carrier_hint or sender).upper(),
            bill_number=_el(b3, 2),
            bill_date=x12_date(_el(b3, 6)),
            currency=currency,
            lines=frame,
            stated_total=implied2(_el(b3, 7), "B3-07") if _el(b3, 7) else None,
            warnings=tx.warnings,
        )


def _read_segment(tx: _Transaction, tag: str, seg: list[str], index: int) -> None:
    """One segment of a transaction: B3/C3 header (C3 the currency), N9 references (the
    bill's before any LX, a shipment's tracking number inside one), and the LX loop's
    shipment fields (P1 date, L0 weight) that its L1 charges carry."""
    ship = tx.shipment
    if tag in ("B3", "C3"):
        tx.header[tag] = seg
        if tag == "C3":
            tx.currency = _el(seg, 1)
    elif tag == "LX":
        tx.shipment = _Shipment(lx=_el(seg, 1))
    elif tag == "N9":
        qualifier, value = _el(seg, 1), _el(seg, 2)
        if ship.lx is None:
            tx.refs.setdefault(qualifier, value)
        elif qualifier in TRACKING_QUALIFIERS and ship.tracking is None:
            ship.tracking = value
    elif tag == "P1":
        ship.ship_date = x12_date(_el(seg, 2)).isoformat() if _el(seg, 2) else None
    elif tag == "L0" and _el(seg, 4):
        ship.weight = _el(seg, 4)
        ship.unit = {"L": "LB", "K": "KG"}.get(_el(seg, 11))
    elif tag == "L1":
        _charge(tx, seg, index)


def _charge(tx: _Transaction, seg: list[str], index: int) -> None:
    """An L1 charge as a raw line of the current shipment (N2 amount: two implied
    decimals); an L1 without an amount is a warning, not a zero charge."""
    ship = tx.shipment
    amount = _el(seg, 4)
    locator = f"segment={index};LX={ship.lx}" if ship.lx else f"segment={index}"
    if not amount:
        tx.warnings.append(f"L1 without a charge amount ignored at {locator}")
        return
    code = _el(seg, 8)
    description = _el(seg, 12)
    tx.rows.append(
        {
            "tracking_number_raw": ship.tracking,
            "shipment_date": ship.ship_date,
            "billed_weight": ship.weight if ship.unit else None,
            "weight_unit": ship.unit,
            "charge_type": None if code else "FREIGHT",
            "charge_code": code or _el(seg, 3) or None,
            "charge_description": description
            if description.isascii() and not description.replace(".", "").isdigit()
            else None,
            "amount": implied2(amount, locator),
            "locator": locator,
            "currency": _el(seg, 20) or None,
        }
    )
