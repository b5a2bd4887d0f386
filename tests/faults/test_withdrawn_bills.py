"""The inbox holds the bills in force: a bill removed from it, or replaced by a corrected
file under the same name, is withdrawn with its lines (runs/inbox.py `withdrawals`).

Before: the old file's lines stayed in `bill_lines` as if still valid (a corrected bill
re-sent under its name had its lines loaded twice, the old and the new), and a removed one
stayed loaded for good.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.defs.sensors import bill_inbox_sensor
from assets.resources import ReckonResource
from demo.bills import write_bills
from demo.bills.samples import sample_bills
from parsers.ingest import sha256_of
from reckon.runner import run_bills
from storage.layout import DataLayout

pytestmark = pytest.mark.slow


def _query(layout: DataLayout, sql: str) -> list[tuple]:
    with duckdb.connect(str(layout.warehouse_db), read_only=True) as con:
        return con.sql(sql).fetchall()


def _loaded(layout: DataLayout) -> list[tuple]:
    return _query(layout, "SELECT bill_number, count(*) FROM bill_lines GROUP BY ALL ORDER BY 1")


def _status(layout: DataLayout, name: str) -> list[tuple]:
    return _query(
        layout,
        "SELECT status, error_code, lines FROM bill_file_status "
        f"WHERE file_name = '{name}' ORDER BY status",
    )


def test_a_corrected_or_removed_bill_leaves_no_line_behind_and_the_sensor_runs_it(
    tmp_path: Path,
) -> None:
    layout = DataLayout(tmp_path / "data")
    headers, lines = sample_bills("DHL", shipments_per_bill=(5, 3))
    first, _ = write_bills("DHL", headers, lines, layout)
    resource = ReckonResource(data_dir=str(layout.root))
    with dg.DagsterInstance.ephemeral() as instance:
        assert run_bills(layout.root, instance, log_level="WARNING").success
        loaded = _loaded(layout)
        assert [bill for bill, _ in loaded] == [first.stem]

        # corrected and re-sent under the same name (other bytes): replaces the old file
        first.write_bytes(first.read_bytes() + b"\n")
        corrected = run_bills(layout.root, instance, log_level="WARNING")
        assert corrected is not None and corrected.success
        assert _loaded(layout) == loaded, "the corrected bill's lines, once"
        assert _status(layout, first.name) == [
            ("parsed", None, loaded[0][1]),
            ("withdrawn", "file_superseded", 0),
        ]
        assert run_bills(layout.root, instance) is None, "withdrawn once"

        with dg.build_sensor_context(instance=instance, resources={"reckon": resource}) as context:
            before = bill_inbox_sensor(context)
        cursor = before.cursor if isinstance(before, dg.SensorResult) else None

        # removed from the inbox: its lines leave the warehouse, and the sensor asks for it
        kept = first.read_bytes()
        first.unlink()
        with dg.build_sensor_context(
            instance=instance, resources={"reckon": resource}, cursor=cursor
        ) as context:
            asked = bill_inbox_sensor(context)
        assert isinstance(asked, dg.SensorResult)
        assert [r.run_key.split(":")[0] for r in asked.run_requests] == ["withdraw"]
        removed = run_bills(layout.root, instance, log_level="WARNING")
        assert removed is not None and removed.success
        assert _loaded(layout) == []
        assert _status(layout, first.name) == [
            ("withdrawn", "file_superseded", 0),
            ("withdrawn", "file_withdrawn", 0),
        ]
        (reason,) = _query(
            layout, "SELECT reason FROM bill_file_status WHERE error_code = 'file_withdrawn'"
        )
        assert f"DHL/{first.name} is no longer in the inbox" in reason[0]
        assert run_bills(layout.root, instance) is None

        # put back: taken in again
        first.write_bytes(kept)
        back = run_bills(layout.root, instance, log_level="WARNING")
        assert back is not None and back.success
        assert _loaded(layout) == loaded


def _quarantine(layout: DataLayout) -> list[tuple]:
    return _query(layout, "SELECT file_name, sha256 FROM bill_quarantine ORDER BY 1, 2")


def test_a_quarantined_bill_corrected_or_removed_leaves_the_quarantine(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    headers, lines = sample_bills("DHL", shipments_per_bill=(5, 3))
    good, wrong = write_bills("DHL", headers, lines, layout)  # the second's total is wrong
    copy = good.with_name("copy.csv")  # a duplicate, listed while it is in the inbox
    copy.write_bytes(good.read_bytes())
    records = layout.quarantine_dir / "bills"
    with dg.DagsterInstance.ephemeral() as instance:
        assert run_bills(layout.root, instance, log_level="WARNING").success
        first_sha = sha256_of(wrong)
        assert _quarantine(layout) == [(wrong.name, first_sha), (copy.name, sha256_of(good))]
        copy.unlink()
        assert (records / f"{first_sha}.json").exists()
        assert _status(layout, copy.name) == [("duplicate", "duplicate_file", 0)]

        # re-sent under its name, still wrong: the new file is quarantined, the old is not
        wrong.write_bytes(wrong.read_bytes() + b"\n")
        resent = run_bills(layout.root, instance, log_level="WARNING")
        assert resent is not None and resent.success
        second_sha = sha256_of(wrong)
        assert _quarantine(layout) == [(wrong.name, second_sha)]
        assert _status(layout, copy.name) == [("withdrawn", "file_withdrawn", 0)]
        (state, code, _), superseded = _status(layout, wrong.name)
        assert (state, superseded) == ("quarantined", ("withdrawn", "file_superseded", 0))
        assert code is not None
        assert sorted(p.name for p in records.glob("*.json")) == [f"{second_sha}.json"]
        assert (records / "withdrawn" / f"{first_sha}.json").exists(), "kept, set aside"

        # removed from the inbox: nothing of it is in the quarantine any more
        wrong.unlink()
        removed = run_bills(layout.root, instance, log_level="WARNING")
        assert removed is not None and removed.success
        assert _quarantine(layout) == []
        assert _status(layout, wrong.name) == [
            ("withdrawn", "file_superseded", 0),
            ("withdrawn", "file_withdrawn", 0),
        ]
        assert list(records.glob("*.json")) == []
        quarantine = [
            e for e in removed.get_asset_materialization_events()
            if e.asset_key.path == ["bill_quarantine"]
        ]  # fmt: skip
        assert quarantine[0].materialization.metadata["withdrawn_set_aside"].value == 1
