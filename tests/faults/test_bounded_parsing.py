"""Bounded parsing: one hostile file costs its own quarantine entry, never the batch.

Before: a 4 MB XLSX expanding to 1 GB was handed to calamine; a parser that hung
held the whole batch; a worker killed by SIGKILL broke the process pool, so no other
file of the batch was parsed or quarantined, and the next run met the same file.
Now zip-based files are measured from their central directory before anything
opens them (`decompression_bomb`), and each file is parsed in a worker with a time
and a memory budget (`parse_timeout`, `parse_memory`, `parser_crash`).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from demo.bills import write_bills
from demo.bills.samples import sample_bills
from parsers.ingest import ingest_many, list_quarantined
from parsers.isolation import ParseBudget
from parsers.model import BillParseError
from parsers.preflight import ArchiveLimits, check_archive
from parsers.registry import Registry, builtin_parsers
from reckon.runner import run_bills
from storage.layout import DataLayout
from tests.faults.hostile_parsers import HostileParser

EXPANDS_TO = 2**30
BUDGET = ParseBudget(seconds=30, memory_bytes=3 * 2**30)


def bills(layout: DataLayout, carrier: str, seed: int = 1) -> Path:
    headers, lines = sample_bills(carrier, shipments_per_bill=(4,), seed=seed)
    return write_bills(carrier, headers, lines, layout)[0]


def zip_bomb(xlsx: Path, target: Path, expand_to: int = EXPANDS_TO) -> Path:
    """`xlsx` with its sheet padded by `expand_to` bytes of blanks after the root element
    (still well-formed XML): about 1 MB on disk, 1 GB when inflated."""
    block = b" " * 2**24
    with (
        zipfile.ZipFile(xlsx) as source,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename != "xl/worksheets/sheet1.xml":
                out.writestr(info.filename, data)
                continue
            with out.open(info.filename, "w", force_zip64=True) as member:
                member.write(data)
                for _ in range(expand_to // len(block)):
                    member.write(block)
    return target


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """Good bills of three formats, a zip bomb XLSX and the hostile plugin's files."""
    layout = DataLayout(tmp_path_factory.mktemp("corpus"))
    files = {carrier: bills(layout, carrier) for carrier in ("DHL", "FOURPX", "YUNEXPRESS")}
    folder = tmp_path_factory.mktemp("hostile")
    files["bomb"] = zip_bomb(files["YUNEXPRESS"], folder / "YUN-2026-0666.xlsx")
    for action in ("hang", "allocate", "sigkill"):
        files[action] = folder / f"{action}.hostile"
        files[action].write_text(f"{action}\n")
    files["later"] = bills(DataLayout(tmp_path_factory.mktemp("later")), "DHL", seed=7)
    return files


@pytest.fixture(scope="module")
def hostile_registry() -> Registry:
    templates = Registry.default(use_entry_points=False).templates
    return Registry(parsers=[*builtin_parsers(), HostileParser()], templates=templates)


def test_the_zip_bomb_is_small_on_disk_and_huge_inflated(corpus) -> None:
    bomb = corpus["bomb"]
    assert bomb.stat().st_size < 4 * 2**20
    with zipfile.ZipFile(bomb) as archive:
        assert sum(m.file_size for m in archive.infolist()) > EXPANDS_TO


def test_a_zip_bomb_is_refused_from_its_directory_with_the_numbers(corpus) -> None:
    with pytest.raises(BillParseError) as info:
        check_archive(corpus["bomb"], "YUN-2026-0666.xlsx")
    error = info.value
    assert error.code == "decompression_bomb"
    assert error.locator == "member=xl/worksheets/sheet1.xml"
    on_disk = corpus["bomb"].stat().st_size
    assert f"YUN-2026-0666.xlsx ({on_disk} bytes on disk) expands to" in error.reason
    assert f"limit of {512 * 2**20} bytes" in error.reason
    check_archive(corpus["YUNEXPRESS"], "good.xlsx")


