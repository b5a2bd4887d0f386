"""Every public sample bill is parsed into canonical lines or quarantined with its reason.

Expected values are read off the sample files by hand (see each SOURCES.md):
X12 amounts are N2 (two implied decimals), EN 16931 totals are the
tax-exclusive totals, credit notes are negated, invoice2data's expected JSON
gives the invoice numbers and dates.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from parsers.ingest import ingest_file, list_quarantined
from tests.parsers.conftest import samples_dir

D = Decimal

PARSED = {
    # file: (parser, bill_number, currency, stated total, line amounts, charge types)
    "x12-oopfactory/CN_FreightInvoiceSample1_X12-210.txt": (
        "x12-freight-invoice",
        "28066945",
        "USD",
        D("2754.33"),
        [D("2510.00"), D("244.33")],
        ["FREIGHT", "OTHER"],
    ),
    "x12-oopfactory/CN_FreightInvoiceSample2_X12-210.txt": (
        "x12-freight-invoice",
        "28061234",
        "CAD",
        D("2083.60"),
        [D("1705.00"), D("244.33"), D("134.27")],
        ["FREIGHT", "OTHER", "OTHER"],
    ),
    "x12-oopfactory/DBSchenker_SampleMotorFreightDetailsAndInvoice_X12-210.txt": (
        "x12-freight-invoice",
        "210028835",
        "USD",
        D("46.40"),
        [D("45.00"), D("1.40")],
        ["OTHER", "FUEL"],
    ),
    "en16931-connectingeurope/ubl-tc434-example3.xml": (
        "en16931-xml",
        "TOSL108",
        "DKK",
        D("1700.00"),
        [D("800.00"), D("800.00"), D("100.00")],
        ["OTHER", "OTHER", "FREIGHT"],
    ),
    "en16931-connectingeurope/CII_example3.xml": (
        "en16931-xml",
        "TOSL108",
        "DKK",
        D("900.00"),
        [D("800.00"), D("100.00")],
        ["OTHER", "FREIGHT"],
    ),
    "en16931-connectingeurope/ubl-tc434-example2.xml": (
        "en16931-xml",
        "TOSL108",
        "NOK",
        D("1436.50"),
        [D("1273.00"), D("-3.96"), D("4.96"), D("-25.00"), D("187.50"), D("-100.00"), D("100.00")],
        ["OTHER"] * 6 + ["FREIGHT"],
    ),
    "en16931-connectingeurope/ubl-tc434-creditnote1.xml": (
        "en16931-xml",
        "018304 / 28865",
        "EUR",
        D("-100.11"),
        [D("-100.11")],
        ["OTHER"],
    ),
    "facturx-zugferd-mustang/EN16931_Einfach.pdf": (
        "factur-x",
        "471102",
        "EUR",
        D("473.00"),
        [D("198.00"), D("275.00")],
        ["OTHER", "OTHER"],
    ),
    "facturx-zugferd-mustang/ZTESTZUGFERD_1_INVDSS_012015738820PDF-1.pdf": (
        "factur-x",
        "2015738820",
        "EUR",
        D("376.37"),
        [D("376.37")],
        ["OTHER"],
    ),
    "facturx-zugferd-mustang/validV1WithAdditionalData.pdf": (
        "factur-x",
        "R87654321012345",
        "EUR",
        D("448.99"),
        [
            D("100.00"),
            D("72.50"),
            D("0.00"),
            D("180.00"),
            D("46.50"),
            D("58.20"),
            D("-5.60"),
            D("-2.61"),
            D("-2.50"),
            D("-0.50"),
            D("3.00"),
        ],
        ["OTHER"] * 10 + ["FREIGHT"],
    ),
    "invoice2data/SammyMaystoneLinesTest.pdf": (
        "template-pdf",
        "invoice_number_1",
        "USD",
        D("127.50"),
        [D("120.00"), D("7.50")],
        ["OTHER", "OTHER"],
    ),
    "en16931-connectingeurope/EDIFACT_EXAMPLE3.TXT": (
        "edifact-invoic",
        "TOSL108",
        "DKK",
        D("900.00"),
        [D("100.00"), D("800.00")],
        ["FREIGHT", "OTHER"],
    ),
    "invoice2data/oyo.pdf": (
        "template-pdf",
        "IBZY2087",
        "INR",
        D("1939.00"),
        [D("1939.00")],
        ["OTHER"],
    ),
}

QUARANTINED = {
    "x12-oopfactory/FedEx_SampleInvoice1_X12-110.txt": (
        "totals_mismatch",
        "60.13 but the bill states 61.41",
    ),
    "facturx-zugferd-mustang/corruptedV2PDF.pdf": ("corrupt_pdf", "damaged PDF"),
    "facturx-zugferd-mustang/validAvoir_FR_type380_BASICWL.pdf": ("no_lines", "BASIC WL"),
}


@pytest.mark.parametrize("name", sorted(PARSED))
def test_sample_parses_into_canonical_lines(tmp_path, registry, name):
    path = samples_dir(name.split("/")[0]) / name.split("/")[1]
    outcome = ingest_file(path, tmp_path / "raw", tmp_path / "q", registry=registry)
    parser, number, currency, total, amounts, types = PARSED[name]
    assert outcome.status == "parsed", outcome.reason
    assert outcome.parser == parser
    header = outcome.headers.row(0, named=True)
    assert (header["bill_number"], header["currency"], header["stated_total"]) == (
        number,
        currency,
        total,
    )
    assert header["parsed_total"] == total
    assert outcome.lines["amount"].to_list() == amounts
    assert outcome.lines["charge_type"].to_list() == types


def test_invoice2data_expected_fields_are_recovered(tmp_path, registry):
    """invoice2data's own expected JSON: invoice number and date per sample."""
    folder = samples_dir("invoice2data")
    import json

    for pdf, expected in (
        ("SammyMaystoneLinesTest.pdf", "SammyMaystoneLinesTest.json"),
        ("oyo.pdf", "oyo.json"),
    ):
        want = json.loads((folder / expected).read_text())[0]
        outcome = ingest_file(folder / pdf, tmp_path / "raw", tmp_path / "q", registry=registry)
        header = outcome.headers.row(0, named=True)
        assert header["bill_number"] == want["invoice_number"]
        assert header["bill_date"].isoformat() == want["date"]
        assert header["currency"] == want["currency"]


