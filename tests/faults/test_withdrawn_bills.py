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
