"""Broken files of each format are quarantined with a specific reason; nothing else is affected.

Also the XML hardening: an entity bomb and an external entity are refused
before lxml sees them, and lxml itself is configured never to expand or fetch.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from lxml import etree

from demo.bills import write_bills
from demo.bills.samples import sample_bills
from parsers.ingest import ingest_many, list_quarantined
from parsers.model import BillParseError
from parsers.safe_xml import iter_elements, parse_bytes, safe_parser
from storage.layout import DataLayout

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<BillStatement xmlns="urn:4px:billing:statement:1.0"><StatementHeader>
<StatementNo>&lol9;</StatementNo></StatementHeader><ChargeList/></BillStatement>
"""


def xxe(secret: Path) -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE BillStatement [<!ENTITY xxe SYSTEM "file://{secret}">]>
<BillStatement xmlns="urn:4px:billing:statement:1.0"><StatementHeader>
<StatementNo>&xxe;</StatementNo></StatementHeader><ChargeList/></BillStatement>
""".encode()


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, Path]:
    """One footing bill per demo file format (the first sample bill of each carrier)."""
    layout = DataLayout(tmp_path_factory.mktemp("good"))
    out = {}
    for carrier in ("DHL", "FOURPX", "YUNEXPRESS", "YANWEN"):
        headers, lines = sample_bills(carrier, shipments_per_bill=(6,))
        out[carrier] = write_bills(carrier, headers, lines, layout)[0]
    return out


def broken_files(good: dict[str, Path], folder: Path) -> dict[str, tuple[Path, str, str]]:
    """name -> (file, expected error code, text the reason must contain)."""
    folder.mkdir(parents=True, exist_ok=True)
    dhl = good["DHL"].read_bytes()
    xml = good["FOURPX"].read_bytes()
    pdf = good["YANWEN"].read_bytes()
    files = {
        "truncated.pdf": (pdf[: len(pdf) // 2], "corrupt_pdf", "cannot be read as a PDF"),
        "malformed.xml": (xml[: len(xml) * 2 // 3], "malformed_xml", "not well-formed XML"),
        "bomb.xml": (BOMB, "xml_entities", "declares XML entities"),
        "xxe.xml": (xxe(folder / "secret.txt"), "xml_entities", "declares XML entities"),
        "wrong-encoding.csv": (
            dhl.replace(b"WEIGHT CHARGE", b"WEIGHT \xff CHARGE", 1),
            "undecodable_text",
            "is not valid utf-8 (it starts with a utf-8 byte-order mark): byte b'\\xff' at offset",
        ),
        "missing-columns.csv": (
            dhl.replace(b"Dest Country Code", b"Destination", 1),
            "missing_columns",
            "'Dest Country Code' not found",
        ),
        "totals.csv": (_bump_total(dhl), "totals_mismatch", "difference 1.00"),
    }
    (folder / "secret.txt").write_text("TOP SECRET")
    out = {}
    for name, (data, code, text) in files.items():
        (folder / name).write_bytes(data)
        out[name] = (folder / name, code, text)
    return out


def _bump_total(csv: bytes) -> bytes:
    """The T row's Total Charge + 1.00: the lines no longer foot."""
    head, _, total_row = csv.rstrip(b"\r\n").rpartition(b"\r\n")
    cells = total_row.split(b",")
    cells[15] = str(Decimal(cells[15].decode()) + 1).encode()
    return head + b"\r\n" + b",".join(cells) + b"\r\n"


def test_each_broken_file_is_quarantined_with_its_reason_and_nothing_else_is_affected(
    tmp_path, registry, good
):
    broken = broken_files(good, tmp_path / "incoming")
    paths = list(good.values()) + [p for p, _, _ in broken.values()]
    outcomes = ingest_many(paths, tmp_path / "raw", tmp_path / "q", registry=registry, workers=1)
    by_name = {o.source_name: o for o in outcomes}
    for path in good.values():
        assert by_name[path.name].status == "parsed", by_name[path.name].reason
    for name, (_, code, text) in broken.items():
        outcome = by_name[name]
        assert (outcome.status, outcome.error_code) == ("quarantined", code), outcome.reason
        assert text in outcome.reason
    records = {r.file_name: r for r in list_quarantined(tmp_path / "q")}
    assert set(records) == set(broken)
    assert "TOP SECRET" not in "".join(r.parser_error for r in records.values())
    assert records["missing-columns.csv"].locator == "header"
    assert records["wrong-encoding.csv"].locator.startswith("byte=")


def test_gb18030_csv_is_read_when_it_is_not_utf8(tmp_path, registry, good):
    """Chinese consolidators' exports are often GB18030: auto-detected, parsed the same."""
    text = (
        good["DHL"].read_bytes().decode("utf-8-sig").replace("WEIGHT CHARGE", "运费 WEIGHT CHARGE")
    )
    path = tmp_path / "gb.csv"
    path.write_bytes(text.encode("gb18030"))
    (outcome,) = ingest_many([path], tmp_path / "raw", tmp_path / "q", registry=registry, workers=1)
    assert outcome.status == "parsed", outcome.reason
    assert "运费 WEIGHT CHARGE" in outcome.lines["charge_description"].to_list()