def test_x12_fedex_110_lines_keep_airbill_ship_date_and_weight(registry):
    """The 110 does not foot (quarantined), but what was read is right: N9*AW per LX loop,
    P1 ship date, L0 weight in pounds (L0-11 = L), N2 amounts with negative discounts."""
    import hashlib

    from parsers.base import ParseContext

    path = samples_dir("x12-oopfactory") / "FedEx_SampleInvoice1_X12-110.txt"
    ctx = ParseContext(hashlib.sha256(path.read_bytes()).hexdigest(), path.name)
    _, result = registry.parse(path, ctx)
    first = result.lines.row(0, named=True)
    assert (first["tracking_number"], str(first["shipment_date"]), first["weight_unit"]) == (
        "333333333333",
        "2005-06-22",
        "LB",
    )
    assert str(first["billed_weight_kg"]) == "0.454"
    assert result.lines["amount"][:4].to_list() == [D("16.60"), D("0.75"), D("2.00"), D("-10.10")]
    assert result.lines["charge_type"][:4].to_list() == ["OTHER", "FUEL", "RESIDENTIAL", "OTHER"]


def test_x12_delimiters_come_from_the_isa_header(tmp_path, registry):
    path = (
        samples_dir("x12-oopfactory") / "DBSchenker_SampleMotorFreightDetailsAndInvoice_X12-210.txt"
    )
    outcome = ingest_file(path, tmp_path / "raw", tmp_path / "q", registry=registry)
    # Segment terminator '.' read from ISA; shipment id from B3-03.
    assert outcome.lines["tracking_number"].to_list() == ["084125T1", "084125T1"]
    assert outcome.headers["carrier"][0] == "SIFF"
    assert outcome.lines["locator"].to_list() == ["segment=21;LX=1", "segment=22;LX=1"]


@pytest.mark.parametrize("name", sorted(QUARANTINED))
def test_broken_or_unfooting_sample_is_quarantined_with_its_reason(tmp_path, registry, name):
    path = samples_dir(name.split("/")[0]) / name.split("/")[1]
    code, text = QUARANTINED[name]
    outcome = ingest_file(path, tmp_path / "raw", tmp_path / "q", registry=registry)
    assert outcome.status == "quarantined"
    assert outcome.error_code == code
    assert text in outcome.reason
    (record,) = list_quarantined(tmp_path / "q")
    assert (record.file_name, record.error_code, record.sha256) == (path.name, code, outcome.sha256)


def test_every_sample_bill_is_accounted_for():
    """No sample file is forgotten: each is in PARSED or QUARANTINED (rate sheets and the
    invoice2data templates/expected outputs are not bills)."""
    root = samples_dir("x12-oopfactory").parent
    bills = {
        f"{p.parent.name}/{p.name}"
        for p in root.glob("*/*")
        if p.suffix.lower() in (".txt", ".xml", ".pdf") and p.name != "SOURCES.md"
    }
    assert bills == set(PARSED) | set(QUARANTINED)
