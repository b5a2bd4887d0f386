"""Raw store, parse-once, quarantine retry and the process pool."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from demo.bills import write_bills
from demo.bills.samples import sample_bills
from parsers.ingest import (
    ingest_file,
    ingest_many,
    list_quarantined,
    load_parsed,
    retry_quarantined,
)
from parsers.registry import Registry
from storage.layout import DataLayout

TEMPLATES = Path(__file__).resolve().parents[2] / "parsers" / "templates"


@pytest.fixture(scope="module")
def bills(tmp_path_factory) -> list[Path]:
    layout = DataLayout(tmp_path_factory.mktemp("bills"))
    out = []
    for carrier in ("DHL", "FOURPX", "YANWEN"):
        headers, lines = sample_bills(carrier, shipments_per_bill=(5,), seed=3)
        out += write_bills(carrier, headers, lines, layout)
    return out


def test_raw_store_is_content_addressed_and_read_only(tmp_path, registry, bills):
    outcome = ingest_file(bills[0], tmp_path / "raw", tmp_path / "q", registry=registry)
    sha = outcome.sha256
    assert outcome.raw_path == tmp_path / "raw" / sha[:2] / f"{sha}.csv"
    assert outcome.raw_path.read_bytes() == bills[0].read_bytes()
    assert not outcome.raw_path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert (outcome.lines["source_sha256"] == sha).all()


def test_the_same_file_twice_gives_its_lines_once(tmp_path, registry, bills):
    first = ingest_file(bills[0], tmp_path / "raw", tmp_path / "q", registry=registry)
    renamed = tmp_path / "copy-of-bill.csv"
    shutil.copyfile(bills[0], renamed)
    again = ingest_file(bills[0], tmp_path / "raw", tmp_path / "q", registry=registry)
    copy = ingest_file(renamed, tmp_path / "raw", tmp_path / "q", registry=registry)
    assert first.status == "parsed"
    assert (again.status, again.lines) == ("already_parsed", None)
    assert (copy.status, copy.sha256) == ("already_parsed", first.sha256)
    assert len(list((tmp_path / "raw").rglob("*.csv"))) == 1
    headers, lines = load_parsed(tmp_path / "parsed", first.sha256)
    assert lines.equals(first.lines) and headers.equals(first.headers)


def test_a_new_template_version_reparses_but_an_unrelated_change_does_not(tmp_path, bills):
    extra = tmp_path / "extra"
    extra.mkdir()
    base = Registry.default(use_entry_points=False)
    first = ingest_file(bills[0], tmp_path / "raw", tmp_path / "q", registry=base)
    # An unrelated template added: fingerprint changes, the DHL file keeps its parse.
    (extra / "other.yaml").write_text(
        (TEMPLATES / "fourpx-statement-xml.yaml")
        .read_text()
        .replace("id: fourpx-statement-xml", "id: other-xml")
        .replace("BillStatement", "OtherStatement")
    )
    wider = Registry.default(extra_templates=extra, use_entry_points=False)
    assert wider.fingerprint() != base.fingerprint()
    same = ingest_file(bills[0], tmp_path / "raw", tmp_path / "q", registry=wider)
    assert same.status == "already_parsed"
    # The DHL template itself bumped: the file is parsed again, same lines.
    bumped = tmp_path / "bumped"
    shutil.copytree(TEMPLATES, bumped)
    dhl = bumped / "dhl-mybill-csv.yaml"
    dhl.write_text(dhl.read_text().replace("version: 2", "version: 3", 1))
    from parsers.templates_schema import load_templates

    registry = Registry(base.parsers, load_templates([bumped]))
    again = ingest_file(bills[0], tmp_path / "raw", tmp_path / "q", registry=registry)
    assert (again.status, again.template_id) == ("parsed", "dhl-mybill-csv@3")
    assert again.lines.drop("template_id").equals(first.lines.drop("template_id"))


def test_quarantined_file_is_retried_when_a_template_arrives(tmp_path, bills):
    """A carrier nobody has a template for is quarantined; an analyst adds the template
    (a new fingerprint) and the retry parses it and clears the quarantine record."""
    from parsers.templates_schema import load_templates

    base = Registry.default(use_entry_points=False)
    without_4px = Registry(base.parsers, [t for t in base.templates if t.carrier != "FOURPX"])
    xml = bills[1]
    outcome = ingest_file(xml, tmp_path / "raw", tmp_path / "q", registry=without_4px)
    assert (outcome.status, outcome.error_code) == ("quarantined", "no_parser")
    assert retry_quarantined(tmp_path / "raw", tmp_path / "q", registry=without_4px) == []
    assert (
        ingest_file(xml, tmp_path / "raw", tmp_path / "q", registry=without_4px).status
        == "quarantined"
    )
    with_4px = Registry(base.parsers, load_templates([TEMPLATES]))
    (retried,) = retry_quarantined(tmp_path / "raw", tmp_path / "q", registry=with_4px)
    assert (retried.status, retried.source_name) == ("parsed", xml.name)
    assert retried.lines.height > 0
    assert list_quarantined(tmp_path / "q") == []


def test_two_workers_give_the_same_outcomes_as_one(tmp_path, registry, bills):
    items = [*bills, bills[0]]
    one = ingest_many(
        items, tmp_path / "a" / "raw", tmp_path / "a" / "q", registry=registry, workers=1
    )
    two = ingest_many(
        items, tmp_path / "b" / "raw", tmp_path / "b" / "q", registry=registry, workers=2
    )
    assert [o.status for o in one] == [o.status for o in two] == ["parsed"] * 3 + ["already_parsed"]
    for a, b in zip(one[:3], two[:3], strict=True):
        assert a.lines.equals(b.lines)


def test_outcomes_frame_summarises_files_for_the_ui(tmp_path, registry, bills):
    from parsers.ingest import outcomes_frame

    broken = tmp_path / "broken.xml"
    broken.write_bytes(bills[1].read_bytes()[:200])
    outcomes = ingest_many(
        [*bills, broken], tmp_path / "raw", tmp_path / "q", registry=registry, workers=1
    )
    frame = outcomes_frame(outcomes)
    assert frame["status"].to_list() == ["parsed", "parsed", "parsed", "quarantined"]
    assert frame["lines"].to_list()[:3] == [o.lines.height for o in outcomes[:3]]
    assert frame["template_lines"].sum() == frame["lines"].sum()  # all demo bills by template
    assert frame.row(3, named=True)["error_code"] == "malformed_xml"
    assert frame["parsed_total"][0] == outcomes[0].headers["parsed_total"][0]
