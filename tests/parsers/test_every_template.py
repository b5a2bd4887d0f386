"""Issue 12's bar for the template authors' tools: they answer "what does the rule see" and
"why not this template" for every template shipped.

One case per YAML file in parsers/templates (found from the folder, so a new template is
covered without editing this file): a real file of its layout goes through the real
`reckon parse` command with `--text` (the text and cells its rules run over), `--explain`
on its own file (matched, rule by rule) and on another template's file (not matched, naming
the first rule that failed), and `--json` (valid JSON whose lines and totals are the parse's).
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from demo.bills import write_bills
from demo.bills.samples import sample_bills
from parsers.base import ParseContext
from parsers.builtin.template_engine import SUFFIXES
from parsers.examples import example_input
from parsers.registry import BUILTIN_TEMPLATES, Registry
from parsers.templates_schema import Template
from reckon.cli import app
from storage.layout import DataLayout
from tests.parsers import published_layouts
from tests.parsers.conftest import SAMPLES

runner = CliRunner()
TEMPLATE_FILES = sorted(BUILTIN_TEMPLATES.glob("*.yaml"))
REGISTRY = Registry.default(use_entry_points=False)
BY_SOURCE = {Path(t.source).resolve(): t for t in REGISTRY.templates}


def _demo(carrier: str) -> Callable[[Path], Path | None]:
    """The demo generator's bill of `carrier` (demo/bills), one bill of three shipments."""

    def write(folder: Path) -> Path | None:
        headers, lines = sample_bills(carrier, shipments_per_bill=(3,))
        (path,) = write_bills(carrier, headers, lines, DataLayout(folder))
        return path

    return write


def _published(writer: Callable[..., published_layouts.Bill], name: str):
    """A file of a carrier's published layout (tests/parsers/published_layouts.py)."""

    def write(folder: Path) -> Path | None:
        path = folder / name
        path.write_bytes(writer(3).data)
        return path

    return write


def _sample(name: str) -> Callable[[Path], Path | None]:
    """A public sample under ../shared/samples (None when they are absent: not in the repo)."""

    def find(folder: Path) -> Path | None:
        path = SAMPLES / name
        return path if path.is_file() else None

    return find


LAYOUT_FILES: dict[str, Callable[[Path], Path | None]] = {
    "dhl-mybill-csv": _demo("DHL"),
    "fourpx-statement-xml": _demo("FOURPX"),
    "yanwen-statement-pdf": _demo("YANWEN"),
    "yunexpress-statement-xlsx": _demo("YUNEXPRESS"),
    "dhl-express-invoice-csv": _published(published_layouts.dhl_express_invoice, "dhl.csv"),
    "fedex-billing-online-csv": _published(published_layouts.fedex_billing_online, "fedex.csv"),
    "ups-billing-data-csv": _published(published_layouts.ups_billing_data, "ups-billing.csv"),
    "invoice2data-oyo-pdf": _sample("invoice2data/oyo.pdf"),
    "invoice2data-sammymaystone-pdf": _sample("invoice2data/SammyMaystoneLinesTest.pdf"),
}
"""How to get a file of each template's layout. A template not listed here is tested on its
recorded example (parsers/templates/examples, `reckon parsers example`): so is
ups-api-envelope-json, whose files are the HTTP connector's envelopes (the demo writes the
carrier API's invoice documents, not envelopes)."""


def layout_file(template: Template, folder: Path) -> Path | None:
    """A real file of `template`'s layout, written under `folder` (None: shared samples
    absent); a template with neither a writer nor an example fails the test."""
    folder = folder / template.id
    folder.mkdir(parents=True, exist_ok=True)
    if template.id in LAYOUT_FILES:
        return LAYOUT_FILES[template.id](folder)
    example = example_input(template)
    if example is None:
        pytest.fail(
            f"template {template.id} has no file to test the authors' tools on: record an "
            "example (`reckon parsers example FILE -t ID`) or add it to LAYOUT_FILES"
        )
    return example


def other_file(template: Template, folder: Path) -> tuple[Template, Path]:
    """A file of another template's layout, of the same format when one is at hand (so a
    content rule, not the file type, is what fails)."""
    others = sorted(
        (t for t in REGISTRY.templates if t.id != template.id),
        key=lambda t: (t.format != template.format, t.id),
    )
    for other in others:
        path = layout_file(other, folder)
        if path is not None:
            return other, path
    pytest.fail(f"no file of any other template's layout for {template.id}")


@pytest.fixture(params=TEMPLATE_FILES, ids=[p.stem for p in TEMPLATE_FILES])
def shipped(request, tmp_path) -> tuple[Template, Path]:
    template = BY_SOURCE.get(request.param.resolve())
    if template is None:
        pytest.fail(f"{request.param.name} did not load: {REGISTRY.template_errors}")
    path = layout_file(template, tmp_path)
    if path is None:
        pytest.skip(f"shared samples not present at {SAMPLES.resolve()} (outside the repo)")
    return template, path


def reckon_parse(path: Path, *options: str) -> tuple[int, str, str]:
    """`reckon parse PATH OPTIONS` through the real CLI app: (exit code, stdout, output)."""
    result = runner.invoke(app, ["parse", str(path), *options])
    return result.exit_code, result.stdout, result.output


