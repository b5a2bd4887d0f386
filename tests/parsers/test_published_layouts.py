"""The carriers' published billing-file layouts (issue 12 point 4, issue 15 point 6).

Files are written from the layouts (tests/parsers/published_layouts.py, seeded), never
copied from a vendor. Each must be read exactly by its own template (the bill number,
currency and total, every charge with its canonical type, nothing reported unmapped), be
chosen by `reckon parse --explain` with the other published templates not matching, and be
unreadable without its template. Per-row totals that disagree with their charges, and a
charge in another currency than its bill's, are refused naming the row.
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from parsers.base import ParseContext
from parsers.cli import parsers_app
from parsers.ingest import ingest_file, list_quarantined
from parsers.model import BillParseError
from parsers.registry import BUILTIN_TEMPLATES, Registry
from parsers.templates_schema import Template, load_template
from parsers.validate import validate
from storage.config import ConfigError
from tests.parsers.published_layouts import (
    Bill,
    dhl_express_invoice,
    fedex_billing_online,
    ups_billing_data,
)

PUBLISHED = ("ups-billing-data-csv", "fedex-billing-online-csv", "dhl-express-invoice-csv")
LAYOUTS = {
    "ups-billing-data-csv": lambda seed: ups_billing_data(seed),
    "fedex-billing-online-csv": lambda seed: fedex_billing_online(seed),
    "dhl-express-invoice-csv": lambda seed: dhl_express_invoice(seed),
}
runner = CliRunner()


def _write(tmp_path: Path, bill: Bill, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(bill.data)
    return path


def _parse(registry: Registry, path: Path):
    ctx = ParseContext(hashlib.sha256(path.read_bytes()).hexdigest(), path.name)
    choice, result = registry.parse(path, ctx)
    validate(result)
    return choice, result


def _assert_read_exactly(result, bill: Bill) -> None:
    (header,) = result.headers.iter_rows(named=True)
    assert (header["bill_number"], header["currency"]) == (bill.number, bill.currency)
    assert header["stated_total"] == header["parsed_total"] == bill.total
    got = [
        (r["tracking_number"], r["charge_type"], r["amount"], r["charge_description"])
        for r in result.lines.iter_rows(named=True)
    ]
    assert got == [(x.tracking, x.charge_type, x.amount, x.description) for x in bill.lines]
    assert result.warnings == []


@pytest.mark.parametrize("template_id", PUBLISHED)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_published_layout_is_read_exactly_by_its_template(tmp_path, registry, template_id, seed):
    bill = LAYOUTS[template_id](seed)
    choice, result = _parse(registry, _write(tmp_path, bill, f"{bill.number}.csv"))
    assert choice.template is not None and choice.template.id == template_id
    _assert_read_exactly(result, bill)
    kinds = set(result.lines["charge_type"])
    assert {"FREIGHT", "FUEL"} <= kinds and len(kinds) >= 5, kinds
    assert (result.lines["amount"] < 0).any(), "every generated bill carries a credit"


@pytest.mark.parametrize("template_id", PUBLISHED)
def test_explain_shows_the_template_matching_and_the_other_layouts_not(tmp_path, template_id):
    bill = LAYOUTS[template_id](7)
    path = _write(tmp_path, bill, f"{bill.number}.csv")
    result = runner.invoke(parsers_app, ["parse", str(path), "--explain"])
    assert result.exit_code == 0, result.output
    assert f"\nchosen: template-csv 2 with template {template_id}@1 " in result.output
    for other in (t for t in PUBLISHED if t != template_id):
        assert f"0.00 template-csv + {other}: {other}: " in result.output
    assert "0.00 template-csv + dhl-mybill-csv: dhl-mybill-csv: " in result.output


@pytest.mark.parametrize("template_id", PUBLISHED)
def test_without_its_template_a_published_layout_is_not_read(tmp_path, registry, template_id):
    bill = LAYOUTS[template_id](4)
    path = _write(tmp_path, bill, f"{bill.number}.csv")
    others = [t for t in registry.templates if t.id != template_id]
    with pytest.raises(BillParseError) as caught:
        _parse(Registry(registry.parsers, others), path)
    assert caught.value.code == "no_parser"


def test_ups_weights_in_pounds_and_kilograms_are_converted_exactly(tmp_path, registry):
    bill = ups_billing_data(5)
    _, result = _parse(registry, _write(tmp_path, bill, "ups.csv"))
    units = set(result.lines["weight_unit"])
    assert units == {"LB", "KG"}
    pounds = result.lines.filter(result.lines["weight_unit"] == "LB").row(0, named=True)
    expected = (pounds["billed_weight"] * Decimal("0.45359237")).quantize(Decimal("0.001"))
    assert pounds["billed_weight_kg"] == expected


def test_ups_weights_in_ounces_are_converted_exactly(tmp_path, registry):
    """UPS bills letters in ounces (unit code O): 1 oz = 28.349523125 g, to the gram."""
    bill = ups_billing_data(6, weight_units="O")
    _, result = _parse(registry, _write(tmp_path, bill, "ups-oz.csv"))
    _assert_read_exactly(result, bill)
    assert set(result.lines["weight_unit"]) == {"OZ"}
    for row in result.lines.iter_rows(named=True):
        grams = row["billed_weight"] * Decimal("28.349523125")
        expected = (grams / 1000).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
        assert row["billed_weight_kg"] == expected


def test_one_ups_account_billed_in_two_currencies_gives_two_bills(tmp_path, registry):
    usd = ups_billing_data(8, currency="USD", account="X9Y8Z7")
    cad = ups_billing_data(9, currency="CAD", account="X9Y8Z7")
    for bill, name in ((usd, "usd.csv"), (cad, "cad.csv")):
        _, result = _parse(registry, _write(tmp_path, bill, name))
        _assert_read_exactly(result, bill)
        assert result.headers["account"][0] == "X9Y8Z7"


def test_a_ups_charge_in_another_currency_than_its_invoice_is_refused_with_the_row(tmp_path):
    bill = ups_billing_data(10, currency="USD", foreign_row_currency="EUR")
    path = _write(tmp_path, bill, "mixed.csv")
    outcome = ingest_file(path, tmp_path / "raw", tmp_path / "q")
    assert (outcome.status, outcome.error_code) == ("quarantined", "invalid_value")
    assert outcome.reason == (
        "charge in EUR on a USD bill (amounts in two currencies are never added)"
    )
    row = len(bill.lines) // 2 + 1
    assert outcome.locator == f"row={row}"


@pytest.mark.parametrize(
    ("writer", "name", "row"),
    [
        (lambda: fedex_billing_online(11, wrong_row=2), "fedex.csv", "row=4"),
        (lambda: dhl_express_invoice(12, wrong_row=3), "dhl.csv", "row=6"),
    ],
)
def test_a_row_total_that_disagrees_with_its_charges_is_refused_naming_file_and_row(
    tmp_path, writer, name, row
):
    path = _write(tmp_path, writer(), name)
    outcome = ingest_file(path, tmp_path / "raw", tmp_path / "q")
    assert (outcome.status, outcome.error_code) == ("quarantined", "totals_mismatch")
    assert outcome.locator == row
    assert outcome.reason.startswith("row total ") and "(difference 0.01)" in outcome.reason
    assert outcome.source_name == name
    (record,) = list_quarantined(tmp_path / "q")
    assert (record.file_name, record.locator) == (name, row)


def test_the_dhl_layout_is_read_with_either_delimiter(tmp_path, registry):
    bill = dhl_express_invoice(13, delimiter=",")
    _, result = _parse(registry, _write(tmp_path, bill, "dhl-comma.csv"))
    _assert_read_exactly(result, bill)


def test_the_demo_dhl_row_total_is_checked(tmp_path):
    """dhl-mybill-csv declares its per-row Total Charge: a row off by a cent is refused."""
    example = BUILTIN_TEMPLATES / "examples" / "dhl-mybill-csv.csv"
    rows = example.read_bytes().decode("utf-8-sig").splitlines()
    cells = rows[1].split(",")
    at = rows[0].split(",").index("Total Charge")
    cells[at] = str(Decimal(cells[at]) + Decimal("0.01"))
    path = tmp_path / "dhl-demo.csv"
    path.write_bytes(("\ufeff" + "\r\n".join([rows[0], ",".join(cells), *rows[2:]])).encode())
    outcome = ingest_file(path, tmp_path / "raw", tmp_path / "q")
    assert (outcome.status, outcome.error_code, outcome.locator) == (
        "quarantined",
        "totals_mismatch",
        "row=2",
    )


def _template(tmp_path: Path, **change) -> Template:
    data = yaml.safe_load((BUILTIN_TEMPLATES / "ups-billing-data-csv.yaml").read_text())
    for key, value in change.items():
        section, _, name = key.partition("__")
        data[section] = {**data[section], name: value} if name else value
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return load_template(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"read__header_contains": "Version"}, "column_names is for header-less files"),
        ({"read__column_names": {0: "Version"}}, "column_names positions start at 1"),
        (
            {"read__column_names": {1: "Version", 2: "Version"}},
            "column_names names ['Version'] at more than one position",
        ),
        ({"match__first_row": {1: "(2"}}, "match.first_row[1] '(2' does not compile"),
        (
            {"charge_rules": [{"match": "^FRT", "type": "POSTAGE"}]},
            "type 'POSTAGE' is not one of FREIGHT",
        ),
        ({"charge_rules": [{"match": "[", "type": "OTHER"}]}, "charge_rules[0].match '['"),
        ({"format": "xml"}, "match.first_row is for csv templates"),
    ],
)
def test_layout_features_are_validated_when_the_template_loads(tmp_path, change, message):
    with pytest.raises(ConfigError) as caught:
        _template(tmp_path, **change)
    assert message in str(caught.value)


def test_repeated_and_numbered_charge_titles_exclude_each_other(tmp_path):
    data = {
        "lines__charges": [
            {"amount_column": "Amount {n}", "pairs": 2, "repeated": 2},
        ],
        "lines__charge": None,
    }
    with pytest.raises(ConfigError) as caught:
        _template(tmp_path, **data)
    assert "give `pairs` (numbered titles) or `repeated` (one title N times)" in str(caught.value)
