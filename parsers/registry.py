"""The parser registry: which parser (and template) reads a bill file, and why.

Built-in parsers register with `@register`; a separate package adds one through
the `reckon.parsers` entry-point group without touching reckon; declarative
templates are YAML files in `parsers/templates/` plus an extra folder given by
configuration (`extra_templates` or the RECKON_TEMPLATES_DIR environment
variable). `choose` scores every parser and template against the file and says
why the winner won (the invoice2data lesson: an unexplained choice is a bug
waiting to happen). `fingerprint` changes whenever any parser or template
version changes, which is what retries quarantined files (issue 4, item 4).
"""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import entry_points
from pathlib import Path
from typing import ClassVar

from parsers.model import BillParseError, ParseResult, Provenance
from parsers.templates_schema import Template, load_templates

ENTRY_POINT_GROUP = "reckon.parsers"
BUILTIN_TEMPLATES = Path(__file__).parent / "templates"
TEMPLATES_ENV = "RECKON_TEMPLATES_DIR"
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
        """The head as text: UTF-8 (with or without BOM), else GB18030, else Latin-1.

        The head may end inside a multi-byte character; that partial character is
        dropped rather than letting a big UTF-8 or GB18030 file sniff as Latin-1."""
        head = self.head
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
    `sniff` and `parse`; template engines set `uses_templates` and get the
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


_BUILTINS: dict[str, type[Parser]] = {}


def register(cls: type[Parser]) -> type[Parser]:
    """Class decorator for built-in parsers; a duplicate name is a programming error."""
    if not cls.name or not cls.version:
        raise TypeError(f"{cls.__name__} must set name and version")
    if cls.name in _BUILTINS and _BUILTINS[cls.name] is not cls:
        raise TypeError(f"parser name {cls.name!r} registered twice")
    _BUILTINS[cls.name] = cls
    return cls


def discover_entry_points() -> list[Parser]:
    """Parsers from installed packages: an entry point may name a Parser subclass,
    a Parser instance, or a callable returning a list of them."""
    found: list[Parser] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        if isinstance(obj, type) and issubclass(obj, Parser):
            found.append(obj())
        elif isinstance(obj, Parser):
            found.append(obj)
        elif callable(obj):
            found.extend(obj())
        else:
            raise TypeError(f"entry point {ep.name} ({ep.value}) is not a Parser")
    return found


@dataclass(frozen=True)
class Contender:
    parser: Parser
    template: Template | None
    sniff: Sniff

    @property
    def label(self) -> str:
        return f"{self.parser.name} + {self.template.id}" if self.template else self.parser.name


@dataclass(frozen=True)
class Choice:
    parser: Parser
    template: Template | None
    score: float
    reasons: str
    runners_up: tuple[Contender, ...] = ()

    def explain(self) -> str:
        label = f"{self.parser.name} {self.parser.version}"
        if self.template:
            label += f" with template {self.template.id}@{self.template.version}"
        lines = [f"chosen: {label} (score {self.score:.2f}): {self.reasons}"]
        lines += [
            f"  runner-up: {c.label} ({c.sniff.score:.2f}): {c.sniff.reason}"
            for c in self.runners_up
        ]
        return "\n".join(lines)


