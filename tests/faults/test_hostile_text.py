"""Bill text is decoded as what it is, or refused with the byte: never mojibake.

Before: `auto` tried UTF-8 then GB18030, and GB18030 accepts most byte pairs, so a
cp1252 bill's "Größe Müller" came out as Chinese characters, silently.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.bills import write_bills
from demo.bills.samples import sample_bills
from parsers.encoding import decode_text
from parsers.ingest import ingest_file
from parsers.model import BillParseError
from parsers.registry import Registry
from storage.layout import DataLayout

GERMAN = "GEWICHTSZUSCHLAG Größe Müller Straße"


@pytest.fixture(scope="module")
def dhl_text(tmp_path_factory) -> str:
    headers, lines = sample_bills("DHL", shipments_per_bill=(6,))
    path = write_bills("DHL", headers, lines, DataLayout(tmp_path_factory.mktemp("dhl")))[0]
    return path.read_bytes().decode("utf-8-sig")


def ingest(tmp_path: Path, data: bytes, registry: Registry, name: str = "DHL-cp1252.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return ingest_file(path, tmp_path / "raw", tmp_path / "q", registry=registry)


def test_a_cp1252_bill_detected_unambiguously_reads_its_accents(tmp_path, registry, dhl_text):
    data = dhl_text.replace("WEIGHT CHARGE", GERMAN).encode("cp1252")
    outcome = ingest(tmp_path, data, registry)
    assert outcome.status == "parsed", outcome.reason
    assert GERMAN in outcome.lines["charge_description"].to_list()


def test_a_cp1252_bill_its_template_declares_reads_even_when_detection_cannot_tell(
    tmp_path, registry, dhl_text
):
    """One accented word in 1 MB reads cleanly as cp1252 and as GB18030: without a
    declaration it is refused, with one it is read as declared."""
    text = dhl_text.replace("WEIGHT CHARGE", "Müller", 1)
    assert decode_text(text.encode("cp1252"), "small.csv") == text  # small: unambiguous
    big = (text + "# " + "x" * 2**20 + "\r\n").encode("cp1252")
    with pytest.raises(BillParseError) as info:
        decode_text(big, "big.csv")
    offset = big.index("ü".encode("cp1252"))
    assert (info.value.code, info.value.locator) == ("undecodable_text", f"byte={offset}")
    assert f"big.csv is not UTF-8 (byte b'\\xfc' at offset {offset})" in info.value.reason
    assert decode_text(big, "big.csv", "cp1252") == big.decode("cp1252")


def test_a_template_declaring_cp1252_parses_the_bill_it_declares(tmp_path, registry, dhl_text):
    (dhl,) = [t for t in registry.templates if t.id == "dhl-mybill-csv"]
    declared = dhl.model_copy(update={"read": dhl.read.model_copy(update={"encoding": "cp1252"})})
    only = Registry(parsers=registry.parsers, templates=[declared])
    data = dhl_text.replace("WEIGHT CHARGE", "Müller", 1).encode("cp1252")
    outcome = ingest(tmp_path, data, only)
    assert outcome.status == "parsed", outcome.reason
    assert "Müller" in outcome.lines["charge_description"].to_list()


def test_bytes_no_encoding_reads_are_refused_with_their_offset(tmp_path, registry, dhl_text):
    data = dhl_text.replace("WEIGHT CHARGE", "WEIGHT \x00CHARGE", 1).encode("ascii")
    data = data.replace(b"\x00", b"\x81\xff")
    outcome = ingest(tmp_path, data, registry, "DHL-garbled.csv")
    offset = data.index(b"\x81")
    assert (outcome.status, outcome.error_code) == ("quarantined", "undecodable_text")
    assert outcome.locator == f"byte={offset}"
    assert outcome.reason.startswith(
        f"DHL-garbled.csv is not UTF-8 (byte b'\\x81' at offset {offset})"
    )


def test_a_utf16_bill_with_its_byte_order_mark_reads(tmp_path, registry, dhl_text):
    data = dhl_text.replace("WEIGHT CHARGE", "运费 " + GERMAN).encode("utf-16")
    outcome = ingest(tmp_path, data, registry, "DHL-utf16.csv")
    assert outcome.status == "parsed", outcome.reason
    assert "运费 " + GERMAN in outcome.lines["charge_description"].to_list()
