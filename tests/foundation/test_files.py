"""Atomic writes (storage/files.py): the old file or the new one, never half; no leftovers."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from storage.files import RAW_FILE_MODE, atomic_write, write_bytes


def test_a_rerun_replaces_the_file_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "new" / "bill.json"
    write_bytes(target, b"first")
    write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["bill.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = write_bytes(tmp_path / "meta.json", b"old")

    def half(temporary: Path) -> None:
        temporary.write_bytes(b"ha")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def test_files_get_the_umask_mode_and_raw_copies_are_read_only(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        plain = write_bytes(tmp_path / "export.csv", b"a")
        raw = write_bytes(tmp_path / "raw.json", b"a", mode=RAW_FILE_MODE)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(plain.stat().st_mode) == 0o644, "readable by the ERP, not only by us"
    assert stat.S_IMODE(raw.stat().st_mode) == 0o444
