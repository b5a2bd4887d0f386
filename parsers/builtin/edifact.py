"""UN/EDIFACT INVOIC across directories: the EN 16931 binding (D14B/D16B), D96A, D97A,
D01B (EANCOM) and D03B.

Service characters come from the UNA segment when present (component, element,
decimal mark, release, segment terminator), else the syntax defaults; a released
character ('?+', '?'') is data, not a separator; the text is decoded as the UNB
syntax identifier says (UNOA/UNOB ASCII, UNOC Latin-1, UNOW/UNOY UTF-8...), strictly.
pydifact tokenises (the UNA service string advice, the release character,
segment/element/component splitting); this module maps the segments. Why pydifact:
it is maintained, small, pure Python and already handles UNA and release characters;
the directories differ only in which qualifiers they use, which is mapping, not syntax.

The mapping is the generic invoice one (docs/parsers.md, "Generic invoices"), one
bill per UNH..UNT message:
- one line per LIN, its amount the first of MOA 203 (line item amount), 38 (invoice
  item amount), 66 (goods item total) the line states; one line per header
  allowance/charge (ALC, MOA+23/8/204); taxes are not lines;
- the totals after UNS are checked, each one present: 389 (tax-exclusive total) and
  125 (taxable amount: the one before the TAX groups, else their sum) against all
  lines, 79 (total line items) against the LIN lines, and the tax-inclusive 77
  (invoice amount), 86 (message total) and 388 less the tax (176, else the TAX
  groups' 124) against all lines. The stated total is the first of 389, 125, 79 plus
  the header charges, or a tax-inclusive total less tax; a message with none of
  them is refused (`no_total`), never accepted unchecked;
- dates from DTM 137 (else 3) in format 102 (CCYYMMDD), 203 (CCYYMMDDHHMM), 204, 101
  or 201; the carrier is the supplier, NAD+SU or NAD+SE (name, else its party id);
  the currency is CUX, else the one currency the MOA segments name;
- a credit note (BGM 381) is negated. A message other than INVOIC (ORDERS, DESADV...)
  is refused as `not_a_bill`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import polars as pl
from pydifact import Characters, Token, Tokenizer
from pydifact import Parser as EdifactParser
from pydifact.exceptions import EDISyntaxError

from parsers.base import Candidate, ParseContext, Parser, Sniff
from parsers.builtin.en16931 import EINVOICE_CHARGE_CODES
from parsers.encoding import decode_text
from parsers.model import (
    BillParseError,
    ParseResult,
    RawBill,
    canonical_frames,
    parse_date_text,
    raw_lines,
)

CHARGE_AMOUNTS = {"23": 1, "8": 1, "204": -1}
"""MOA qualifiers of a header ALC: charge amount (23, 8) and allowance amount (204)."""
LINE_AMOUNTS = ("203", "38", "66")
"""MOA qualifiers of a LIN line's amount, preferred first."""
TAX_INCLUSIVE = {"77": "invoice amount", "86": "message total", "388": "total incl. tax"}
DTM_FORMATS = {"102": 8, "203": 12, "204": 14, "101": 6, "201": 10}
"""DTM format codes -> digits; the date is the leading CCYYMMDD (YYMMDD for 101/201)."""
SYNTAX_ENCODINGS = {
    "UNOA": "ascii",
    "UNOB": "ascii",
    "UNOC": "latin-1",
    "UNOD": "iso8859-2",
    "UNOE": "iso8859-5",
    "UNOF": "iso8859-7",
    "UNOW": "utf-8",
    "UNOY": "utf-8",
}
"""UNB syntax identifiers (ISO 9735 character repertoires) -> the codec that reads them."""


DEFAULT_SERVICE_CHARACTERS = ":+.? '"
"""The service characters when there is no UNA: the syntax defaults, with the decimal
point ISO 9735 gives (pydifact's own default is a comma)."""


@dataclass(frozen=True)
class Syntax:
    """The service characters a file uses (amounts are read with its decimal mark)."""

    component: str
    element: str
    decimal: str
    release: str
    terminator: str


def read_syntax(text: str) -> tuple[Characters, str]:
    """The service characters (from UNA, else the defaults) and the text after UNA."""
    if text.startswith("UNA") and len(text) >= 9:
        return Characters.from_str(text[:9]), text[9:]
    return Characters.from_str(DEFAULT_SERVICE_CHARACTERS), text


def _without_empty_segments(tokens: Iterable[Token]) -> Iterator[Token]:
    """Drop a terminator that ends an empty segment ('' or a blank line between two):
    pydifact would read it as a segment holding the terminator itself."""
    previous = Token.Type.TERMINATOR
    for token in tokens:
        if not (token.type == previous == Token.Type.TERMINATOR):
            yield token
        previous = token.type


