"""Bills are taken in by content: the same bytes under another name are a duplicate.

Before: a byte-identical copy of a bill in the same batch failed the whole batch (`bill_lines:
key ... would occur 2 times`: no file of the batch was loaded), and a copy arriving in a later
batch was recorded as a second parsed file. Now the copy is recorded as a duplicate of the
first (bill_file_status, bill_quarantine with `duplicate_file` and both names, the asset's
metadata), never parsed, and the lines are loaded once, whatever its name or carrier folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from demo.bills import write_bills
from demo.bills.samples import sample_bills
from reckon.runner import run_bills
from storage.layout import DataLayout

pytestmark = pytest.mark.slow


def _query(layout: DataLayout, sql: str) -> list[tuple]:
    with duckdb.connect(str(layout.warehouse_db), read_only=True) as con:
        return con.sql(sql).fetchall()


def _bills(tmp_path: Path) -> tuple[DataLayout, list[Path]]:
    """Two DHL bills; the second's stated total is wrong (it is quarantined)."""
    layout = DataLayout(tmp_path / "data")
    headers, lines = sample_bills("DHL", shipments_per_bill=(5, 3))
    return layout, write_bills("DHL", headers, lines, layout)


def _sample_lines(bill_number: str) -> int:
    _, lines = sample_bills("DHL", shipments_per_bill=(5, 3))
    return lines.filter(bill_number=bill_number).height


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    (event, *_) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.path == [asset]
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _loaded(layout: DataLayout) -> list[tuple]:
    return _query(
        layout,
        "SELECT bill_number, count(*), sum(amount) FROM bill_lines GROUP BY ALL ORDER BY 1",
    )


def test_a_copy_in_the_same_batch_is_a_duplicate_and_its_lines_load_once(tmp_path) -> None:
    layout, (first, _) = _bills(tmp_path)
    copy = first.with_name("copy of the first bill.csv")
    shutil.copy(first, copy)
    elsewhere = layout.bills_inbox / "FOURPX" / "resent.csv"
    elsewhere.parent.mkdir()
    shutil.copy(first, elsewhere)
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_bills(layout.root, instance, log_level="WARNING")
        assert result is not None and result.success
    ((bill, count, _),) = _loaded(layout)
    assert (bill, count) == (first.stem, _sample_lines(first.stem)), "each line once"
    status = _query(
        layout,
        "SELECT partition_key, status, parser, lines, error_code, duplicate_of, reason "
        "FROM bill_file_status ORDER BY partition_key",
    )
    by_name = {key.split("#")[0]: row for key, *row in status}
    (first_key,) = [key for key, *_ in status if key.startswith(f"DHL/{first.name}#")]
    for name in (f"DHL/{copy.name}", "FOURPX/resent.csv"):
        state, parser, lines, code, duplicate_of, reason = by_name[name]
        assert (state, parser, lines, code, duplicate_of) == (
            "duplicate", None, 0, "duplicate_file", first_key
        ), "recorded as a duplicate of the first, never parsed"  # fmt: skip
        assert f"as DHL/{first.name}, taken in first" in reason
    assert by_name[f"DHL/{first.name}"][0] == "parsed"
    quarantine = _query(
        layout,
        "SELECT file_name, sha256, error_code, duplicate_of FROM bill_quarantine "
        "WHERE duplicate_of IS NOT NULL ORDER BY 1",
    )
    sha = _query(layout, f"SELECT sha256 FROM bill_files WHERE partition_key = '{first_key}'")
    assert quarantine == [
        (copy.name, sha[0][0], "duplicate_file", first_key),
        ("resent.csv", sha[0][0], "duplicate_file", first_key),
    ]
    metadata = _metadata(result, "bill_lines")
    assert (metadata["files_duplicate"], metadata["files_quarantined"]) == (2, 3)
    assert "duplicate_file" not in str(metadata["per_file"]) and "duplicate" in str(
        metadata["per_file"]
    )
    assert _metadata(result, "bill_quarantine")["duplicate_files"] == 2
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["every_file_parsed_or_quarantined"] is True


def test_a_copy_in_a_later_batch_is_a_duplicate_of_the_file_taken_in_first(tmp_path) -> None:
    layout, (first, _) = _bills(tmp_path)
    with dg.DagsterInstance.ephemeral() as instance:
        assert run_bills(layout.root, instance, log_level="WARNING").success
        before = _loaded(layout)
        shutil.copy(first, first.with_name("DHL-resent-in-march.csv"))
        later = run_bills(layout.root, instance, log_level="WARNING")
        assert later is not None and later.success
        assert _metadata(later, "bill_lines")["files_duplicate"] == 1
        assert run_bills(layout.root, instance) is None, "a duplicate is recorded once"
        # the first file removed from the inbox (the raw store has it): the copy stays a
        # duplicate when its partition is run again, and the lines stay once
        first.unlink()
        rerun = run_bills(layout.root, instance, log_level="WARNING")
        assert rerun is None
    assert _loaded(layout) == before
    rows = _query(
        layout, "SELECT status, duplicate_of IS NOT NULL FROM bill_file_status ORDER BY 1"
    )
    assert rows == [("duplicate", True), ("parsed", False), ("quarantined", False)]
