"""The analyst CLI: list, parse (choice, lines, totals, errors with locators), quarantine."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from demo.bills import write_bills
from demo.bills.samples import sample_bills
from parsers.cli import parsers_app
from parsers.ingest import ingest_file
from storage.layout import DataLayout

runner = CliRunner()


def yunexpress(tmp_path: Path) -> list[Path]:
    headers, lines = sample_bills("YUNEXPRESS", shipments_per_bill=(4, 2))
    return write_bills("YUNEXPRESS", headers, lines, DataLayout(tmp_path))


def test_list_shows_parsers_templates_and_fingerprint():
    result = runner.invoke(parsers_app, ["list"])
    assert result.exit_code == 0
    assert "registry fingerprint:" in result.output
    for name in ("x12-freight-invoice", "factur-x", "template-pdf", "yunexpress-statement-xlsx"):
        assert name in result.output


def test_parse_shows_choice_lines_and_that_the_bill_foots(tmp_path):
    good, _ = yunexpress(tmp_path)
    result = runner.invoke(parsers_app, ["parse", str(good)])
    assert result.exit_code == 0, result.output
    assert "chosen: template-xlsx 2 with template yunexpress-statement-xlsx@1" in result.output
    assert "sheet=账单明细;row=6" in result.output
    assert ": foots" in result.output
    assert "valid: would be accepted by ingest" in result.output


def test_parse_reports_a_total_that_does_not_foot_and_fails(tmp_path):
    _, bad = yunexpress(tmp_path)
    result = runner.invoke(parsers_app, ["parse", str(bad)])
    assert result.exit_code == 1
    assert "DOES NOT FOOT (diff 10.01)" in result.output
    assert "INVALID [totals_mismatch]" in result.output


def test_a_forced_template_is_tried_and_its_error_shown_with_the_locator(tmp_path):
    good, _ = yunexpress(tmp_path)
    result = runner.invoke(parsers_app, ["parse", str(good), "--template", "dhl-mybill-csv"])
    assert result.exit_code == 1
    assert "forced: --template dhl-mybill-csv" in result.output
    assert "ERROR [undecodable_text]" in result.output and "at byte=" in result.output


def test_an_unknown_template_is_not_parsed(tmp_path):
    good, _ = yunexpress(tmp_path)
    result = runner.invoke(parsers_app, ["parse", str(good), "--template", "nope"])
    assert result.exit_code == 1
    assert "NOT PARSED [no_parser]" in result.output


def test_parse_error_carries_its_locator(tmp_path):
    text = "ISA*00*          *00*          *ZZ*X              *ZZ*Y              *060628*0035*U*00401*000000340*0*P*>~"
    body = text + "ST*210*1~B3**INV1**PP**20060628*100~LX*1~L1****1OO0~SE*4*1~"
    path = tmp_path / "bad-amount.edi"
    path.write_text(body)
    result = runner.invoke(parsers_app, ["parse", str(path)])
    assert result.exit_code == 1
    assert "ERROR [invalid_value]" in result.output
    assert "at segment=5;LX=1" in result.output


def test_quarantine_lists_files_and_reasons(tmp_path):
    _, bad = yunexpress(tmp_path)
    ingest_file(bad, tmp_path / "raw", tmp_path / "q")
    result = runner.invoke(parsers_app, ["quarantine", str(tmp_path / "q")])
    assert result.exit_code == 0
    assert bad.name in result.output and "[totals_mismatch]" in result.output
