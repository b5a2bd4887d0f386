"""A DTD anywhere in an XML bill is refused, with the file and the byte where it starts.

Before: only the first 64 KiB were searched, so a DOCTYPE behind a comment of padding
got through, and lxml (which never expands entities) silently dropped the text of
every entity reference: a statement number or an amount could vanish unnoticed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.ingest import ingest_many, list_quarantined
from parsers.model import BillParseError
from parsers.safe_xml import SCAN_BLOCK, iter_elements, parse_bytes

PADDING = b"<!--" + b" " * (64 * 1024) + b"-->\n"
ENTITY_DOCTYPE = b'<!DOCTYPE BillStatement [<!ENTITY no "FOURPX-2026-0001">]>\n'
PLAIN_DOCTYPE = b'<!DOCTYPE BillStatement SYSTEM "statement.dtd">\n'
BODY = (
    b'<BillStatement xmlns="urn:4px:billing:statement:1.0"><StatementHeader>'
    b"<StatementNo>&no;</StatementNo></StatementHeader><ChargeList/></BillStatement>\n"
)


def padded(doctype: bytes, body: bytes = BODY) -> bytes:
    return b'<?xml version="1.0"?>\n' + PADDING + doctype + body


@pytest.mark.parametrize(
    ("doctype", "code"), [(ENTITY_DOCTYPE, "xml_entities"), (PLAIN_DOCTYPE, "xml_doctype")]
)
def test_a_doctype_behind_64_kib_of_padding_is_refused(tmp_path: Path, doctype, code) -> None:
    data = padded(doctype, BODY if code == "xml_entities" else BODY.replace(b"&no;", b"1"))
    at = data.index(b"<!DOCTYPE")
    assert at > 64 * 1024
    with pytest.raises(BillParseError) as info:
        parse_bytes(data, "padded.xml")
    assert (info.value.code, info.value.locator) == (code, f"byte={at}")
    assert "padded.xml" in info.value.reason
    path = tmp_path / "padded.xml"
    path.write_bytes(data)
    with pytest.raises(BillParseError) as streamed:
        list(iter_elements(path, "{urn:4px:billing:statement:1.0}StatementNo"))
    assert (streamed.value.code, streamed.value.locator) == (code, f"byte={at}")


def test_a_doctype_cut_by_the_streaming_scan_block_is_still_found(tmp_path: Path) -> None:
    head = b'<?xml version="1.0"?>\n<!--'
    filler = b" " * (SCAN_BLOCK - len(head) - 3 - 3)  # "<!D" ends the first block
    data = head + filler + b"-->" + PLAIN_DOCTYPE + BODY.replace(b"&no;", b"1")
    assert data[SCAN_BLOCK - 3 : SCAN_BLOCK] == b"<!D"
    path = tmp_path / "cut.xml"
    path.write_bytes(data)
    with pytest.raises(BillParseError) as info:
        list(iter_elements(path, "x"))
    assert (info.value.code, info.value.locator) == ("xml_doctype", f"byte={SCAN_BLOCK - 3}")


def test_a_utf16_doctype_the_byte_search_cannot_see_is_refused_from_the_tree(tmp_path) -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?>\n' + PLAIN_DOCTYPE.decode() + "<r><a>1</a></r>"
    data = text.encode("utf-16")
    assert b"<!DOCTYPE" not in data
    with pytest.raises(BillParseError) as info:
        parse_bytes(data, "wide.xml")
    assert info.value.code == "xml_doctype"
    path = tmp_path / "wide.xml"
    path.write_bytes(data)
    with pytest.raises(BillParseError) as streamed:
        list(iter_elements(path, "a"))
    assert streamed.value.code == "xml_doctype"


def test_a_padded_entity_bill_is_quarantined_naming_the_file(tmp_path: Path, registry) -> None:
    bill = tmp_path / "FOURPX-padded.xml"
    bill.write_bytes(padded(ENTITY_DOCTYPE))
    (outcome,) = ingest_many([bill], tmp_path / "raw", tmp_path / "q", registry=registry, workers=0)
    assert (outcome.status, outcome.error_code) == ("quarantined", "xml_entities")
    (record,) = list_quarantined(tmp_path / "q")
    assert record.file_name == "FOURPX-padded.xml" and "FOURPX-padded.xml" in record.reason
