"""The parser registry: which parser (and template) reads a bill file, and why.

Built-in parsers are the classes listed in `parsers.builtin.BUILTIN_PARSERS`
(the base types they subclass live in parsers/base.py, so no parser imports the
registry and importing a parser registers nothing); a separate package adds one
through the `reckon.parsers` entry-point group without touching reckon;
declarative templates are YAML files in `parsers/templates/` plus an extra
folder given by configuration (`extra_templates` or the RECKON_TEMPLATES_DIR
environment variable). `choose` scores every parser and template against the file and says
why the winner won (the invoice2data lesson: an unexplained choice is a bug
waiting to happen). `fingerprint` changes whenever any parser or template
version changes, which is what retries quarantined files (issue 4, item 4).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from parsers.base import Candidate, ParseContext, Parser, Sniff
from parsers.builtin import BUILTIN_PARSERS
from parsers.model import BillParseError, ParseResult
from parsers.preflight import check_candidate
from parsers.templates_schema import Template, load_templates

ENTRY_POINT_GROUP = "reckon.parsers"
BUILTIN_TEMPLATES = Path(__file__).parent / "templates"
TEMPLATES_ENV = "RECKON_TEMPLATES_DIR"


def builtin_parsers() -> list[Parser]:
    """One instance of each built-in parser, in BUILTIN_PARSERS order; a class without a
    name or version, or two with one name, is a programming error."""
    parsers: dict[str, Parser] = {}
    for cls in BUILTIN_PARSERS:
        if not cls.name or not cls.version:
            raise TypeError(f"{cls.__name__} must set name and version")
        if cls.name in parsers:
            raise TypeError(f"parser name {cls.name!r} listed twice")
        parsers[cls.name] = cls()
    return list(parsers.values())


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
    template_errors: list[str] = field(default_factory=list)
    """Templates that failed to load (file and reason): reported and skipped."""

    @classmethod
    def default(
        cls, extra_templates: Path | list[Path] | None = None, use_entry_points: bool = True
    ) -> Registry:
        parsers = builtin_parsers()
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
        errors: list[str] = []
        templates = load_templates(folders, errors)
        return cls(parsers=parsers, templates=templates, template_errors=errors)

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
        hint = candidate.carrier_hint
        if template and hint and sniff.score > 0 and template.carrier == hint.upper():
            return Sniff(sniff.score + 0.1, sniff.reason + f"; carrier hint {template.carrier}")
        return sniff

    def choose(
        self,
        path: Path,
        carrier_hint: str | None = None,
        template_id: str | None = None,
        display_name: str | None = None,
    ) -> Choice:
        """The best parser for `path`; BillParseError('no_parser' / 'ambiguous') otherwise,
        or the pre-parse check's reason (parsers/preflight.py) before any parser opens it."""
        candidate = Candidate(path, carrier_hint, display_name)
        check_candidate(candidate)
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
