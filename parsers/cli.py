"""`reckon parsers ...`: the tool an analyst uses while writing a template.

`list` shows every parser and template (with versions and the registry
fingerprint); `parse FILE` shows which parser was chosen and why, the parsed
lines, the totals check, and any error with its locator, without touching the
raw store or the quarantine (`--json` for machines, `--text` for the exact text and
cells the rules run over, `--explain` for every template considered and why it
matched or not); `check` re-parses every template's example against its expected
output and `example` records one; `quarantine` lists quarantined files. Mounted by
the lead as `reckon parsers`; standalone: `python -m parsers.cli`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, NoReturn

import polars as pl
import typer
from pypdf import PdfReader

from parsers.base import Candidate, ParseContext
from parsers.builtin.template_engine import watching
from parsers.drafting import draft_template
from parsers.examples import EXAMPLES_DIR, check_examples, record_example
from parsers.ingest import list_quarantined
from parsers.model import BillParseError, ParseResult
from parsers.registry import Choice, Registry
from parsers.templates_schema import Template
from parsers.validate import validate
from storage.config import ConfigError
from storage.files import write_bytes

parsers_app = typer.Typer(
    help="Bill parsers and templates (without a subcommand: list them).",
    invoke_without_command=True,
)

TemplatesDir = Annotated[
    Path | None,
    typer.Option("--templates-dir", help="Extra folder of YAML templates (besides built-ins)."),
]


def _registry(templates_dir: Path | None, quiet: bool = False) -> Registry:
    """The registry; templates that fail to load are reported (on stderr) and skipped."""
    try:
        registry = Registry.default(extra_templates=templates_dir)
    except ConfigError as exc:
        typer.echo(f"template error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not quiet:
        for error in registry.template_errors:
            typer.echo(f"template error: {error}", err=True)
    return registry


@parsers_app.callback()
def _default(ctx: typer.Context, templates_dir: TemplatesDir = None) -> None:
    """`reckon parsers` alone lists parsers and templates, as the analyst expects."""
    if ctx.invoked_subcommand is None:
        list_parsers(templates_dir)


@parsers_app.command("list")
def list_parsers(templates_dir: TemplatesDir = None) -> None:
    """List parsers and templates with their versions."""
    registry = _registry(templates_dir)
    typer.echo(f"registry fingerprint: {registry.fingerprint()}")
    typer.echo("parsers:")
    for p in sorted(registry.parsers, key=lambda p: p.name):
        kind = "template engine" if p.uses_templates else "code"
        typer.echo(
            f"  {p.name:<24} v{p.version:<4} {kind:<16} {','.join(p.formats):<6} {p.description}"
        )
    typer.echo("templates:")
    for t in sorted(registry.templates, key=lambda t: t.id):
        typer.echo(f"  {t.id:<34} v{t.version:<3} {t.carrier:<14} {t.format:<5} {t.source}")


Seen = list[tuple[str, Any]]
"""What `watching()` recorded: (what, payload) pairs (parsers/builtin/template_engine.py)."""
PARSE_STAGES = ("pages", "grid", "cells", "header text", "header field")


def _show_seen(seen: Seen, file: Path, template: Template | None) -> None:
    """Print what the rules ran over, exactly: each line quoted (double spaces, tabs and
    trailing blanks visible), cells by row and column name, what each header rule found."""
    if template is not None:
        _show_match(seen, template)
    pages = [page for what, payload in seen if what == "pages" for page in payload]
    for p, page in enumerate(pages, start=1):
        typer.echo(f"--- page {p}: the text row and table regexes run over ---")
        for n, line in enumerate(page.splitlines(), start=1):
            typer.echo(f"{n:>4} {line!r}")
    for what, payload in seen:
        if what == "grid":
            typer.echo("--- the file's rows as cells (header regexes see them tab-joined) ---")
            for n, row in enumerate(payload.head(60).iter_rows(), start=1):
                typer.echo(f"row {n:>3} {[c for c in row]!r}")
        elif what == "cells":
            typer.echo("--- cells the line rules read (column names as rules give them) ---")
            typer.echo(f"columns: {[c for c in payload.columns if c != 'locator']!r}")
            for row in payload.head(60).iter_rows(named=True):
                where = row.pop("locator")
                typer.echo(f"{where}: {row!r}")
    header = next((payload for what, payload in seen if what == "header text"), None)
    if header is not None:
        typer.echo("--- the text header regexes search ---")
        for n, line in enumerate(header.splitlines(), start=1):
            typer.echo(f"{n:>4} {line!r}")
    fields = [payload for what, payload in seen if what == "header field"]
    if fields:
        typer.echo("--- header fields: where each rule reads and what it found ---")
        for name, source, value in fields:
            typer.echo(f"  {name:<13} {source} -> {value!r}")
    if not any(what in PARSE_STAGES for what, _ in seen):
        typer.echo("--- the file as the parser reads it (no template rules ran) ---")
        typer.echo(_plain_text(file))


def _show_match(seen: Seen, template: Template) -> None:
    """What the chosen template's match rules searched: the lines of the sniffed text (a
    PDF's first page, an XLSX's first rows tab-joined, else the file's first 64 KiB)
    holding each `match.contains` text, and the first row's cells `match.first_row` checks.
    Without it an author sees the parsed cells but not the text the choice was made on."""
    mine = {
        what: payload[1]
        for what, payload in reversed(seen)
        if what in ("match text", "first row") and payload[0] == template.id
    }
    hay: str | None = mine.get("match text")
    if hay is not None:
        typer.echo(f"--- the text match.contains searches: lines holding {template.match.contains}")
        lines = hay.split("\n")
        numbers = {n for text in template.match.contains for n in _lines_holding(hay, text)}
        for n in sorted(numbers):
            typer.echo(f"{n:>4} {lines[n - 1]!r}")
        for text in template.match.contains:
            if text not in hay:
                typer.echo(f"     {text!r} not found")
    cells: list[str] | None = mine.get("first row")
    if cells is not None:
        typer.echo("--- the first row's cells match.first_row checks (by position) ---")
        for n, pattern in sorted(template.match.first_row.items()):
            got = cells[n - 1] if n <= len(cells) else None
            verdict = "fits" if re.search(pattern, got or "") else "does not fit"
            typer.echo(f"cell {n:>3} {got!r} {verdict} {pattern!r}")


def _lines_holding(hay: str, text: str) -> range:
    """The 1-based numbers of the lines of `hay` that the first `text` in it spans."""
    at = hay.find(text)
    if at < 0:
        return range(0)
    first = hay.count("\n", 0, at) + 1
    return range(first, first + text.count("\n") + 1)


def _plain_text(file: Path) -> str:
    """A code parser's input: a PDF's page text, else the decoded file."""
    data = file.read_bytes()
    if data.startswith(b"%PDF"):
        pages = PdfReader(file).pages
        return "\n".join(f"--- page {i} ---\n{p.extract_text()}" for i, p in enumerate(pages, 1))
    return data.decode("utf-8", errors="replace")


def _explain(registry: Registry, file: Path, carrier: str | None) -> list[dict[str, Any]]:
    """Every parser and template considered, its score and why it matched or not."""
    candidate = Candidate(file, carrier, file.name)
    return [
        {
            "parser": c.parser.name,
            "template": c.template.id if c.template else None,
            "score": round(c.sniff.score, 2),
            "reason": c.sniff.reason,
        }
        for c in registry.contenders(candidate)
    ]


def _error(exc: BillParseError) -> dict[str, Any]:
    return {"code": exc.code, "reason": exc.reason, "locator": exc.locator}


@parsers_app.command("parse")
def parse_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    template: Annotated[
        str | None, typer.Option("--template", "-t", help="Force a template id.")
    ] = None,
    carrier: Annotated[
        str | None, typer.Option("--carrier", help="Carrier hint (inbox folder).")
    ] = None,
    templates_dir: TemplatesDir = None,
    rows: Annotated[int, typer.Option("--rows", help="Lines to show.")] = 40,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable: choice, bills, lines, errors.")
    ] = False,
    text: Annotated[
        bool, typer.Option("--text", help="Show the exact text and cells the rules see.")
    ] = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="Every template considered and why (not) chosen.")
    ] = False,
) -> None:
    """Parse FILE and show the choice, the lines, the totals check and any error."""
    registry = _registry(templates_dir, quiet=as_json)
    report: dict[str, Any] = {"file": str(file), "template_errors": registry.template_errors}
    if explain or as_json:
        report["considered"] = _explain(registry, file, carrier)
    if explain and not as_json:
        typer.echo("considered (best first):")
        for c in report["considered"]:
            label = c["parser"] + (f" + {c['template']}" if c["template"] else "")
            typer.echo(f"  {c['score']:.2f} {label}: {c['reason']}")
    with watching() as sniffed:
        try:
            choice = registry.choose(file, carrier, template, file.name)
        except BillParseError as exc:
            _refused(report, exc, file, as_json=as_json, text=text)
    report["chosen"] = _chosen(choice)
    if not as_json:
        typer.echo(choice.explain())
    result, failure, seen = _run(choice, file, carrier)
    if as_json:
        _print_json(report, result, failure)
        return
    if text:
        _show_seen([*sniffed, *seen], file, choice.template)
    if result is not None:
        _show_result(result, rows)
    if failure:
        kind, problem = failure
        if isinstance(problem, BillParseError):
            where = f" at {problem.locator}" if problem.locator else ""
            typer.echo(f"{kind} [{problem.code}] {problem.reason}{where}", err=True)
        else:
            typer.echo(f"ERROR [parser_crash] {type(problem).__name__}: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo("valid: would be accepted by ingest")


def _chosen(choice: Choice) -> dict[str, Any]:
    """The choice as --json reports it: parser and template with their versions, why."""
    return {
        "parser": choice.parser.name,
        "parser_version": choice.parser.version,
        "template": f"{choice.template.id}@{choice.template.version}" if choice.template else None,
        "score": round(choice.score, 2),
        "reason": choice.reasons,
    }


Failure = tuple[str, BillParseError | Exception]
"""('INVALID' | 'ERROR', the exception): how a parse that ingest would refuse failed."""


def _refused(
    report: dict[str, Any], exc: BillParseError, file: Path, *, as_json: bool, text: bool
) -> NoReturn:
    """No parser or template takes FILE: say why (as JSON, or on stderr with the file's
    text for --text) and exit 1."""
    report |= {"status": "refused", "error": _error(exc)}
    if as_json:
        typer.echo(json.dumps(report, indent=1, default=str))
    else:
        typer.echo(f"NOT PARSED [{exc.code}] {exc.reason}", err=True)
        if text:
            _show_seen([], file, None)
    raise typer.Exit(1) from exc


def _run(
    choice: Choice, file: Path, carrier: str | None
) -> tuple[ParseResult | None, Failure | None, Seen]:
    """Parse and validate FILE as ingest would, recording what the rules saw. A failure is
    returned, not raised, so the lines read so far and what the rules saw are still shown:
    INVALID when the parse gave a result that validation refuses, ERROR when it gave none."""
    sha = hashlib.sha256(file.read_bytes()).hexdigest()
    ctx = ParseContext(sha256=sha, source_name=file.name, carrier_hint=carrier)
    failure: Failure | None = None
    result = None
    with watching() as seen:
        try:
            result = choice.parser.parse(file, ctx, choice.template)
            validate(result)
        except BillParseError as exc:
            failure = ("INVALID" if result is not None else "ERROR", exc)
        except Exception as exc:
            failure = ("ERROR", exc)
    return result, failure, seen


def _print_json(
    report: dict[str, Any], result: ParseResult | None, failure: Failure | None
) -> None:
    """The --json report: the choice, bills, lines and warnings, and the error if any (a
    crash is `parser_crash` with the exception); exit 1 when ingest would refuse the file."""
    if result is not None:
        report["bills"] = result.headers.to_dicts()
        report["lines"] = result.lines.to_dicts()
        report["warnings"] = result.warnings
    if failure:
        problem = failure[1]
        report |= {
            "status": "refused",
            "error": _error(problem)
            if isinstance(problem, BillParseError)
            else {"code": "parser_crash", "reason": f"{type(problem).__name__}: {problem}"},
        }
    else:
        report["status"] = "parsed"
    typer.echo(json.dumps(report, indent=1, default=str))
    if failure:
        raise typer.Exit(1)


def _show_result(result: ParseResult, rows: int) -> None:
    with pl.Config(tbl_rows=rows, tbl_cols=-1, tbl_width_chars=200, fmt_str_lengths=40):
        typer.echo(
            result.lines.select(
                "line_number",
                "tracking_number_raw",
                "shipment_date",
                "billed_weight_kg",
                "zone",
                "destination_country",
                "charge_type",
                "charge_code",
                "charge_description",
                "amount",
                "locator",
            )
        )
    for h in result.headers.iter_rows(named=True):
        stated = h["stated_total"]
        verdict = (
            "no stated total"
            if stated is None
            else (
                "foots"
                if stated == h["parsed_total"]
                else f"DOES NOT FOOT (diff {stated - h['parsed_total']})"
            )
        )
        typer.echo(
            f"bill {h['bill_number']} {h['carrier']} {h['bill_date']} {h['currency']}: "
            f"{h['line_count']} lines, parsed total {h['parsed_total']}, stated {stated}: {verdict}"
        )
    for warning in result.warnings:
        typer.echo(f"warning: {warning}")


@parsers_app.command("check")
def check(templates_dir: TemplatesDir = None) -> None:
    """Re-parse every template's example file and compare with its expected output."""
    registry = _registry(templates_dir)
    folders = [EXAMPLES_DIR] + ([templates_dir / "examples"] if templates_dir else [])
    failed = 0
    for folder in folders:
        for result in check_examples(registry, folder):
            failed += not result.ok
            typer.echo(f"{'ok  ' if result.ok else 'FAIL'} {result.template_id}: {result.message}")
    if failed:
        raise typer.Exit(1)