def section(output: str, title: str) -> list[str]:
    """The lines of `output` under the `--- title...` line, up to the next section."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"--- {title}")), None)
    assert start is not None, f"no section {title!r} in:\n{output}"
    rest = lines[start + 1 :]
    end = next((i for i, line in enumerate(rest) if line.startswith("--- ")), len(rest))
    return rest[:end]


def considered(output: str) -> dict[str, tuple[float, str]]:
    """The `--explain` listing: template id -> (score, reason)."""
    found = re.findall(r"^  (\d\.\d\d) [\w-]+ \+ (\S+): (.*)$", output, re.MULTILINE)
    return {template: (float(score), reason) for score, template, reason in found}


def first_row(path: Path, delimiter: str) -> list[str]:
    """The file's first non-blank row as cells (the header-less CSV layouts)."""
    line = next(x for x in path.read_text(encoding="utf-8-sig").splitlines() if x.strip())
    return next(csv.reader([line], delimiter=delimiter))


def _parse(template: Template, path: Path):
    """The parse `reckon parse` reports on, done through the registry directly."""
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    ctx = ParseContext(sha256=sha, source_name=path.name)
    choice, result = REGISTRY.parse(path, ctx)
    assert choice.template is not None and choice.template.id == template.id
    return result


def test_text_shows_what_the_rules_see(shipped):
    template, path = shipped
    code, _, output = reckon_parse(path, "--text")
    assert code == 0, output
    if template.match.contains:
        searched = section(output, "the text match.contains searches")
        for text in template.match.contains:
            assert any(text in line for line in searched), (text, searched)
    if template.match.first_row:
        cells = first_row(path, template.read.delimiter or ",")
        checked = section(output, "the first row's cells match.first_row checks")
        for n, pattern in template.match.first_row.items():
            assert f"cell {n:>3} {cells[n - 1]!r} fits {pattern!r}" in checked
    cells = section(output, "cells the line rules read")
    parsed = _parse(template, path)
    first = parsed.lines.row(0, named=True)
    assert any(first["tracking_number_raw"] in line for line in cells), cells
    fields = section(output, "header fields: where each rule reads and what it found")
    number = parsed.headers["bill_number"][0]
    assert any(line.split()[0] == "bill_number" and f"-> {number!r}" in line for line in fields)


def test_explain_reports_the_template_matched_rule_by_rule(shipped):
    template, path = shipped
    code, _, output = reckon_parse(path, "--explain")
    assert code == 0, output
    score, reason = considered(output)[template.id]
    rules = template.match
    passed = [
        *([f"name matches {rules.filename!r}"] if rules.filename else []),
        *([f"text contains {rules.contains}"] if rules.contains else []),
        *([f"first row fits cells {sorted(rules.first_row)}"] if rules.first_row else []),
    ]
    assert passed, f"{template.id} has no match rules: it can never be chosen alone"
    assert reason == f"template {template.id}: " + "; ".join(passed)
    assert score == round((0.2 if rules.filename else 0.0) + 0.7, 2)
    assert f"with template {template.id}@{template.version} " in output


ORDER = ("format", "filename", "contains", "first_row")
FAILURES = {
    "format": r": not (a \w+ file|XML|JSON|a PDF)$",
    "filename": r": name does not match ",
    "contains": r": text lacks \[",
    "first_row": r": first row's cell \d+ .* does not match ",
}


def test_explain_on_another_layout_names_the_first_rule_that_failed(shipped, tmp_path):
    template, _ = shipped
    other, path = other_file(template, tmp_path / "others")
    code, _, output = reckon_parse(path, "--explain")
    assert code == 0, output
    assert f"with template {other.id}@" in output
    score, reason = considered(output)[template.id]
    assert score == 0.0
    assert reason.startswith(f"{template.id}: "), reason
    failed = [rule for rule, pattern in FAILURES.items() if re.search(pattern, reason)]
    assert len(failed) == 1, f"{reason!r} names no rule (or several)"
    rule = failed[0]
    # The rule it names fails on this file, and every rule before it passes.
    earlier = ORDER[: ORDER.index(rule)]
    suffix_fits = path.suffix.lower() in SUFFIXES[template.format]
    assert suffix_fits if "format" in earlier else (rule != "format" or not suffix_fits)
    if template.match.filename:
        fits = re.search(template.match.filename, path.name) is not None
        assert fits if "filename" in earlier else (rule != "filename" or not fits)
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    readable = template.format in ("csv", "xml", "json")  # else the engine extracts the text
    if "contains" in earlier and readable:
        assert all(c in text for c in template.match.contains)
    if rule == "contains":
        missing = ast.literal_eval(reason.split("text lacks ", 1)[1])
        assert missing and set(missing) <= set(template.match.contains)
        if readable:
            assert not any(m in text for m in missing)


def test_json_is_valid_and_its_lines_and_totals_are_the_parse(shipped):
    template, path = shipped
    code, stdout, output = reckon_parse(path, "--json")
    assert code == 0, output
    report = json.loads(stdout)
    assert report["status"] == "parsed"
    assert report["chosen"]["template"] == f"{template.id}@{template.version}"
    parsed = _parse(template, path)
    assert report["lines"] == json.loads(json.dumps(parsed.lines.to_dicts(), default=str))
    assert len(report["bills"]) == parsed.headers.height >= 1
    for bill in report["bills"]:
        mine = [line for line in report["lines"] if line["bill_number"] == bill["bill_number"]]
        total = sum((Decimal(line["amount"]) for line in mine), Decimal(0))
        assert (len(mine), total) == (bill["line_count"], Decimal(bill["parsed_total"]))
        if bill["stated_total"] is not None:
            assert Decimal(bill["stated_total"]) == total
