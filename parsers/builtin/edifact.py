"""UN/EDIFACT INVOIC (EN 16931 syntax binding, D.14B and similar).

Service characters come from the UNA segment when present (component, element,
decimal mark, release, segment terminator), else the syntax defaults; a released
character ('?+', '?'') is data, not a separator. pydifact tokenises (the UNA
service string advice, the release character, segment/element/component
splitting); this module maps the segments. The mapping is the generic
invoice one (docs/parsers.md, "Generic invoices"): one line per LIN (MOA+203),
one per header allowance/charge (ALC, MOA+23/8/204), taxes are not lines, and the
stated total is the tax-exclusive invoice total (MOA+389), so the lines must foot
to it; a credit note (BGM 381) is negated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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
    version = "1"
    formats = ("edi",)
    description = "UN/EDIFACT INVOIC invoices (UNA service characters, MOA amounts)"

    def sniff(self, candidate: Candidate, template=None) -> Sniff:
        text = candidate.text.lstrip("\ufeff \r\n\t")
        if not text.startswith(("UNA", "UNB")):
            return Sniff(0.0, "no UNA/UNB interchange header")
        if "INVOIC" not in text:
            return Sniff(0.1, "EDIFACT interchange, but no INVOIC message near the start")
        return Sniff(0.9, "EDIFACT interchange with an INVOIC message")

    def parse(self, path: Path, ctx: ParseContext, template=None) -> ParseResult:
        text = decode_text(path.read_bytes(), ctx.source_name, "utf-8")
        syntax, segs = segments(text)

        def amount(seg: list[list[str]], index: int) -> str:
            value = _get(seg, 1, 1).replace(syntax.decimal, ".")
            if not value:
                raise BillParseError("invalid_value", "MOA without an amount", f"segment={index}")
            return value

        header: dict[str, str] = {}
        rows: list[dict[str, str | None]] = []
        line: dict[str, str | None] | None = None
        charge: dict[str, str | None] | None = None
        summary = False
        for index, seg in enumerate(segs, start=1):
            tag = _get(seg, 0)
            if tag == "BGM":
                header["number"], header["type"] = _get(seg, 2), _get(seg, 1)
            elif tag == "DTM" and line is None:
                qualifier = _get(seg, 1)
                key = {"137": "date", "167": "start", "168": "end"}.get(qualifier)
                if key:
                    header[key] = _get(seg, 1, 1)
            elif tag == "CUX":
                header["currency"] = _get(seg, 1, 1)
            elif tag == "NAD" and _get(seg, 1) == "SE":
                header["seller"] = _get(seg, 4)
            elif tag == "ALC" and line is None:
                charge = {
                    "sign": "1" if _get(seg, 1) == "C" else "-1",
                    "charge_description": _get(seg, 2) or None,
                    "charge_code": _get(seg, 5) or None,
                    "locator": f"segment={index}",
                }
            elif tag == "LIN":
                charge = None
                line = {"line": _get(seg, 1), "locator": f"segment={index}"}
            elif tag == "IMD" and line is not None and "charge_description" not in line:
                line["charge_description"] = _get(seg, 3, 3) or None
            elif tag == "UNS":
                summary, line, charge = True, None, None
            elif tag == "MOA":
                qualifier = _get(seg, 1)
                if summary:
                    header.setdefault(f"moa{qualifier}", amount(seg, index))
                elif line is not None and qualifier == "203":
                    rows.append(
                        {
                            "tracking_number_raw": f"{header.get('number', '')}-{line['line']}",
                            "charge_code": None,
                            "charge_description": line.get("charge_description"),
                            "amount": amount(seg, index),
                            "locator": line["locator"],
                        }
                    )
                elif charge is not None and qualifier in CHARGE_AMOUNTS:
                    value = amount(seg, index)
                    negative = charge["sign"] == "-1"
                    rows.append(
                        {
                            "tracking_number_raw": header.get("number", ""),
                            "charge_code": charge["charge_code"],
                            "charge_description": charge["charge_description"],
                            "amount": f"-{value}" if negative else value,
                            "locator": charge["locator"],
                        }
                    )
                    charge = None
        if "number" not in header or "date" not in header:
            raise BillParseError(
                "malformed_edi", f"{ctx.source_name}: no BGM number or DTM+137 date"
            )
        credit = header.get("type") == "381"
        frame = raw_lines(rows)
        stated = header.get("moa389")
        if credit:
            frame = frame.with_columns(
                pl.when(pl.col("amount").str.starts_with("-"))
                .then(pl.col("amount").str.slice(1))
                .otherwise("-" + pl.col("amount"))
                .alias("amount")
            )
            stated = (
                None if stated is None else (stated[1:] if stated.startswith("-") else "-" + stated)
            )
        bill = RawBill(
            carrier=(ctx.carrier_hint or header.get("seller") or "UNKNOWN")
            .upper()
            .replace(" ", "_"),
            bill_number=header["number"],
            bill_date=parse_date_text(header["date"], ("%Y%m%d",)),
            currency=header.get("currency", ""),
            period_start=parse_date_text(header.get("start"), ("%Y%m%d",)),
            period_end=parse_date_text(header.get("end"), ("%Y%m%d",)),
            stated_total=stated,
            lines=frame,
        )
        return canonical_frames([bill], self.provenance(ctx, None), code_map=EINVOICE_CHARGE_CODES)
