"""Only regular files in bills/inbox/<CARRIER>/ are bills; everything else is reported.

Before: a symbolic link in the inbox was followed (a link to a secret file landed in
the raw store, world-readable), and bills in a nested folder, directly in the inbox,
or hidden, were silently ignored, as were fifos and sockets.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from demo.bills import write_bills
from demo.bills.samples import sample_bills
from reckon.runner import run_bills
from storage.layout import DataLayout

SECRET = b"root:x:0:0:root:/root:/bin/bash\n"


def hostile_inbox(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(data dir, the one good bill, the secret a link points at)."""
    data = tmp_path / "data"
    layout = DataLayout(data)
    headers, lines = sample_bills("DHL", shipments_per_bill=(4,))
    good = write_bills("DHL", headers, lines, layout)[0]
    secret = tmp_path / "passwd"
    secret.write_bytes(SECRET)
    secret.chmod(0o644)
    dhl = layout.bills_inbox / "DHL"
    (dhl / "passwd.csv").symlink_to(secret)
    os.mkfifo(dhl / "pipe.csv")
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(dhl / "sock.csv"))
    listening.close()
    (dhl / "2026-01").mkdir()
    (dhl / "2026-01" / "DHL-2026-0002.csv").write_bytes(good.read_bytes())
    (dhl / ".DHL-2026-0003.csv").write_bytes(good.read_bytes())
    (dhl / ".DHL-2026-0004.csv.123.0a1b2c3d.tmp").write_bytes(b"half")
    (layout.bills_inbox / "DHL-2026-0005.csv").write_bytes(good.read_bytes())
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "bill.csv").write_bytes(SECRET)
    (layout.bills_inbox / "LINKED").symlink_to(outside, target_is_directory=True)
    return data, good, secret


EXPECTED = {
    "DHL/passwd.csv": "inbox_symlink",
    "DHL/pipe.csv": "inbox_special_file",
    "DHL/sock.csv": "inbox_special_file",
    "DHL/2026-01": "inbox_nested_folder",
    "DHL/.DHL-2026-0003.csv": "inbox_hidden_file",
    "DHL-2026-0005.csv": "inbox_no_carrier_folder",
    "LINKED": "inbox_symlink",
}


def test_the_survey_keeps_bill_files_and_refuses_everything_else(tmp_path) -> None:
    from runs.inbox import survey_inbox

    data, good, secret = hostile_inbox(tmp_path)
    survey = survey_inbox(DataLayout(data).bills_inbox)
    assert [f.path for f in survey.files] == [good]
    refused = {e.name: e for e in survey.refused}
    assert {name: e.code for name, e in refused.items()} == EXPECTED
    assert f"(to {secret})" in refused["DHL/passwd.csv"].reason
    assert "refused, never followed" in refused["DHL/passwd.csv"].reason
    assert refused["DHL/pipe.csv"].reason == "DHL/pipe.csv is a fifo, not a file: not read"
    assert "move them up to bills/inbox/DHL/" in refused["DHL/2026-01"].reason
    assert "bills/inbox/<CARRIER>/DHL-2026-0005.csv" in refused["DHL-2026-0005.csv"].reason


def test_raw_store_reads_no_link_and_waits_on_no_fifo(tmp_path) -> None:
    from parsers.ingest import sha256_of, store_raw
    from storage.files import NotARegularFile

    data, _, _ = hostile_inbox(tmp_path)
    dhl = DataLayout(data).bills_inbox / "DHL"
    for entry in ("passwd.csv", "pipe.csv"):
        with pytest.raises(NotARegularFile, match=entry):
            store_raw(dhl / entry, tmp_path / "raw")
        with pytest.raises(NotARegularFile):
            sha256_of(dhl / entry)
    assert not (tmp_path / "raw").exists()


def _query(layout: DataLayout, sql: str) -> list[tuple]:
    with duckdb.connect(str(layout.warehouse_db), read_only=True) as con:
        return con.sql(sql).fetchall()


def test_a_run_copies_no_link_and_reports_every_refused_entry(tmp_path) -> None:
    data, good, _ = hostile_inbox(tmp_path)
    layout = DataLayout(data)
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_bills(data, instance, log_level="WARNING")
        assert result is not None and result.success
        stored = [p for p in layout.raw_store.rglob("*") if p.is_file()]
        assert [p.read_bytes() for p in stored] == [good.read_bytes()]
        written = [
            p
            for p in data.rglob("*")
            if layout.bills_inbox not in p.parents and not p.is_symlink() and p.is_file()
        ]
        assert SECRET not in b"".join(p.read_bytes() for p in written)
        rows = _query(layout, "SELECT file_name, error_code, reason FROM bill_quarantine")
        assert {name: code for name, code, _ in rows} == EXPECTED
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks["inbox_holds_only_bill_files"] is False

        for name in ("passwd.csv", "pipe.csv", "sock.csv", ".DHL-2026-0003.csv"):
            (layout.bills_inbox / "DHL" / name).unlink()
        for name in ("DHL-2026-0005.csv", "LINKED"):
            (layout.bills_inbox / name).unlink()
        (layout.bills_inbox / "DHL" / "2026-01" / "DHL-2026-0002.csv").unlink()
        (layout.bills_inbox / "DHL" / "2026-01").rmdir()
        refreshed = run_bills(data, instance, log_level="WARNING")
        assert refreshed is not None and refreshed.success, "cleaning up refreshes the report"
        checks = {e.check_name: e.passed for e in refreshed.get_asset_check_evaluations()}
        assert checks == {"inbox_holds_only_bill_files": True, "quarantine_is_empty": True}
        assert run_bills(data, instance) is None
    assert _query(layout, "SELECT count(*) FROM bill_quarantine") == [(0,)]


def test_the_sensor_refreshes_the_report_when_refused_entries_change(tmp_path) -> None:
    from assets.defs.sensors import bill_inbox_sensor
    from assets.resources import ReckonResource

    data, good, _ = hostile_inbox(tmp_path)
    resource = ReckonResource(data_dir=str(data))
    with dg.DagsterInstance.ephemeral() as instance:

        def tick(cursor: str | None):
            with dg.build_sensor_context(
                instance=instance, resources={"reckon": resource}, cursor=cursor
            ) as context:
                return bill_inbox_sensor(context)

        first = tick(None)
        assert isinstance(first, dg.SensorResult)
        (added,) = first.dynamic_partitions_requests
        assert [k.split("#")[0] for k in added.partition_keys] == [f"DHL/{good.name}"]
        assert len(first.run_requests) == 1, "the new files' run refreshes the report too"
        instance.add_dynamic_partitions("bill_files", list(added.partition_keys))
        second = tick(first.cursor)
        assert isinstance(second, dg.SkipReason)
        assert "7 inbox entries refused (see bill_quarantine)" in second.skip_message
        (DataLayout(data).bills_inbox / "DHL" / "another-link.csv").symlink_to(good)
        third = tick(first.cursor)
        assert isinstance(third, dg.SensorResult)
        (refresh,) = third.run_requests
        assert refresh.asset_selection == [dg.AssetKey("bill_quarantine")]
        assert third.cursor != first.cursor