def test_lxml_itself_never_expands_or_fetches_entities(tmp_path):
    """Defence in depth: even past the DOCTYPE check, the parser settings refuse expansion."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    root = etree.fromstring(xxe(secret), parser=safe_parser())
    assert "TOP SECRET" not in etree.tostring(root).decode()
    try:
        bomb = etree.fromstring(BOMB, parser=safe_parser())
    except etree.XMLSyntaxError:
        return  # refusing is fine too
    assert len(etree.tostring(bomb)) < 10_000


def test_the_hardened_readers_refuse_entity_declarations(tmp_path):
    with pytest.raises(BillParseError) as info:
        parse_bytes(BOMB, "bomb.xml")
    assert info.value.code == "xml_entities"
    path = tmp_path / "bomb.xml"
    path.write_bytes(BOMB)
    with pytest.raises(BillParseError, match="declares XML entities"):
        list(iter_elements(path, "x"))


def test_streaming_frees_elements_as_it_goes(tmp_path):
    """Elements already handed out are cleared and removed: what stays in memory is the
    element being read and lxml's read-ahead buffer, not the document so far."""
    path = tmp_path / "big.xml"
    path.write_bytes(b"<r>" + b"<c><a>1</a></c>" * 5000 + b"</r>")
    seen = 0
    for el in iter_elements(path, "c"):
        seen += 1
        behind = list(el.itersiblings(preceding=True))
        assert len(behind) <= 1
        assert all(len(b) == 0 and b.text is None for b in behind)
    assert seen == 5000


def test_a_parser_crash_is_quarantined_not_raised(tmp_path, registry, good, monkeypatch):
    from parsers.builtin import tabular

    def boom(*args, **kwargs):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(tabular, "read_csv_grid", boom)  # patches this process: workers=0
    (outcome,) = ingest_many(
        [good["DHL"]], tmp_path / "raw", tmp_path / "q", registry=registry, workers=0
    )
    assert (outcome.status, outcome.error_code) == ("quarantined", "parser_crash")
    assert "ZeroDivisionError: bug" in outcome.reason


def test_quarantine_records_are_json_with_the_documented_fields(tmp_path, registry, good):
    broken = broken_files(good, tmp_path / "in")
    ingest_many(
        [broken["bomb.xml"][0]], tmp_path / "raw", tmp_path / "q", registry=registry, workers=1
    )
    (record,) = list_quarantined(tmp_path / "q")
    frame = pl.DataFrame([record.__dict__])
    assert {"file_name", "sha256", "reason", "parser_error", "locator", "raw_path"} <= set(
        frame.columns
    )
    assert (tmp_path / "q" / f"{record.sha256}.json").exists()
    assert Path(record.raw_path).read_bytes() == BOMB


def test_a_csv_holding_two_bills_is_refused_by_name_not_merged(tmp_path, registry, good):
    """One file is one bill (demo/bills/FORMATS.md); two invoice numbers in one export
    would mix two bills' totals, so it is a specific error, not a silent merge."""
    text = good["DHL"].read_bytes().decode("utf-8-sig")
    head, first, *rest = text.split("\r\n")
    first = first.replace("DHL-2026-0001", "DHL-2026-0099")
    path = tmp_path / "two-bills.csv"
    path.write_bytes("\r\n".join([head, first, *rest]).encode("utf-8-sig"))
    (outcome,) = ingest_many([path], tmp_path / "raw", tmp_path / "q", registry=registry, workers=1)
    assert (outcome.status, outcome.error_code) == ("quarantined", "several_bills")
    assert "Invoice Number" in outcome.reason and "DHL-2026-0099" in outcome.reason


def test_csv_delimiter_is_detected_from_the_header_row_not_a_title_line(tmp_path, registry):
    """A title line without delimiters must not decide the delimiter; the template here
    gives none, so it is detected from the row that holds the header text."""
    template = (Path(__file__).resolve().parents[2] / "docs" / "adding-a-carrier.md").read_text()
    body = template.split("<!-- file: cnpost-statement-csv.yaml -->\n```yaml\n")[1].split("```")[0]
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "cn.yaml").write_text(body.replace('  delimiter: ";"\n', ""))
    from parsers.registry import Registry

    bill = tmp_path / "CNPOST-1.csv"
    bill.write_bytes(
        "中国邮政 月结账单 账单号:CP-1 账单日期:2026-02-03 币种:CNY\n"
        "邮件号;收寄日期;寄达国;计费重量;费用类型;金额\n"
        "RR1CN;2026-01-05;US;0,250;邮费;38,50\n"
        "合计;;;;;38,50\n".encode("gb18030")
    )
    reg = Registry.default(extra_templates=folder, use_entry_points=False)
    (outcome,) = ingest_many([bill], tmp_path / "raw", tmp_path / "q", registry=reg, workers=1)
    assert outcome.status == "parsed", outcome.reason
    assert outcome.lines["amount"].to_list() == [Decimal("38.50")]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda cells: cells.__setitem__(18, ""), "charge 'WC' has no amount"),
        (lambda cells: cells.__setitem__(slice(16, 46), [""] * 30), "without any charge amount"),
    ],
)
def test_a_wide_row_never_loses_a_charge_silently(tmp_path, registry, good, edit, message):
    text = good["DHL"].read_bytes().decode("utf-8-sig")
    head, first, *rest = text.split("\r\n")
    cells = first.split(",")
    edit(cells)
    path = tmp_path / "edited.csv"
    path.write_bytes("\r\n".join([head, ",".join(cells), *rest]).encode("utf-8-sig"))
    (outcome,) = ingest_many([path], tmp_path / "raw", tmp_path / "q", registry=registry, workers=1)
    assert (outcome.status, outcome.error_code) == ("quarantined", "invalid_value")
    assert message in outcome.reason
    assert outcome.locator.startswith("row=2")


def test_whole_document_xml_has_a_size_limit():
    with pytest.raises(BillParseError) as info:
        parse_bytes(b"<Invoice>" + b" " * 2000 + b"</Invoice>", "big.xml", max_bytes=1000)
    assert info.value.code == "too_large"
    assert "streaming XML template" in info.value.reason
