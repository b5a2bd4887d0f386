"""`reckon parsers ...`: the tool an analyst uses while writing a template.

`list` shows every parser and template (with versions and the registry
fingerprint); `parse FILE` shows which parser was chosen and why, the parsed
lines, the totals check, and any error with its locator, without touching the
raw store or the quarantine; `check` re-parses every template's example against
its expected output and `example` records one; `quarantine` lists quarantined files. Mounted by
the lead as `reckon parsers`; standalone: `python -m parsers.cli`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from parsers.base import ParseContext
from parsers.examples import EXAMPLES_DIR, check_examples, record_example
from parsers.ingest import list_quarantined
from parsers.model import BillParseError
from parsers.registry import Registry
from parsers.validate import validate
from storage.config import ConfigError

parsers_app = typer.Typer(
    help="Bill parsers and templates (without a subcommand: list them).",
    invoke_without_command=True,
)

TemplatesDir = Annotated[
    Path | None,
    typer.Option("--templates-dir", help="Extra folder of YAML templates (besides built-ins)."),
]


def _registry(templates_dir: Path | None) -> Registry:
    try:
        return Registry.default(extra_templates=templates_dir)
    except ConfigError as exc:
        typer.echo(f"template error: {exc}", err=True)
        raise typer.Exit(2) from exc


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
) -> None:
    """Parse FILE and show the choice, the lines, the totals check and any error."""
    registry = _registry(templates_dir)
    sha = hashlib.sha256(file.read_bytes()).hexdigest()
    ctx = ParseContext(sha256=sha, source_name=file.name, carrier_hint=carrier)
    try:
        choice = registry.choose(file, carrier, template, file.name)
    except BillParseError as exc:
        typer.echo(f"NOT PARSED [{exc.code}] {exc.reason}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(choice.explain())
    try:
        result = choice.parser.parse(file, ctx, choice.template)
    except BillParseError as exc:
        where = f" at {exc.locator}" if exc.locator else ""
        typer.echo(f"ERROR [{exc.code}] {exc.reason}{where}", err=True)
        raise typer.Exit(1) from exc
    except Exception as exc:
        typer.echo(f"ERROR [parser_crash] {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
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
    try:
        validate(result)
    except BillParseError as exc:
        where = f" at {exc.locator}" if exc.locator else ""
        typer.echo(f"INVALID [{exc.code}] {exc.reason}{where}", err=True)
        raise typer.Exit(1) from exc
    typer.echo("valid: would be accepted by ingest")


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


if __name__ == "__main__":
    parsers_app()
