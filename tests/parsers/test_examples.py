"""Template examples: each shipped example still parses into its expected output."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from parsers.cli import parsers_app
from parsers.examples import EXAMPLES_DIR, check_examples

DEMO_TEMPLATES = {
    "dhl-mybill-csv",
    "fourpx-statement-xml",
    "ups-api-envelope-json",
    "yanwen-statement-pdf",
    "yunexpress-statement-xlsx",
}


def test_every_demo_template_ships_an_example_that_still_parses_as_expected(registry):
    checks = check_examples(registry)
    assert {c.template_id for c in checks} == DEMO_TEMPLATES
    assert all(c.ok for c in checks), [c.message for c in checks if not c.ok]


def test_a_changed_reading_is_reported_with_row_and_field(tmp_path, registry):
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES_DIR, folder)
    expected = folder / "dhl-mybill-csv.lines.csv"
    head, first, *rest = expected.read_text().splitlines()
    amount_at = head.split(",").index("amount")
    cells = first.split(",")
    cells[amount_at] = "0.01"
    expected.write_text("\n".join([head, ",".join(cells), *rest]) + "\n")
    (failed,) = [c for c in check_examples(registry, folder) if not c.ok]
    assert failed.template_id == "dhl-mybill-csv"
    assert "lines row 1: amount" in failed.message and "'0.01'" in failed.message


def test_cli_check_passes_and_example_records_a_new_one(tmp_path):
    runner = CliRunner()
    result = runner.invoke(parsers_app, ["check"])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok   ") == len(DEMO_TEMPLATES)
    templates = tmp_path / "templates"
    templates.mkdir()
    source = tmp_path / "bill.xml"
    shutil.copyfile(EXAMPLES_DIR / "fourpx-statement-xml.xml", source)
    shutil.copyfile(
        EXAMPLES_DIR.parent / "fourpx-statement-xml.yaml",
        templates / "mine.yaml",
    )
    (templates / "mine.yaml").write_text(
        (templates / "mine.yaml")
        .read_text()
        .replace("id: fourpx-statement-xml", "id: mine-xml")
        .replace("carrier: FOURPX", "carrier: MINE")
    )
    result = runner.invoke(
        parsers_app,
        ["example", str(source), "--template", "mine-xml", "--templates-dir", str(templates)],
    )
    assert result.exit_code == 0, result.output
    assert (templates / "examples" / "mine-xml.lines.csv").exists()