def _terminated(body: str, syntax: Syntax) -> bool:
    """Whether `body` ends with a terminator that is not itself released ('?'' is data)."""
    if not body.endswith(syntax.terminator):
        return False
    before = body[: -len(syntax.terminator)]
    return (len(before) - len(before.rstrip(syntax.release))) % 2 == 0


def segments(text: str) -> tuple[Syntax, list[list[list[str]]]]:
    """[segment][element][component], release marks removed from the values.

    A last segment missing its terminator is still read, not dropped, and empty segments
    are skipped. Text pydifact cannot tokenise (a release character before a line break
    or at the very end) is `malformed_edi`; a released space is data ('? ' -> ' ')."""
    characters, body = read_syntax(text.lstrip("\ufeff"))
    syntax = Syntax(
        characters.component_separator,
        characters.data_separator,
        characters.decimal_point,
        characters.escape_character,
        characters.segment_terminator,
    )
    body = body.strip()
    if body and not _terminated(body, syntax):
        body += syntax.terminator
    try:
        tokens = _without_empty_segments(Tokenizer().get_tokens(body, characters))
        raw = list(EdifactParser().convert_tokens_to_raw_segments(tokens))
    except EDISyntaxError as exc:
        raise BillParseError("malformed_edi", str(exc)) from exc
    return syntax, [
        [element if isinstance(element, list) else [element] for element in segment]
        for segment in raw
    ]


def _get(seg: list[list[str]], element: int, component: int = 0) -> str:
    if element < len(seg) and component < len(seg[element]):
        return seg[element][component].strip()
    return ""


class EdifactInvoic(Parser):
    name = "edifact-invoic"
    version = "2"
    formats = ("edi",)
    description = "UN/EDIFACT INVOIC (D96A-D16B, EANCOM): UNA characters, MOA/NAD/DTM qualifiers"

    def sniff(self, candidate: Candidate, template=None) -> Sniff:
        text = candidate.text.lstrip("\ufeff \r\n\t")
        if not text.startswith(("UNA", "UNB", "UNH")):
            return Sniff(0.0, "no UNA/UNB interchange header")
        if "INVOIC" not in text:
            return Sniff(0.1, "EDIFACT interchange, but no INVOIC message near the start")
        return Sniff(0.9, "EDIFACT interchange with an INVOIC message")

    def parse(self, path: Path, ctx: ParseContext, template=None) -> ParseResult:
        data = path.read_bytes()
        found = re.search(rb"UNB.(UNO[A-Z])", data[:2048])
        encoding = SYNTAX_ENCODINGS.get(found.group(1).decode() if found else "", "auto")
        because = f"the UNB syntax identifier {found.group(1).decode()}" if found else None
        text = decode_text(data, ctx.source_name, encoding, because)
        syntax, segs = segments(text)
        messages: list[list[tuple[int, list[list[str]]]]] = []
        for index, seg in enumerate(segs, start=1):
            tag = _get(seg, 0)
            if tag == "UNH":
                kind = _get(seg, 2)
                if kind != "INVOIC":
                    version = ":".join(c for c in seg[2][1:4] if c) if len(seg) > 2 else ""
                    raise BillParseError(
                        "not_a_bill",
                        f"{ctx.source_name}: EDIFACT message {kind} ({version}) is not a freight "
                        "invoice (reckon reads INVOIC)",
                        f"segment={index}",
                    )
                messages.append([])
            if messages and tag not in ("UNB", "UNZ"):
                messages[-1].append((index, seg))
        if not messages:
            raise BillParseError("malformed_edi", f"{ctx.source_name}: no UNH message header")
        bills = [_Message(ctx, syntax.decimal).read(m) for m in messages]
        return canonical_frames(bills, self.provenance(ctx, None), code_map=EINVOICE_CHARGE_CODES)


def _negate(text: str) -> str:
    return text[1:] if text.startswith("-") else "-" + text