@parsers_app.command("example")
def example(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    template: Annotated[str, typer.Option("--template", "-t", help="Template id.")],
    templates_dir: TemplatesDir = None,
) -> None:
    """Record FILE as TEMPLATE's example, with what it parses into now as the expectation."""
    registry = _registry(templates_dir)
    folder = (templates_dir / "examples") if templates_dir else EXAMPLES_DIR
    try:
        target = record_example(registry, registry.template(template), file, folder)
    except (KeyError, BillParseError) as exc:
        typer.echo(f"not recorded: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"recorded {target} and its expected lines/headers")


@parsers_app.command("quarantine")
def show_quarantine(
    quarantine_dir: Annotated[Path, typer.Argument(help="The quarantine folder.")],
) -> None:
    """List quarantined files with their reason and locator."""
    records = list_quarantined(quarantine_dir)
    if not records:
        typer.echo("quarantine is empty")
    for r in records:
        where = f" at {r.locator}" if r.locator else ""
        typer.echo(f"{r.file_name} ({r.sha256[:12]}) [{r.error_code}] {r.reason}{where}")


template_app = typer.Typer(help="Write bill templates.", no_args_is_help=True)


@template_app.command("new")
def new_template(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the draft here (else stdout).")
    ] = None,
) -> None:
    """Draft a template from FILE's header and first rows, TODOs marking what to finish."""
    try:
        text = draft_template(file)
    except BillParseError as exc:
        typer.echo(f"no draft [{exc.code}] {exc.reason}", err=True)
        raise typer.Exit(1) from exc
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_bytes(out, text.encode("utf-8"))
        typer.echo(f"draft written to {out}")


if __name__ == "__main__":
    parsers_app()
