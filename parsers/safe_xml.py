"""Hardened XML reading: bills come from outside, so XML is hostile until proven not.

An entity bomb ("billion laughs") or an external entity (XXE) in a carrier file
must be a quarantine reason, never a hung worker or a leaked local file. lxml is
configured never to resolve entities, never to touch the network, never to load
a DTD and never to lift its size limits; on top of that any DOCTYPE that declares
an entity is rejected outright, before parsing, with a specific reason.
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
PROLOGUE_BYTES = 64 * 1024
MAX_TREE_BYTES = 50 * 2**20


def _check_prologue(head: bytes, name: str) -> None:
    if _DOCTYPE.search(head) and _ENTITY_DECL.search(head):
        raise BillParseError(
            "xml_entities",
            f"{name} declares XML entities in a DOCTYPE (entity expansion / external "
            "entities are refused)",
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
    _check_prologue(data[:PROLOGUE_BYTES], name)
    try:
        return etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise BillParseError(
            "malformed_xml", f"{name} is not well-formed XML: {exc.msg}", f"line={exc.lineno}"
        ) from exc


def parse_file(path: Path) -> etree._Element:
    with path.open("rb") as fh:
        return parse_bytes(fh.read(), path.name)


def iter_elements(
    path: Path, tag: str | tuple[str, ...], name: str | None = None
) -> Iterator[etree._Element]:
    """Stream the elements named `tag` ('{ns}local'); each is cleared after use so
    a bill of hundreds of MB runs in bounded memory (the caller must not keep it)."""
    name = name or path.name
    with path.open("rb") as fh:
        _check_prologue(fh.read(PROLOGUE_BYTES), name)
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
    try:
        for _, element in context:
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