class _Message:
    """One INVOIC message's segments -> a RawBill, its stated totals checked."""

    def __init__(self, ctx: ParseContext, decimal: str) -> None:
        self.ctx, self.decimal = ctx, decimal
        self.header: dict[str, str] = {}
        self.currencies: set[str] = set()
        self.rows: list[dict[str, str | None]] = []
        """LIN lines (`line` set) and header charges, in the message's order."""
        self.totals: dict[str, list[tuple[str, bool, int]]] = {}
        """qualifier -> [(amount, inside a TAX group, segment)] after UNS."""
        self.line: dict[str, str | None] | None = None
        """The LIN group being read (its number, locator, description)."""
        self.line_amounts: dict[str, str] = {}
        """The open LIN group's MOA amounts by qualifier (LINE_AMOUNTS picks one)."""
        self.charge: dict[str, str | None] | None = None
        """A header ALC waiting for its MOA."""
        self.summary = self.in_tax = False
        """After UNS (summary totals); inside a summary TAX group."""

    def amount(self, seg: list[list[str]], index: int) -> str:
        value = _get(seg, 1, 1)
        if not value:
            raise BillParseError("invalid_value", "MOA without an amount", f"segment={index}")
        if (self.decimal != "." and "." in value) or (self.decimal == "." and "," in value):
            raise BillParseError(
                "invalid_value",
                f"MOA amount {value!r} does not fit the decimal mark {self.decimal!r} "
                "(EDIFACT amounts carry no thousands separators)",
                f"segment={index}",
            )
        value = value.replace(self.decimal, ".")
        try:
            Decimal(value)
        except InvalidOperation as exc:
            raise BillParseError(
                "invalid_value", f"MOA amount {value!r} is not a number", f"segment={index}"
            ) from exc
        if _get(seg, 1, 2):
            self.currencies.add(_get(seg, 1, 2))
        return value

    def day(self, key: str) -> date | None:
        value = self.header.get(key)
        if value is None:
            return None
        text, fmt, index = value.split("|")
        digits = DTM_FORMATS.get(fmt or "102")
        if digits is None or not text.isdigit():
            raise BillParseError(
                "invalid_value",
                f"DTM {text!r} in format {fmt!r}: reckon reads formats {', '.join(DTM_FORMATS)}",
                f"segment={index}",
            )
        # Format 102 with a time appended (CCYYMMDDHHMM) is common; the date part is the same.
        width = 6 if fmt in ("101", "201") else 8
        return parse_date_text(text[:width], ("%y%m%d",) if width == 6 else ("%Y%m%d",))

    def read(self, segs: list[tuple[int, list[list[str]]]]) -> RawBill:
        """Walk the segments in order: header segments, header charges (ALC then MOA), LIN
        groups (IMD, MOA) and, after UNS, the summary totals; then build the bill."""
        for index, seg in segs:
            tag = _get(seg, 0)
            if tag == "LIN":
                self._close_line()
                self.charge, self.line_amounts = None, {}
                self.line = {"line": _get(seg, 1) or str(len(self.rows) + 1)}
                self.line["locator"] = f"segment={index}"
            elif tag == "UNS":
                self._close_line()
                self.summary, self.line, self.charge = True, None, None
            elif tag == "MOA":
                self._moa(seg, index)
            else:
                self._header_segment(tag, seg, index)
        self._close_line()
        return self.bill()

    def _close_line(self) -> None:
        """The open LIN group becomes a row with its preferred amount; a LIN stating none
        is refused at its segment rather than read as zero."""
        line = self.line
        if line is None:
            return
        chosen = next((q for q in LINE_AMOUNTS if q in self.line_amounts), None)
        if chosen is None:
            raise BillParseError(
                "no_lines",
                f"LIN {line['line']} states no line amount (MOA {', '.join(LINE_AMOUNTS)})",
                line["locator"],
            )
        self.rows.append({**line, "amount": self.line_amounts[chosen]})

    def _header_segment(self, tag: str, seg: list[list[str]], index: int) -> None:
        """BGM, DTM, CUX, NAD, ALC, IMD and TAX: header fields, a header charge opened, a
        line's description, a summary TAX group entered (other segments carry nothing read)."""
        line, summary = self.line, self.summary
        if tag == "BGM":
            self.header["number"], self.header["type"] = _get(seg, 2), _get(seg, 1)
        elif tag == "DTM" and line is None and not summary:
            key = {"137": "date", "3": "date3", "167": "start", "194": "start"}.get(
                _get(seg, 1), {"168": "end", "206": "end"}.get(_get(seg, 1))
            )
            if key:
                self.header[key] = f"{_get(seg, 1, 1)}|{_get(seg, 1, 2)}|{index}"
        elif tag == "CUX":
            self.header.setdefault("currency", _get(seg, 1, 1))
        elif tag == "NAD" and _get(seg, 1) in ("SU", "SE"):
            self.header.setdefault("seller", _get(seg, 4) or _get(seg, 2))
        elif tag == "ALC" and line is None and not summary:
            self.charge = {
                "sign": "1" if _get(seg, 1) == "C" else "-1",
                "charge_description": _get(seg, 2) or None,
                "charge_code": _get(seg, 5) or None,
                "locator": f"segment={index}",
            }
        elif tag == "IMD" and line is not None and "charge_description" not in line:
            line["charge_description"] = _get(seg, 3, 3) or None
        elif tag == "TAX" and summary:
            self.in_tax = True

    def _moa(self, seg: list[list[str]], index: int) -> None:
        """An amount: a summary total after UNS, a LIN group's amount, or the amount of the
        header charge (ALC) before it, signed by the ALC's charge/allowance indicator."""
        qualifier = _get(seg, 1)
        charge = self.charge
        if self.summary:
            self.totals.setdefault(qualifier, []).append(
                (self.amount(seg, index), self.in_tax, index)
            )
        elif self.line is not None:
            if qualifier in LINE_AMOUNTS:
                self.line_amounts.setdefault(qualifier, self.amount(seg, index))
        elif charge is not None and qualifier in CHARGE_AMOUNTS:
            value = self.amount(seg, index)
            negative = charge["sign"] == "-1"
            self.rows.append(
                {
                    "line": None,
                    "charge_code": charge["charge_code"],
                    "charge_description": charge["charge_description"],
                    "amount": _negate(value) if negative else value,
                    "locator": charge["locator"],
                }
            )
            self.charge = None

    def _total(self, qualifier: str) -> tuple[Decimal, int] | None:
        """A summary total: the occurrence outside the TAX groups, else the TAX groups' sum."""
        found = self.totals.get(qualifier)
        if not found:
            return None
        outside = [(v, i) for v, in_tax, i in found if not in_tax]
        if outside:
            return Decimal(outside[0][0]), outside[0][1]
        return sum((Decimal(v) for v, _, _ in found), Decimal(0)), found[0][2]

    def stated_total(self, number: str) -> Decimal:
        items = sum((Decimal(r["amount"] or 0) for r in self.rows if r["line"]), Decimal(0))
        charges = sum((Decimal(r["amount"] or 0) for r in self.rows if not r["line"]), Decimal(0))
        net = items + charges
        tax = self._total("176") or self._total("124")
        tax_amount = tax[0] if tax else Decimal(0)
        checks: list[tuple[str, Decimal, Decimal, int]] = []
        for qualifier, what, against in (
            ("389", "tax-exclusive total", net),
            ("125", "taxable amount", net),
            ("79", "total line items amount", items),
        ):
            found = self._total(qualifier)
            if found:
                checks.append((f"MOA+{qualifier} ({what})", found[0], against, found[1]))
        for qualifier, what in TAX_INCLUSIVE.items():
            found = self._total(qualifier)
            if found:
                label = f"MOA+{qualifier} ({what}) less tax {tax_amount}"
                checks.append((label, found[0] - tax_amount, net, found[1]))
        for label, stated, summed, index in checks:
            if stated != summed:
                raise BillParseError(
                    "totals_mismatch",
                    f"INVOIC {number}: {label} states {stated}, the lines sum to {summed}",
                    f"segment={index}",
                )
        if not checks:
            raise BillParseError(
                "no_total",
                f"INVOIC {number} states no total to check its lines against (MOA 389, 125, "
                f"79, 77, 86 or 388 after UNS; found {sorted(self.totals)})",
            )
        first = checks[0]
        return first[1] + (charges if first[0].startswith("MOA+79") else 0)

    def bill(self) -> RawBill:
        header, ctx = self.header, self.ctx
        number = header.get("number")
        bill_date = self.day("date") or self.day("date3")
        if not number or bill_date is None:
            raise BillParseError(
                "malformed_edi", f"{ctx.source_name}: no BGM number or DTM+137 document date"
            )
        currency = header.get("currency") or (
            next(iter(self.currencies)) if len(self.currencies) == 1 else ""
        )
        if not currency:
            raise BillParseError(
                "missing_field",
                f"INVOIC {number}: no currency (no CUX segment, MOA currencies "
                f"{sorted(self.currencies)})",
            )
        stated = str(self.stated_total(number))
        rows = [
            {
                "tracking_number_raw": f"{number}-{r['line']}" if r["line"] else number,
                "charge_code": r.get("charge_code"),
                "charge_description": r.get("charge_description"),
                "amount": r["amount"],
                "locator": r["locator"],
            }
            for r in self.rows
        ]
        frame = raw_lines(rows)
        if header.get("type") == "381":
            frame = frame.with_columns(
                pl.when(pl.col("amount").str.starts_with("-"))
                .then(pl.col("amount").str.slice(1))
                .otherwise("-" + pl.col("amount"))
                .alias("amount")
            )
            stated = _negate(stated)
        seller = ctx.carrier_hint or header.get("seller") or "UNKNOWN"
        return RawBill(
            carrier=seller.upper().replace(" ", "_"),
            bill_number=number,
            bill_date=bill_date,
            currency=currency,
            period_start=self.day("start"),
            period_end=self.day("end"),
            stated_total=stated,
            lines=frame,
        )
