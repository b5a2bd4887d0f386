"""Bill files through Dagster: inbox -> partitions -> raw store -> canonical lines or quarantine."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.defs.sensors import bill_inbox_sensor
from assets.resources import ReckonResource
from reckon.runner import run_bills

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples"
UBL = SAMPLES / "en16931-connectingeurope" / "ubl-tc434-example2.xml"
needs_samples = pytest.mark.skipif(
    not UBL.exists(), reason=f"shared samples not found at {SAMPLES.resolve()}"
)


def _inbox(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    inbox = data / "bills" / "inbox" / "ACME"
    inbox.mkdir(parents=True)
    shutil.copy(UBL, inbox / UBL.name)
    (inbox / "broken.xml").write_text("<Invoice><ID>1</ID>", encoding="utf-8")
    return data


def _query(data: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(sql).fetchall()


@needs_samples
def test_inbox_files_parse_or_quarantine_in_one_run_and_never_twice(tmp_path: Path) -> None:
    data = _inbox(tmp_path)
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_bills(data, instance, log_level="WARNING")
        assert result is not None and result.success
        assert len(instance.get_runs()) == 1
        assert run_bills(data, instance) is None, "nothing new, nothing to run"
    status = dict(_query(data, "SELECT file_name, status FROM bill_file_status"))
    assert status == {"ubl-tc434-example2.xml": "parsed", "broken.xml": "quarantined"}
    lines = _query(data, "SELECT count(*), sum(amount) FROM bill_lines")[0]
    assert lines[0] == 7 and str(lines[1]) == "1436.50"
    provenance = _query(data, "SELECT DISTINCT parser, locator IS NOT NULL FROM bill_lines")
    assert provenance == [("en16931-xml", True)]
    quarantined = _query(data, "SELECT file_name, reason FROM bill_quarantine")
    assert quarantined[0][0] == "broken.xml" and quarantined[0][1]
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["every_file_parsed_or_quarantined"] is True
    assert checks["lines_sum_to_stated_totals"] is True


@needs_samples
def test_the_sensor_registers_new_files_once_and_requests_one_run(tmp_path: Path) -> None:
    data = _inbox(tmp_path)
    resource = ReckonResource(data_dir=str(data))
    with dg.DagsterInstance.ephemeral() as instance:
        with dg.build_sensor_context(instance=instance, resources={"reckon": resource}) as context:
            first = bill_inbox_sensor(context)
        assert isinstance(first, dg.SensorResult)
        added = first.dynamic_partitions_requests[0].partition_keys
        assert sorted(k.split("#")[0] for k in added) == [
            "ACME/broken.xml",
            "ACME/ubl-tc434-example2.xml",
        ]
        assert len(first.run_requests) == 1, "a batch of new files is one run"
        instance.add_dynamic_partitions("bill_files", list(added))
        with dg.build_sensor_context(instance=instance, resources={"reckon": resource}) as context:
            second = bill_inbox_sensor(context)
        assert isinstance(second, dg.SkipReason)


def test_an_invalid_template_is_visible_on_the_bill_assets(tmp_path: Path, monkeypatch) -> None:
    """A broken extra template is skipped (the other carriers' bills still parse), and the
    skip is on bill_lines' metadata and its WARN check, naming the file and the field."""
    from tests.parsers.published_layouts import fedex_billing_online

    data = tmp_path / "data"
    inbox = data / "bills" / "inbox" / "FEDEX"
    inbox.mkdir(parents=True)
    bill = fedex_billing_online(1)
    (inbox / "fedex.csv").write_bytes(bill.data)
    extra = tmp_path / "templates"
    extra.mkdir()
    (extra / "broken.yaml").write_text(
        "id: broken\nversion: 1\ncarrier: ACME\nformat: csv\nmatch: {filename: '*.csv'}\n"
        "bill: {bill_number: {column: A}, bill_date: {column: B}, currency: {const: USD}}\n"
        "lines: {tracking_number: {column: T}, charge: {amount: {column: X}}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("RECKON_TEMPLATES_DIR", str(extra))
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_bills(data, instance, log_level="WARNING")
        assert result is not None and result.success
    assert _query(data, "SELECT status, lines FROM bill_file_status") == [
        ("parsed", len(bill.lines))
    ]
    (check,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "every_template_loads"
    ]
    assert check.passed is False and check.severity == dg.AssetCheckSeverity.WARN
    (error,) = check.metadata["errors"].value
    assert error.startswith("template broken.yaml skipped: ") and "match.filename" in error
    (materialized,) = [m.metadata for m in result.asset_materializations_for_node("bill_lines")]
    assert materialized["template_errors"].value == [error]
