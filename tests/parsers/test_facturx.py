"""Factur-X attachments are found by the factur-x library, but never read with entities."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfWriter

from parsers.builtin.facturx import embedded_invoice
from parsers.ingest import ingest_file
from parsers.model import BillParseError

CII = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
MARK = "expanded-entity-text"
WITH_ENTITY = f"""<?xml version="1.0"?>
<!DOCTYPE rsm:CrossIndustryInvoice [<!ENTITY mark "{MARK}">]>
<rsm:CrossIndustryInvoice xmlns:rsm="{CII}"><rsm:Note>&mark;</rsm:Note>
</rsm:CrossIndustryInvoice>
""".encode()


def pdf_with(tmp_path: Path, attachments: dict[str, bytes]) -> Path:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    for name, data in attachments.items():
        writer.add_attachment(name, data)
    path = tmp_path / "invoice.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def test_the_library_reads_attachments_with_the_hardened_parser(tmp_path, monkeypatch):
    """factur-x parses each attachment itself (etree.fromstring, lxml's default parser):
    it must see the entity unexpanded, and our parse_bytes then refuses the declaration."""
    seen: list[bytes] = []
    real = etree.fromstring

    def spy(text, parser=None, **kwargs):
        root = real(text, parser, **kwargs)
        if parser is None:
            seen.append(etree.tostring(root))
        return root

    monkeypatch.setattr(etree, "fromstring", spy)
    default = etree.get_default_parser()
    path = pdf_with(tmp_path, {"notes.txt": b"hello", "factur-x.xml": WITH_ENTITY})
    name, data = embedded_invoice(path, path.name)
    assert (name, data) == ("factur-x.xml", WITH_ENTITY)
    assert seen and not any(MARK.encode() in tree for tree in seen)
    outcome = ingest_file(path, tmp_path / "raw", tmp_path / "q")
    assert (outcome.status, outcome.error_code) == ("quarantined", "xml_entities")
    assert etree.get_default_parser() is default  # restored after the extraction


def test_a_pdf_without_an_invoice_lists_its_attachments(tmp_path):
    path = pdf_with(tmp_path, {"terms.pdf": b"%PDF-1.4", "notes.txt": b"hello"})
    with pytest.raises(BillParseError, match=r"attachments: \['notes.txt', 'terms.pdf'\]") as info:
        embedded_invoice(path, path.name)
    assert info.value.code == "no_embedded_xml"
