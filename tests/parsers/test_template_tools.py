"""Template authors' tools (issue 12.2) and declared decimal separators (issue 15.6).

`reckon parse --json/--text/--explain`, templates validated at load (regexes compiled,
one capture group where a value is taken, errors naming file, template and field), an
invalid template skipped without stopping the others, unmapped charge columns reported,
`reckon template new`, amounts that do not fit the declared decimal separator refused
(never rescaled), and per-row totals that must equal their charges.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from demo.bills import write_bills
from demo.bills.samples import sample_bills
from parsers.cli import parsers_app
from parsers.ingest import ingest_file
from parsers.registry import BUILTIN_TEMPLATES, Registry
from parsers.templates_schema import load_templates
from reckon.cli import app
from storage.config import ConfigError
from storage.layout import DataLayout

runner = CliRunner()

TEMPLATE = {
    "id": "acme-csv",
    "version": 1,
    "carrier": "ACME",
    "format": "csv",
    "match": {"contains": ["Acme Parcel Invoice"]},
    "read": {
        "header_contains": "Tracking",
        "total_row_column": "Tracking",
        "total_row_regex": "^Total:",
    },
    "bill": {
        "bill_number": {"regex": "Invoice: (\\S+)"},
        "bill_date": {"regex": "Date: (\\S+)", "format": "%Y-%m-%d"},
        "currency": {"regex": "Currency: ([A-Z]{3})"},
        "stated_total": {"regex": "Total: (\\S+)"},
    },
    "lines": {
        "tracking_number": {"column": "Tracking"},
        "row_total": {"column": "Row Total"},
        "charges": [
            {"amount_column": "Freight", "type": "FREIGHT"},
            {"amount_column": "Fuel", "type": "FUEL"},
        ],
    },
}


def acme(tmp_path: Path, rows: list[str], total: str, **read) -> tuple[Path, Path]:
    """An Acme bill (semicolon-separated) and a folder holding its template."""
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    template = {**TEMPLATE, "read": {**TEMPLATE["read"], "delimiter": ";", **read}}
    (folder / "acme.yaml").write_text(yaml.safe_dump(template))
    bill = tmp_path / "acme.csv"
    bill.write_text(
        "Acme Parcel Invoice\nInvoice: A-1\nDate: 2026-03-01\nCurrency: EUR\n"
        "Tracking;Freight;Fuel;Row Total;Insurance\n" + "\n".join(rows) + f"\nTotal: {total}\n"
    )
    return bill, folder


def ingest(tmp_path: Path, bill: Path, folder: Path):
    registry = Registry.default(extra_templates=folder, use_entry_points=False)
    return ingest_file(bill, tmp_path / "raw", tmp_path / "q", registry=registry)


def test_a_dot_decimal_bill_parses_and_foots(tmp_path):
    bill, folder = acme(tmp_path, ["T1;30.60;2.40;33.00;0", "T2;1,234.50;0.50;1235.00;"], "1268.00")
    outcome = ingest(tmp_path, bill, folder)
    assert outcome.status == "parsed", outcome.reason
    assert [str(a) for a in outcome.lines["amount"]] == ["30.60", "2.40", "1234.50", "0.50"]


@pytest.mark.parametrize(
    ("value", "read"),
    [("30,60", {}), ("1.234,5", {}), ("30.60", {"decimal_separator": ","})],
)
def test_an_amount_that_does_not_fit_the_separator_is_refused(tmp_path, value, read):
    """'30,60' under a dot-decimal template used to read as 3060 and still foot."""
    other = "2,40" if read else "2.40"
    bill, folder = acme(tmp_path, [f"T1;{value};{other};;"], "0", **read)
    outcome = ingest(tmp_path, bill, folder)
    assert outcome.status == "quarantined"
    assert outcome.error_code == "invalid_value"
    assert f"acme.csv bill A-1: amount {value!r} does not fit" in outcome.reason
    assert "never rescaled" in outcome.reason
    assert outcome.locator == "row=6;charge=1"


def test_decimal_comma_is_the_older_spelling_of_the_comma_separator(tmp_path):
    bill, folder = acme(tmp_path, ["T1;30,60;2,40;33,00;"], "33,00", decimal_comma=True)
    outcome = ingest(tmp_path, bill, folder)
    assert outcome.status == "parsed", outcome.reason
    assert outcome.headers["stated_total"][0] == outcome.headers["parsed_total"][0]


def test_a_row_total_that_disagrees_with_its_charges_is_refused_with_the_row(tmp_path):
    bill, folder = acme(tmp_path, ["T1;30.60;2.40;33.00;", "T2;10.00;1.00;11.50;"], "44.00")
    outcome = ingest(tmp_path, bill, folder)
    assert outcome.status == "quarantined"
    assert outcome.error_code == "totals_mismatch"
    assert outcome.reason == "row total 11.50 but the row's charges sum to 11.00 (difference 0.50)"
    assert outcome.locator == "row=7"


def test_an_unmapped_charge_column_is_reported(tmp_path):
    bill, folder = acme(tmp_path, ["T1;30.60;2.40;33.00;1.25"], "33.00")
    outcome = ingest(tmp_path, bill, folder)
    assert outcome.status == "parsed", outcome.reason
    assert outcome.warnings == [
        "column 'Insurance' looks like a charge (1 non-zero amounts) but template acme-csv "
        "does not map it"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"bill": {**TEMPLATE["bill"], "currency": {"regex": "Currency [A-Z]{3}"}}},
            "bill.currency.regex 'Currency [A-Z]{3}' has 0 capture groups; it needs exactly one",
        ),
        (
            {"bill": {**TEMPLATE["bill"], "bill_number": {"regex": "Invoice: (\\S+"}}},
            "bill.bill_number.regex 'Invoice: (\\\\S+' does not compile: missing ), unterminated",
        ),
        ({"match": {"filename": "*.csv"}}, "match.filename '*.csv' does not compile"),
    ],
)
def test_templates_are_validated_when_they_load(tmp_path, change, message):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**TEMPLATE, **change}))
    with pytest.raises(ConfigError) as caught:
        load_templates([tmp_path])
    assert str(tmp_path / "bad.yaml") in str(caught.value)
    assert "template 'acme-csv'" in str(caught.value)
    assert message in str(caught.value)


def test_a_pdf_row_regex_must_name_every_column_the_rules_read(tmp_path):
    template = yaml.safe_load((BUILTIN_TEMPLATES / "yanwen-statement-pdf.yaml").read_text())
    template["read"]["line_regex"] = template["read"]["line_regex"].replace("?P<zone>", "")
    (tmp_path / "y.yaml").write_text(yaml.safe_dump(template))
    with pytest.raises(ConfigError, match=r"lines read \['zone'\], but read.line_regex names"):
        load_templates([tmp_path])


def test_an_invalid_template_is_reported_and_skipped_and_the_others_still_parse(tmp_path):
    bill, folder = acme(tmp_path, ["T1;30.60;2.40;33.00;"], "33.00")
    (folder / "broken.yaml").write_text(yaml.safe_dump({**TEMPLATE, "id": "x", "match": 3}))
    (folder / "again.yaml").write_text(yaml.safe_dump(TEMPLATE))  # a second acme-csv id
    registry = Registry.default(extra_templates=folder, use_entry_points=False)
    assert len(registry.template_errors) == 2
    assert registry.template_errors[0].startswith("template again.yaml skipped: ")
    assert "already defined" in registry.template_errors[0]
    assert "broken.yaml: match" in registry.template_errors[1]
    assert {t.id for t in registry.templates} >= {"acme-csv", "dhl-mybill-csv"}
    outcome = ingest_file(bill, tmp_path / "raw", tmp_path / "q", registry=registry)
    assert outcome.status == "parsed"
    result = runner.invoke(parsers_app, ["parse", str(bill), "--templates-dir", str(folder)])
    assert result.exit_code == 0
    assert "template error: template broken.yaml skipped" in result.output


def test_parse_json_is_machine_readable(tmp_path):
    bill, folder = acme(tmp_path, ["T1;30.60;2.40;33.00;"], "33.00")
    result = runner.invoke(
        parsers_app, ["parse", str(bill), "--templates-dir", str(folder), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "parsed"
    assert report["chosen"]["template"] == "acme-csv@1"
    assert report["bills"][0]["stated_total"] == "33.00"
    assert [line["amount"] for line in report["lines"]] == ["30.60", "2.40"]
    assert any(c["template"] == "dhl-mybill-csv" for c in report["considered"])


def test_parse_json_reports_a_refusal(tmp_path):
    bill, folder = acme(tmp_path, ["T1;30,60;2.40;;"], "33.00")
    result = runner.invoke(
        parsers_app, ["parse", str(bill), "--templates-dir", str(folder), "--json"]
    )
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert (error["code"], error["locator"]) == ("invalid_value", "row=6;charge=1")


def test_parse_text_shows_exactly_what_the_rules_see(tmp_path):
    bill, folder = acme(tmp_path, ["T1;30.60;2.40;33.00;"], "33.00")
    result = runner.invoke(
        parsers_app, ["parse", str(bill), "--templates-dir", str(folder), "--text"]
    )
    assert result.exit_code == 0, result.output
    assert "--- the file's rows as cells" in result.output
    assert "row   5 ['Tracking', 'Freight', 'Fuel', 'Row Total', 'Insurance']" in result.output
    assert "row=6: {'Tracking': 'T1', 'Freight': '30.60'" in result.output
    assert "--- the text header regexes search ---" in result.output
    assert "   2 'Invoice: A-1\\t\\t\\t\\t'" in result.output


def test_parse_text_shows_pdf_pages_line_by_line(tmp_path):
    headers, lines = sample_bills("YANWEN", shipments_per_bill=(3,))
    (pdf,) = write_bills("YANWEN", headers, lines, DataLayout(tmp_path))
    result = runner.invoke(parsers_app, ["parse", str(pdf), "--text"])
    assert result.exit_code == 0, result.output
    assert "--- page 1: the text row and table regexes run over ---" in result.output
    assert "'YANWEN LOGISTICS - Statement'" in result.output


def test_parse_explain_says_why_each_template_matched_or_not(tmp_path):
    bill, folder = acme(tmp_path, ["T1;30.60;2.40;33.00;"], "33.00")
    result = runner.invoke(
        parsers_app, ["parse", str(bill), "--templates-dir", str(folder), "--explain"]
    )
    assert result.exit_code == 0, result.output
    assert "0.70 template-csv + acme-csv: template acme-csv: text contains" in result.output
    assert (
        "0.00 template-csv + dhl-mybill-csv: dhl-mybill-csv: text lacks ['Line Type'"
        in result.output
    )
    assert (
        "0.00 template-xlsx + yunexpress-statement-xlsx: yunexpress-statement-xlsx: not a xlsx"
        in (result.output)
    )


def test_template_new_drafts_a_loadable_template(tmp_path):
    headers, lines = sample_bills("DHL", shipments_per_bill=(4,))
    (bill,) = write_bills("DHL", headers, lines, DataLayout(tmp_path))
    folder = tmp_path / "drafts"
    folder.mkdir()
    out = folder / "draft.yaml"
    result = runner.invoke(app, ["template", "new", str(bill), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (draft,) = load_templates([folder])
    assert draft.carrier == "TODO_CARRIER"
    assert draft.lines.tracking_number.column == "Shipment Number"
    assert draft.bill.bill_number.column == "Invoice Number"
    assert draft.lines.row_total.column == "Total Charge"
    assert [c.amount_column for c in draft.lines.charges][:2] == [
        "Charge 1 Amount",
        "Charge 2 Amount",
    ]
