"""A template's example file and its expected output: the template's regression test.

The invoice2data lesson (docs/STYLE.md): a carrier layout ships with a sample
file and what it must parse into. `parsers/templates/examples/<template id>.*`
holds the example file, `<id>.lines.csv` and `<id>.headers.csv` the expected
canonical frames (as text, without the per-run provenance columns).
`reckon parsers check` re-parses every example and shows any difference, so a
template edit that changes what a carrier's bill reads as cannot go unnoticed;
`reckon parsers example FILE --template T` records a new one.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from parsers.base import ParseContext
from parsers.model import BillParseError, ParseResult
from parsers.registry import Registry
from parsers.templates_schema import Template

EXAMPLES_DIR = Path(__file__).parent / "templates" / "examples"
IGNORED_COLUMNS = ("source_sha256", "source_name", "parser_version", "template_id")
"""Provenance that differs per copy of the file or per version: not part of the
expectation (a version bump that reads the same is not a regression)."""


@dataclass(frozen=True)
class ExampleCheck:
    template_id: str
    ok: bool
    message: str


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    keep = [c for c in frame.columns if c not in IGNORED_COLUMNS]
    return frame.select(pl.col(c).cast(pl.String) for c in keep)


def example_input(template: Template, folder: Path = EXAMPLES_DIR) -> Path | None:
    found = [
        p
        for p in folder.glob(f"{template.id}.*")
        if not p.name.endswith((".lines.csv", ".headers.csv"))
    ]
    return found[0] if found else None


def _parse(registry: Registry, template: Template, path: Path) -> ParseResult:
    ctx = ParseContext(hashlib.sha256(path.read_bytes()).hexdigest(), path.name, template.carrier)
    choice = registry.choose(path, template.carrier, None, path.name)
    if choice.template is None or choice.template.id != template.id:
        chosen = choice.template.id if choice.template else choice.parser.name
        raise BillParseError("example", f"the example is chosen for {chosen}, not {template.id}")
    return choice.parser.parse(path, ctx, choice.template)


def record_example(
    registry: Registry, template: Template, source: Path, folder: Path = EXAMPLES_DIR
) -> Path:
    """Copy `source` as the template's example and write what it parses into now."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{template.id}{source.suffix.lower()}"
    shutil.copyfile(source, target)
    result = _parse(registry, template, target)
    _as_text(result.lines).write_csv(folder / f"{template.id}.lines.csv")
    _as_text(result.headers).write_csv(folder / f"{template.id}.headers.csv")
    return target


def _diff(name: str, got: pl.DataFrame, want: pl.DataFrame) -> str | None:
    if got.columns != want.columns:
        return f"{name}: columns {got.columns} != expected {want.columns}"
    if got.height != want.height:
        return f"{name}: {got.height} rows, expected {want.height}"
    for i, (g, w) in enumerate(
        zip(got.iter_rows(named=True), want.iter_rows(named=True), strict=True)
    ):
        if g != w:
            fields = [k for k in g if g[k] != w[k]]
            return f"{name} row {i + 1}: " + "; ".join(
                f"{k} {g[k]!r} != expected {w[k]!r}" for k in fields
            )
    return None


def check_examples(registry: Registry, folder: Path = EXAMPLES_DIR) -> list[ExampleCheck]:
    """Every template that has an example: does it still parse into the expected frames?"""
    checks = []
    for template in sorted(registry.templates, key=lambda t: t.id):
        source = example_input(template, folder)
        if source is None:
            continue
        try:
            result = _parse(registry, template, source)
        except BillParseError as exc:
            checks.append(ExampleCheck(template.id, False, f"[{exc.code}] {exc.reason}"))
            continue
        problems = []
        for name, got in (("lines", result.lines), ("headers", result.headers)):
            want = pl.read_csv(folder / f"{template.id}.{name}.csv", infer_schema=False)
            problem = _diff(name, _as_text(got), want)
            if problem:
                problems.append(problem)
        message = "; ".join(problems) or f"{result.lines.height} lines as expected"
        checks.append(ExampleCheck(template.id, not problems, message))
    return checks
