"""Checks on a bill file before any parser opens it: archives that expand too far, DTDs.

Bills come from outside (DOMAIN.md: carrier bills in many formats), so a file is
hostile until proven not. Two shapes of attack are refused here, whatever parser
would read the file, so the quarantine reason is the attack and not "no parser":

- a zip-based file (XLSX, ODS, a zip of bills) whose members expand to far more
  than the file (a "zip bomb": a 4 MB XLSX that becomes 1 GB when calamine inflates
  it) is refused as `decompression_bomb` from the sizes its central directory
  declares (`zipfile.infolist`, nothing is extracted). A liar archive that declares
  small sizes still meets the parser's memory budget (parsers/isolation.py);
- an XML file with a DOCTYPE anywhere in it is refused by parsers/safe_xml.py
  (`xml_doctype` / `xml_entities`).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from parsers.base import Candidate
from parsers.model import BillParseError
from parsers.safe_xml import check_file_doctype

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
ZIP_SUFFIXES = (".xlsx", ".xlsm", ".ods", ".zip", ".docx")


@dataclass(frozen=True)
class ArchiveLimits:
    """How far a zip-based bill may expand. A real XLSX bill of 100,000 lines inflates
    to ~50 MB of sheet XML at ratios of 3-15:1; a bomb reaches 1,000:1."""

    max_uncompressed_bytes: int = 512 * 2**20
    max_ratio: float = 100.0
    ratio_from_bytes: int = 2**20
    """Members smaller than this may have any ratio (a few KB of styles compress well)."""
    max_members: int = 10_000


def check_archive(path: Path, name: str, limits: ArchiveLimits | None = None) -> None:
    """Refuse a zip whose declared sizes exceed `limits`, before anything inflates it."""
    limits = limits or ArchiveLimits()
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BillParseError(
            "corrupt_archive", f"{name} is a zip-based file whose directory is unreadable: {exc}"
        ) from exc
    on_disk = path.stat().st_size
    total = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    if len(members) > limits.max_members:
        raise BillParseError(
            "decompression_bomb",
            f"{name} holds {len(members)} archive members (limit {limits.max_members})",
        )
    if total > limits.max_uncompressed_bytes:
        largest = max(members, key=lambda m: m.file_size)  # some bytes: some member
        raise BillParseError(
            "decompression_bomb",
            f"{name} ({on_disk} bytes on disk) expands to {total} bytes, above the limit of "
            f"{limits.max_uncompressed_bytes} bytes; largest member {largest.filename} "
            f"({largest.file_size} bytes from {largest.compress_size})",
            f"member={largest.filename}",
        )
    for member in members:
        if member.file_size < limits.ratio_from_bytes:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > limits.max_ratio:
            raise BillParseError(
                "decompression_bomb",
                f"{name}: member {member.filename} expands {ratio:.0f}:1 ({member.file_size} "
                f"bytes from {member.compress_size}), above the limit of "
                f"{limits.max_ratio:.0f}:1; the whole file expands to {total} bytes from "
                f"{packed}",
                f"member={member.filename}",
            )


def is_zip(candidate: Candidate) -> bool:
    """Zip magic at the start, or a zip-based suffix on a file zipfile can open (a zip
    may carry a prefix before its first member)."""
    if candidate.head.startswith(ZIP_MAGIC):
        return True
    return candidate.suffix in ZIP_SUFFIXES and zipfile.is_zipfile(candidate.path)


def is_xml(candidate: Candidate) -> bool:
    head = candidate.head.lstrip(b"\xef\xbb\xbf \r\n\t")
    return head.startswith(b"<") or head.startswith((b"\xff\xfe<", b"\xfe\xff\x00<"))


def check_candidate(candidate: Candidate, limits: ArchiveLimits | None = None) -> None:
    """Every pre-parse check that applies to the file; BillParseError names what failed."""
    if is_zip(candidate):
        check_archive(candidate.path, candidate.name, limits)
    if is_xml(candidate):
        check_file_doctype(candidate.path, candidate.name)
