"""Bill bytes to text: decoded as what the file or its template says, or refused.

Never mojibake (DOMAIN.md: keep provenance of every number; a garbled carrier name
or charge description is a silent corruption). GB18030 accepts most byte pairs,
so trying it after UTF-8 turned a cp1252 bill's "Müller" into Chinese characters
without an error. The order now:

1. a byte-order mark (UTF-8, UTF-16) says what the file is;
2. else the template's `read.encoding`, when it names one, strictly;
3. else strict UTF-8;
4. else charset-normalizer (a maintained detector) picks between the encodings
   carriers actually send besides UTF-8 (GB18030 from Chinese consolidators,
   cp1252 from European desks), and only when exactly one of them reads the file
   without any "chaos" (its measure of implausible text: GB18030 bytes read as
   cp1252 come out as runs of accented capitals, cp1252 read as GB18030 as stray
   ideographs between Latin letters); otherwise the file is refused as
   `undecodable_text`, naming the first byte that is not UTF-8 and its offset, so
   someone declares the encoding. A single accented word in a big file can read
   cleanly both ways: that is refused, never guessed.
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

from parsers.model import BillParseError

DETECTABLE = ("gb18030", "cp1252")

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _strict(data: bytes, encoding: str, name: str, because: str, skip: int = 0) -> str:
    """`data[skip:]` decoded; an error names the offset in the whole file."""
    try:
        return data[skip:].decode(encoding)
    except UnicodeDecodeError as exc:
        at = skip + exc.start
        raise BillParseError(
            "undecodable_text",
            f"{name} is not valid {encoding} ({because}): byte {data[at : at + 1]!r} at "
            f"offset {at}",
            f"byte={at}",
        ) from exc


def detect(data: bytes, candidates: tuple[str, ...] = DETECTABLE) -> str | None:
    """The one of `candidates` that alone reads `data` without chaos, or None."""
    clean = [m.encoding for m in from_bytes(data, cp_isolation=list(candidates)) if m.chaos == 0]
    return clean[0] if len(clean) == 1 else None


def decode_text(data: bytes, name: str, declared: str = "auto", because: str | None = None) -> str:
    """`data` as text by the order in the module docstring; BillParseError otherwise.
    `because` says who declared the encoding (a template, an EDIFACT UNB header)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            because = f"it starts with a {encoding} byte-order mark"
            return _strict(data, encoding, name, because, skip=len(bom))
    if declared != "auto":
        return _strict(data, declared, name, because or "the encoding its template declares")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start
    detected = detect(data)
    if detected is None:
        raise BillParseError(
            "undecodable_text",
            f"{name} is not UTF-8 (byte {data[offset : offset + 1]!r} at offset {offset}) and "
            f"not clearly one of {', '.join(DETECTABLE)}: declare read.encoding in its template",
            f"byte={offset}",
        )
    return _strict(data, detected, name, f"detected as {detected}")