@dataclass
class Registry:
    parsers: list[Parser]
    templates: list[Template] = field(default_factory=list)

    @classmethod
    def default(
        cls, extra_templates: Path | list[Path] | None = None, use_entry_points: bool = True
    ) -> Registry:
        importlib.import_module("parsers.builtin")
        parsers: list[Parser] = [c() for c in _BUILTINS.values()]
        if use_entry_points:
            known = {p.name for p in parsers}
            for plugin in discover_entry_points():
                if plugin.name in known:
                    raise TypeError(f"plugin parser {plugin.name!r} clashes with a known parser")
                parsers.append(plugin)
        folders = [BUILTIN_TEMPLATES]
        if isinstance(extra_templates, Path):
            folders.append(extra_templates)
        elif extra_templates:
            folders.extend(extra_templates)
        if os.environ.get(TEMPLATES_ENV):
            folders.append(Path(os.environ[TEMPLATES_ENV]))
        return cls(parsers=parsers, templates=load_templates(folders))

    def fingerprint(self) -> str:
        """One string that changes when any parser or template is added or changed."""
        parts = sorted(f"parser:{p.name}@{p.version}" for p in self.parsers)
        parts += sorted(f"template:{t.key}" for t in self.templates)
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    def template(self, template_id: str) -> Template:
        for t in self.templates:
            if t.id == template_id:
                return t
        raise KeyError(
            f"no template {template_id!r}; known: {', '.join(t.id for t in self.templates)}"
        )

    def contenders(self, candidate: Candidate) -> list[Contender]:
        out: list[Contender] = []
        for parser in self.parsers:
            if parser.uses_templates:
                for t in self.templates:
                    if t.format in parser.formats:
                        out.append(Contender(parser, t, self._sniff(parser, candidate, t)))
            else:
                out.append(Contender(parser, None, self._sniff(parser, candidate, None)))
        return sorted(out, key=lambda c: -c.sniff.score)

    @staticmethod
    def _sniff(parser: Parser, candidate: Candidate, template: Template | None) -> Sniff:
        try:
            sniff = parser.sniff(candidate, template)
        except BillParseError as exc:
            return Sniff(0.0, f"sniff failed: {exc.reason}")
        except Exception as exc:  # one broken sniffer must not stop the others
            return Sniff(0.0, f"sniff crashed: {type(exc).__name__}: {exc}")
        hinted = template and candidate.carrier_hint and sniff.score > 0
        if hinted and template.carrier == candidate.carrier_hint.upper():
            return Sniff(sniff.score + 0.1, sniff.reason + f"; carrier hint {template.carrier}")
        return sniff

    def choose(
        self,
        path: Path,
        carrier_hint: str | None = None,
        template_id: str | None = None,
        display_name: str | None = None,
    ) -> Choice:
        """The best parser for `path`; BillParseError('no_parser' / 'ambiguous') otherwise."""
        candidate = Candidate(path, carrier_hint, display_name)
        name = candidate.name
        ranked = self.contenders(candidate)
        if template_id is not None:
            ranked = [c for c in ranked if c.template and c.template.id == template_id]
            if not ranked:
                raise BillParseError(
                    "no_parser", f"no template engine reads template {template_id!r}"
                )
            best = ranked[0]
            return Choice(
                best.parser,
                best.template,
                best.sniff.score,
                f"forced: --template {template_id}; {best.sniff.reason}",
                tuple(ranked[1:4]),
            )
        viable = [c for c in ranked if c.sniff.score > 0]
        if not viable:
            for c in ranked:
                if c.sniff.damage:
                    raise BillParseError(c.sniff.damage, c.sniff.reason)
            near = "; ".join(f"{c.label}: {c.sniff.reason}" for c in ranked[:3])
            raise BillParseError("no_parser", f"no parser or template recognises {name} ({near})")
        best = viable[0]
        if len(viable) > 1 and viable[1].sniff.score == best.sniff.score:
            raise BillParseError(
                "ambiguous",
                f"{best.label} and {viable[1].label} both score {best.sniff.score:.2f} for "
                f"{name}; narrow a template's match rules or pass --template",
            )
        return Choice(
            best.parser, best.template, best.sniff.score, best.sniff.reason, tuple(ranked[1:4])
        )

    def parse(
        self, path: Path, ctx: ParseContext, template_id: str | None = None
    ) -> tuple[Choice, ParseResult]:
        choice = self.choose(path, ctx.carrier_hint, template_id, ctx.source_name)
        return choice, choice.parser.parse(path, ctx, choice.template)
