"""What every parser is built from: the file a sniffer looks at, a sniff's score, the
parse context, and the `Parser` base class.

This module imports nothing of the parsers themselves: built-ins and third-party
plugins (the `reckon.parsers` entry-point group) both subclass `Parser` from here,
and the registry (parsers/registry.py) assembles them, so no parser module needs
the registry and the registry is the only place that knows every parser.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from parsers.model import BillParseError, ParseResult, Provenance
from parsers.templates_schema import Template

HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Sniff:
    score: float
    """0 = cannot read this file; 1 = certain. Scores are compared across parsers."""
    reason: str
    damage: str | None = None
    """Set when the sniffer found the file itself broken (e.g. 'corrupt_pdf'): if
    nothing else can read it, that is the quarantine reason, not 'no parser'."""


@dataclass
class Candidate:
    """What sniffers look at: the name, the first bytes, and (lazily) decoded text."""

    path: Path
    carrier_hint: str | None = None
    display_name: str | None = None
    """The name the file arrived with (the raw store names files by hash)."""
    extras: dict = field(default_factory=dict)
    """Derived views (a PDF's first-page text...) cached across sniffers."""

    @property
    def name(self) -> str:
        return self.display_name or self.path.name

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()

    @cached_property
    def head(self) -> bytes:
        with self.path.open("rb") as fh:
            return fh.read(HEAD_BYTES)

    @cached_property
    def text(self) -> str:
        """The head as text: UTF-16 by its byte-order mark, UTF-8 (with or without BOM),
        else GB18030, else Latin-1 (for sniffing only: parsing decodes strictly, see
        parsers/encoding.py).

        The head may end inside a multi-byte character; that partial character is
        dropped rather than letting a big UTF-8 or GB18030 file sniff as Latin-1."""
        head = self.head
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return head[: len(head) // 2 * 2].decode("utf-16", errors="replace")
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return head.decode(encoding)
            except UnicodeDecodeError as exc:
                if len(head) == HEAD_BYTES and exc.start >= len(head) - 4:
                    try:
                        return head[: exc.start].decode(encoding)
                    except UnicodeDecodeError:
                        continue
        return head.decode("latin-1")


@dataclass(frozen=True)
class ParseContext:
    sha256: str
    source_name: str
    carrier_hint: str | None = None


class Parser:
    """Base of every parser. Subclasses set name/version/formats and implement
    `sniff` and `parse`; template engines derive from `TemplateParser` and get the
    template they are run with."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = ""
    formats: ClassVar[tuple[str, ...]] = ()
    uses_templates: ClassVar[bool] = False
    description: ClassVar[str] = ""

    def sniff(self, candidate: Candidate, template: Template | None = None) -> Sniff:
        raise NotImplementedError

    def parse(self, path: Path, ctx: ParseContext, template: Template | None = None) -> ParseResult:
        raise NotImplementedError

    def provenance(self, ctx: ParseContext, template: Template | None) -> Provenance:
        return Provenance(
            source_sha256=ctx.sha256,
            source_name=ctx.source_name,
            parser=self.name,
            parser_version=self.version,
            template_id=f"{template.id}@{template.version}" if template else None,
        )


class TemplateParser(Parser):
    """Base of the template engines. The registry runs one once per template of its
    format, so it always has a template: it implements `sniff_with` and `parse_with`,
    which take it as given, and is refused clearly if called without one."""

    uses_templates: ClassVar[bool] = True

    def sniff(self, candidate: Candidate, template: Template | None = None) -> Sniff:
        return self.sniff_with(candidate, self._template(template))

    def parse(self, path: Path, ctx: ParseContext, template: Template | None = None) -> ParseResult:
        return self.parse_with(path, ctx, self._template(template))

    def sniff_with(self, candidate: Candidate, template: Template) -> Sniff:
        raise NotImplementedError

    def parse_with(self, path: Path, ctx: ParseContext, template: Template) -> ParseResult:
        raise NotImplementedError

    def _template(self, template: Template | None) -> Template:
        if template is None:
            raise BillParseError("template", f"{self.name} reads a bill by template, none given")
        return template
