"""Hardened XML reading: bills come from outside, so XML is hostile until proven not.

An entity bomb ("billion laughs") or an external entity (XXE) in a carrier file
must be a quarantine reason, never a hung worker or a leaked local file. lxml is
configured never to resolve entities, never to touch the network, never to load
a DTD and never to lift its size limits; on top of that any DOCTYPE is refused
outright, wherever it is in the file, with a specific reason: `xml_entities` when it
declares entities, `xml_doctype` otherwise. No bill format we read needs a DTD, and
lxml with `resolve_entities=False` would silently drop the text of an entity it did
not expand. The bytes are searched whole, not only the first 64 KiB (a comment of
padding before the DOCTYPE would move it out of reach), and the tree lxml built is
checked too, for encodings (UTF-16...) the byte search cannot see through.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lxml import etree

from parsers.model import BillParseError

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
SCAN_BLOCK = 4 * 2**20
MAX_TREE_BYTES = 50 * 2**20


def _refuse_doctype(rest: bytes, at: int, name: str) -> None:
    """Refuse the DOCTYPE at byte `at`; `rest` is the file from there on."""
    if _ENTITY_DECL.search(rest):
        raise BillParseError(
            "xml_entities",
            f"{name} declares XML entities in a DOCTYPE at byte {at} (entity expansion / "
            "external entities are refused)",
            f"byte={at}",
        )
    raise BillParseError(
        "xml_doctype",
        f"{name} has a DOCTYPE (document type definition) at byte {at}: DTDs are refused",
        f"byte={at}",
    )


def _check_doctype(data: bytes, name: str) -> None:
    found = _DOCTYPE.search(data)
    if found:
        _refuse_doctype(data[found.start() :], found.start(), name)


def check_file_doctype(path: Path, name: str) -> None:
    """The DOCTYPE search over a file of any size, block by block (blocks overlap by the
    length of the marker so one cut in two is still found)."""
    overlap = len(b"<!DOCTYPE") - 1
    offset, tail = 0, b""
    with path.open("rb") as fh:
        while block := fh.read(SCAN_BLOCK):
            window = tail + block
            found = _DOCTYPE.search(window)
            if found:
                start = offset - len(tail) + found.start()
                _refuse_doctype(window[found.start() :] + fh.read(SCAN_BLOCK), start, name)
            tail = window[-overlap:]
            offset += len(block)


def _check_tree(tree: etree._ElementTree, name: str) -> None:
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise BillParseError(
            "xml_doctype",
            f"{name} has a DOCTYPE (document type definition): DTDs are refused",
            "prologue",
        )


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
    )


@contextmanager
def hardened_default_parser() -> Iterator[None]:
    """Make the hardened parser lxml's default for this thread while the block runs.

    For libraries that parse XML themselves with lxml's default parser (factur-x reads
    a PDF's attachments with `etree.fromstring` to recognise them): inside the block
    they resolve no entity and touch no network either. What they hand back is still
    read by `parse_bytes`, which also refuses entity declarations outright."""
    previous = etree.get_default_parser()
    etree.set_default_parser(safe_parser())
    try:
        yield
    finally:
        etree.set_default_parser(previous)


def parse_bytes(data: bytes, name: str, max_bytes: int = MAX_TREE_BYTES) -> etree._Element:
    """A whole (small) XML document, e.g. an invoice or a Factur-X attachment.

    A tree costs ~10x the file in memory, so documents above `max_bytes` are refused
    with the reason; big bills are read by a streaming template instead."""
    if len(data) > max_bytes:
        raise BillParseError(
            "too_large",
            f"{name} is {len(data) / 2**20:.0f} MB; whole-document XML parsing stops at "
            f"{max_bytes / 2**20:.0f} MB (use a streaming XML template)",
        )
    _check_doctype(data, name)
    try:
        root = etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise BillParseError(
            "malformed_xml", f"{name} is not well-formed XML: {exc.msg}", f"line={exc.lineno}"
        ) from exc
    _check_tree(root.getroottree(), name)
    return root


def parse_file(path: Path) -> etree._Element:
    with path.open("rb") as fh:
        return parse_bytes(fh.read(), path.name)


def iter_elements(
    path: Path, tag: str | tuple[str, ...], name: str | None = None
) -> Iterator[etree._Element]:
    """Stream the elements named `tag` ('{ns}local'); each is cleared after use so
    a bill of hundreds of MB runs in bounded memory (the caller must not keep it)."""
    name = name or path.name
    check_file_doctype(path, name)
    context = etree.iterparse(
        str(path),
        events=("end",),
        tag=tag,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
    )
    checked = False
    try:
        for _, element in context:
            if not checked:
                _check_tree(element.getroottree(), name)
                checked = True
            yield element
            element.clear(keep_tail=False)
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise BillParseError(
            "malformed_xml", f"{name} is not well-formed XML: {exc.msg}", f"line={exc.lineno}"
        ) from exc