def test_a_member_expanding_beyond_the_ratio_is_refused_below_the_size_limit(tmp_path) -> None:
    path = tmp_path / "dense.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("xl/sharedStrings.xml", b"<sst>" + b"A" * 8 * 2**20 + b"</sst>")
    with pytest.raises(BillParseError) as info:
        check_archive(path, "dense.xlsx", ArchiveLimits(max_uncompressed_bytes=2**30))
    assert info.value.code == "decompression_bomb"
    assert "member xl/sharedStrings.xml expands" in info.value.reason
    assert "above the limit of 100:1" in info.value.reason


@pytest.mark.slow  # a batch of hostile files through isolated workers: 30 s and more
def test_hostile_files_are_quarantined_alone_and_the_batch_and_later_batches_go_on(
    tmp_path, corpus, hostile_registry
) -> None:
    names = ("DHL", "bomb", "hang", "FOURPX", "allocate", "sigkill", "YUNEXPRESS")
    outcomes = ingest_many(
        [corpus[n] for n in names],
        tmp_path / "raw",
        tmp_path / "q",
        registry=hostile_registry,
        workers=2,
        budget=BUDGET,
    )
    by_name = dict(zip(names, outcomes, strict=True))
    for good in ("DHL", "FOURPX", "YUNEXPRESS"):
        assert by_name[good].status == "parsed", by_name[good].reason
        assert by_name[good].lines.height > 0
    expected = {
        "bomb": ("decompression_bomb", "YUN-2026-0666.xlsx ("),
        "hang": ("parse_timeout", "hang.hostile: parsing took longer than its budget of 30 s"),
        "allocate": ("parse_memory", "allocate.hostile: the parser ran out of memory"),
        "sigkill": ("parser_crash", "sigkill.hostile: the parser worker was killed by SIGKILL"),
    }
    for name, (code, text) in expected.items():
        outcome = by_name[name]
        assert (outcome.status, outcome.error_code) == ("quarantined", code), outcome.reason
        assert text in outcome.reason
    records = {r.file_name: r for r in list_quarantined(tmp_path / "q")}
    assert {records[corpus[n].name].error_code for n in expected} == {
        code for code, _ in expected.values()
    }
    assert all(Path(r.raw_path).is_file() for r in records.values())

    again = ingest_many(
        [corpus["later"], corpus["sigkill"], corpus["hang"]],
        tmp_path / "raw",
        tmp_path / "q",
        registry=hostile_registry,
        workers=2,
        budget=BUDGET,
    )
    assert [o.status for o in again] == ["parsed", "quarantined", "quarantined"]
    assert [o.error_code for o in again[1:]] == ["parser_crash", "parse_timeout"]


def test_a_worker_that_aborts_is_a_parser_crash_naming_the_file(tmp_path, hostile_registry):
    bad = tmp_path / "abort.hostile"
    bad.write_text("abort\n")
    (outcome,) = ingest_many(
        [bad], tmp_path / "raw", tmp_path / "q", registry=hostile_registry, budget=BUDGET
    )
    assert (outcome.status, outcome.error_code) == ("quarantined", "parser_crash")
    assert outcome.reason.startswith("abort.hostile: the parser worker was killed by SIGABRT")


def test_a_zip_bomb_in_the_inbox_fails_neither_its_run_nor_the_next(tmp_path, corpus) -> None:
    data = tmp_path / "data"
    layout = DataLayout(data)
    good = bills(layout, "DHL")
    inbox = layout.bills_inbox / "YUNEXPRESS"
    inbox.mkdir(parents=True)
    (inbox / corpus["bomb"].name).write_bytes(corpus["bomb"].read_bytes())
    with dg.DagsterInstance.ephemeral() as instance:
        first = run_bills(data, instance, log_level="WARNING")
        assert first is not None and first.success
        bills(layout, "FOURPX")
        second = run_bills(data, instance, log_level="WARNING")
        assert second is not None and second.success
    with duckdb.connect(str(layout.warehouse_db), read_only=True) as con:
        status = dict(con.sql("SELECT file_name, error_code FROM bill_file_status").fetchall())
    assert status == {
        good.name: None,
        corpus["bomb"].name: "decompression_bomb",
        "FOU-2026-0001.xml": None,
    }
