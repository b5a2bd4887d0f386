"""Choosing a parser, template validation, and plugins through real entry points."""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.base import Candidate, ParseContext
from parsers.ingest import ingest_file
from parsers.model import BillParseError
from parsers.registry import ENTRY_POINT_GROUP, Registry
from parsers.templates_schema import load_template, load_templates
from storage.config import ConfigError

TEMPLATES = Path(__file__).resolve().parents[2] / "parsers" / "templates"
DHL_TEMPLATE = (TEMPLATES / "dhl-mybill-csv.yaml").read_text()


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def test_every_builtin_template_validates_and_has_a_unique_id():
    templates = load_templates([TEMPLATES])
    assert len({t.id for t in templates}) == len(templates) == len(list(TEMPLATES.glob("*.yaml")))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("  WC: FREIGHT", "  WC: POSTAGE"), "charge_map"),
        (
            (
                "tracking_number: {column: Shipment Number}",
                "tracking_number: {column: A, regex: B}",
            ),
            "give exactly one of column/xpath/path/regex/const",
        ),
        (("format: csv", "format: docx"), "format"),
        (("  header_contains:", "  header_contain:"), "read.header_contain"),
        (("charges:", "charge_list:"), "lines"),
    ],
)
def test_invalid_templates_fail_with_the_file_and_field_named(tmp_path, change, message):
    path = write(tmp_path, "bad.yaml", DHL_TEMPLATE.replace(*change))
    with pytest.raises(ConfigError) as info:
        load_template(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_duplicate_template_ids_are_refused(tmp_path):
    write(tmp_path, "copy.yaml", DHL_TEMPLATE)
    with pytest.raises(ConfigError, match="already defined"):
        load_templates([TEMPLATES, tmp_path])


def test_two_templates_that_both_match_are_ambiguous_unless_one_is_forced(tmp_path, bill_csv):
    write(tmp_path, "twin.yaml", DHL_TEMPLATE.replace("id: dhl-mybill-csv", "id: dhl-twin"))
    registry = Registry.default(extra_templates=tmp_path, use_entry_points=False)
    with pytest.raises(BillParseError) as info:
        registry.choose(bill_csv)
    assert info.value.code == "ambiguous"
    assert "dhl-twin" in info.value.reason and "dhl-mybill-csv" in info.value.reason
    choice = registry.choose(bill_csv, template_id="dhl-twin")
    assert choice.template.id == "dhl-twin"
    assert "forced" in choice.reasons


def test_a_carrier_hint_breaks_a_tie_between_carriers(tmp_path, bill_csv):
    twin = DHL_TEMPLATE.replace("id: dhl-mybill-csv", "id: other-carrier").replace(
        "carrier: DHL", "carrier: OTHER"
    )
    registry = Registry.default(
        extra_templates=write(tmp_path, "o.yaml", twin).parent, use_entry_points=False
    )
    choice = registry.choose(bill_csv, carrier_hint="DHL")
    assert choice.template.id == "dhl-mybill-csv"
    assert "carrier hint DHL" in choice.reasons


def test_the_choice_explains_itself(registry, bill_csv):
    text = registry.choose(bill_csv).explain()
    assert text.startswith("chosen: template-csv 2 with template dhl-mybill-csv@2")
    assert "text contains" in text and "runner-up" in text


@pytest.fixture
def bill_csv(tmp_path_factory) -> Path:
    from demo.bills import write_bills
    from demo.bills.samples import sample_bills
    from storage.layout import DataLayout

    headers, lines = sample_bills("DHL", shipments_per_bill=(3,))
    return write_bills("DHL", headers, lines, DataLayout(tmp_path_factory.mktemp("b")))[0]


PLUGIN = '''
"""A carrier plugin shipped as its own package: pipe-separated 'ACME' bills."""
from pathlib import Path

import polars as pl

from parsers.model import RawBill, canonical_frames
from parsers.base import Parser, Sniff


class AcmeBills(Parser):
    name = "acme-pipe"
    version = "3"
    formats = ("txt",)
    description = "ACME pipe bills (plugin)"

    def sniff(self, candidate, template=None):
        if candidate.text.startswith("ACME|"):
            return Sniff(0.95, "ACME| header")
        return Sniff(0.0, "no ACME| header")

    def parse(self, path: Path, ctx, template=None):
        head, *rows = path.read_text().splitlines()
        _, number, day, total = head.split("|")
        cells = [r.split("|") for r in rows]
        lines = pl.DataFrame(
            {
                "tracking_number_raw": [c[0] for c in cells],
                "charge_code": [c[1] for c in cells],
                "amount": [c[2] for c in cells],
                "locator": [f"row={i + 2}" for i in range(len(cells))],
            }
        )
        from datetime import date

        bill = RawBill("ACME", number, date.fromisoformat(day), "EUR", lines, stated_total=total)
        return canonical_frames([bill], self.provenance(ctx, None), code_map={"F": "FREIGHT"})
'''


def test_an_entry_point_plugin_is_discovered_and_parses(tmp_path, monkeypatch):
    """A separate installed distribution (a dist-info with entry_points.txt on sys.path)
    adds a carrier parser without touching reckon."""
    site = tmp_path / "site"
    write(site / "acme_reckon_plugin", "__init__.py", PLUGIN)
    dist = site / "acme_reckon_plugin-0.1.dist-info"
    write(dist, "METADATA", "Metadata-Version: 2.1\nName: acme-reckon-plugin\nVersion: 0.1\n")
    write(dist, "entry_points.txt", f"[{ENTRY_POINT_GROUP}]\nacme = acme_reckon_plugin:AcmeBills\n")
    monkeypatch.syspath_prepend(str(site))

    registry = Registry.default()
    assert "acme-pipe" in {p.name for p in registry.parsers}
    assert registry.fingerprint() != Registry.default(use_entry_points=False).fingerprint()
    bill = write(tmp_path, "acme.txt", "ACME|A-1|2026-03-01|12.50\nZX 1|F|10.00\nZX 2|F|2.50\n")
    outcome = ingest_file(bill, tmp_path / "raw", tmp_path / "q", registry=registry)
    assert (outcome.status, outcome.parser, outcome.parser_version) == ("parsed", "acme-pipe", "3")
    assert outcome.lines["tracking_number"].to_list() == ["ZX1", "ZX2"]
    assert outcome.lines["charge_type"].to_list() == ["FREIGHT", "FREIGHT"]


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_sniffing_a_big_file_survives_a_character_cut_by_the_head(tmp_path, encoding):
    """The sniffer reads the first 64 KB; a Chinese character straddling that boundary
    must not turn the whole head into Latin-1 (and the template's texts unmatchable)."""
    from parsers.base import HEAD_BYTES, Candidate

    row = "运费,挂号费\n"
    lead = (row * 100).encode(encoding)
    filler = b"x" * (HEAD_BYTES - len(lead) - 1)  # the next 运 straddles the 64 KB mark
    path = tmp_path / "big.csv"
    path.write_bytes(lead + filler + (row * 10).encode(encoding))
    head_text = Candidate(path).text
    assert head_text.startswith(row * 100)
    assert head_text.endswith("x")


def test_a_template_engine_run_without_a_template_is_refused_by_name(registry, tmp_path):
    """The registry always hands a template engine its template; called without one (a
    plugin's or a script's mistake) it refuses clearly instead of failing on `None.read`."""
    bill = write(tmp_path, "bill.csv", "Shipment Number,Amount\n1,2.00\n")
    engines = [p for p in registry.parsers if p.uses_templates]
    assert {p.name for p in engines} >= {"template-csv", "template-xlsx", "template-pdf"}
    for engine in engines:
        with pytest.raises(BillParseError, match=f"{engine.name} reads a bill by template") as info:
            engine.sniff(Candidate(bill))
        assert info.value.code == "template"
        with pytest.raises(BillParseError, match="none given"):
            engine.parse(bill, ParseContext(sha256="0" * 64, source_name="bill.csv"))
