"""`reckon run` over generated demo data when reconciliation meets bad input (issue 2/6,
items 1 and 11): one carrier period fails alone and the next run recovers it by itself; a
bad bill removed from the inbox, or corrected under its name, leaves no line behind; a data
directory without any bill accrues every carrier; shipments that cannot be priced are
reported, fail a check and make `reckon run` exit 3, saying why.

The bad bill is the demo's 4PX statement of 1-15 January with its currency changed from the
contract's CNY to USD: its lines cannot be reconciled (`BillInputError`), so FOURPX|2026-01-01
fails while UPS, YANWEN, DHL and YUNEXPRESS are reconciled and exported.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG as RANGE_END
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_START_TAG as RANGE_START
from typer.testing import CliRunner

from assets.defs.sensors import reconciliation_sensor
from assets.resources import ReckonResource
from demo.carrier_api import fetch_demo_bills
from demo.generate import generate
from reckon.cli import app
from reckon.exit_codes import ExitCode
from reckon.runner import run_bills
from storage.layout import DataLayout

pytestmark = pytest.mark.slow

START, END = date(2026, 1, 1), date(2026, 1, 21)
"""Three weeks at scale 1: 4PX (XML) and Yanwen (PDF) bills of 1-15 January in the inbox,
three weekly UPS bills fetched from the demo API; DHL and YunExpress not billed yet."""
FAILING = "FOURPX|2026-01-01"
BILL = "bills/inbox/FOURPX/4PXB-SZ-88310-20260101.xml"
RECONCILIATION_EXPORTS = (
    "reconciliation_findings",
    "reconciliation_period_summary",
    "payable_vouchers",
    "carrier_disputes",
    "accrual_journal",
    "accrual_rollforward",
    "order_logistics_cost",
    "unpriceable_shipments",
)


def _reckon_run(data: Path, start: date = START, end: date = END):
    """`reckon run` as an operator types it (the CLI in this process, its exit code), with the
    data directory's own Dagster home (the CLI sets DAGSTER_HOME for the process)."""
    inherited = os.environ.pop("DAGSTER_HOME", None)
    try:
        return CliRunner().invoke(
            app, ["run", "--data", str(data), "--from", start.isoformat(), "--to", end.isoformat()]
        )
    finally:
        os.environ.pop("DAGSTER_HOME", None)
        if inherited is not None:
            os.environ["DAGSTER_HOME"] = inherited


def _digests(data: Path, folders: tuple[str, ...] = RECONCILIATION_EXPORTS) -> dict[str, str]:
    exports = data / "exports"
    return {
        str(p.relative_to(exports)): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted((exports / folder).rglob("*"))
        if p.is_file()
    }


def _query(data: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(sql).fetchall()


def _in_currency(bill: bytes, currency: str) -> bytes:
    """The 4PX statement with every currency code changed (still a well-formed bill)."""
    changed = bill.replace(b"CNY", currency.encode())
    assert changed != bill
    return changed


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reconciliation_faults") / "inputs"
    generate(root, scale=1, seed=7, start=START, end=END)
    fetch_demo_bills(DataLayout(root))
    assert (root / BILL).is_file()
    return root


@pytest.fixture(scope="module")
def clean(inputs: Path) -> tuple[Path, dict[str, str]]:
    """A clean run over the good data: its data directory and its exports' sha256."""
    data = inputs.parent / "clean"
    shutil.copytree(inputs, data)
    done = _reckon_run(data)
    assert done.exit_code == ExitCode.OK, done.output
    return data, _digests(data)


def _failed_periods(data: Path) -> dict[str, str]:
    path = data / "work" / "reconciliation" / "failed_periods.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _period_files(data: Path, table: str) -> set[str]:
    return {p.stem for p in (data / "exports" / table).glob("*.csv")}


def test_a_failed_period_leaves_the_others_exported_and_the_next_run_recovers_it(
    inputs: Path, clean, tmp_path: Path
) -> None:
    clean_data, expected = clean
    data = tmp_path / "data"
    shutil.copytree(inputs, data)
    good = (data / BILL).read_bytes()
    (data / BILL).write_bytes(_in_currency(good, "USD"))

    first = _reckon_run(data)
    assert first.exit_code == ExitCode.CHECKS_FAILED, first.output
    assert "check every_period_reconciled on reconciliation did not pass" in first.output
    assert f"period {FAILING} not reconciled" in first.output and "USD" in first.output
    assert list(_failed_periods(data)) == [FAILING]
    # every other carrier's vouchers, disputes and accruals are exported in the same run
    vouchers = _period_files(data, "payable_vouchers")
    assert {"UPS_2025-12-29", "UPS_2026-01-05", "YANWEN_2026-01-01"} <= vouchers
    assert "FOURPX_2026-01-01" not in vouchers, "a failed period is not stored or exported"
    for carrier in ("DHL", "UPS", "YANWEN", "YUNEXPRESS"):
        assert any(s.startswith(carrier) for s in _period_files(data, "accrual_journal"))
    assert any(p.name.startswith("UPS_") for p in (data / "exports/carrier_disputes").glob("*"))
    periods = {k: v for k, v in expected.items() if k.split("/")[0] in RECONCILIATION_EXPORTS[:6]}
    others = {k: v for k, v in periods.items() if "FOURPX" not in k}
    assert len(others) > 40
    found = _digests(data)
    assert {k: found.get(k) for k in others} == others, "the other periods as in a clean run"

    _a_fixed_input_is_requested_again_by_the_sensor(data, good)

    # the next night's run, over a range without that period, picks it up by itself
    second = _reckon_run(data, END, END)
    assert second.exit_code == ExitCode.OK, second.output
    assert _failed_periods(data) == {}
    assert _digests(data) == expected, "byte-identical to a clean run over the fixed data"
    assert _query(data, "SELECT count(*) FROM bill_lines") == _query(
        clean_data, "SELECT count(*) FROM bill_lines"
    )
    (status,) = _query(
        data,
        "SELECT status, error_code, reason FROM bill_file_status "
        "WHERE file_name = '4PXB-SZ-88310-20260101.xml' AND status = 'withdrawn'",
    )
    assert status[:2] == ("withdrawn", "file_superseded"), status
    assert "replaced by a corrected file under the same name" in status[2]

    _a_bad_bill_removed_from_the_inbox_leaves_nothing_behind(data, expected)


def _a_fixed_input_is_requested_again_by_the_sensor(data: Path, good: bytes) -> None:
    """The corrected statement re-sent under its name: once it is parsed, the sensor asks
    for a run covering the failed period (and not before)."""
    resource = ReckonResource(data_dir=str(data))
    with dg.DagsterInstance.from_config(str(data / ".dagster_home")) as instance:
        with dg.build_sensor_context(instance=instance, resources={"reckon": resource}) as context:
            first = reconciliation_sensor(context)
        cursor = first.cursor if isinstance(first, dg.SensorResult) else None
        with dg.build_sensor_context(
            instance=instance, resources={"reckon": resource}, cursor=cursor
        ) as context:
            idle = reconciliation_sensor(context)
        assert isinstance(idle, dg.SkipReason) or not idle.run_requests, "nothing changed yet"

        (data / BILL).write_bytes(good)
        parsed = run_bills(data, instance, log_level="WARNING")
        assert parsed is not None and parsed.success
        with dg.build_sensor_context(
            instance=instance, resources={"reckon": resource}, cursor=cursor
        ) as context:
            after = reconciliation_sensor(context)
        assert isinstance(after, dg.SensorResult), after
        added = [k for r in after.dynamic_partitions_requests for k in r.partition_keys or []]
        ordered = [*instance.get_dynamic_partitions("carrier_periods"), *added]
        covered = [
            ordered[ordered.index(r.tags[RANGE_START]) : ordered.index(
                r.tags[RANGE_END]) + 1]
            if r.partition_key is None
            else [r.partition_key]
            for r in after.run_requests
        ]  # fmt: skip
        assert any(FAILING in keys for keys in covered), after.run_requests


def _a_bad_bill_removed_from_the_inbox_leaves_nothing_behind(
    data: Path, expected: dict[str, str]
) -> None:
    """A second, bad copy of the statement arrives (another name, other bytes): the period
    fails again. The operator removes it: its lines leave the warehouse and the period is
    reconciled again, as if it had never come."""
    bad = data / BILL.replace("20260101.xml", "20260101-resent.xml")
    bad.write_bytes(_in_currency((data / BILL).read_bytes(), "USD"))
    arrived = _reckon_run(data, END, END)
    assert arrived.exit_code == ExitCode.CHECKS_FAILED, arrived.output
    assert list(_failed_periods(data)) == [FAILING]

    bad.unlink()
    removed = _reckon_run(data, END, END)
    assert removed.exit_code == ExitCode.OK, removed.output
    assert _failed_periods(data) == {}
    (row,) = _query(
        data,
        "SELECT status, error_code, lines, reason FROM bill_file_status "
        f"WHERE file_name = '{bad.name}'",
    )
    assert row[:3] == ("withdrawn", "file_withdrawn", 0)
    assert "is no longer in the inbox" in row[3]
    assert _query(
        data,
        "SELECT count(*) FROM bill_lines WHERE source_sha256 IN "
        f"(SELECT sha256 FROM bill_file_status WHERE file_name = '{bad.name}')",
    ) == [(0,)]
    assert _digests(data) == expected


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One week of demo data and no bill file at all (the UPS bill stays in the demo API)."""
    root = tmp_path_factory.mktemp("reconciliation_week") / "inputs"
    generate(root, scale=1, seed=11, start=START, end=date(2026, 1, 7))
    assert not (root / "bills" / "inbox").exists()
    return root


def test_without_any_bill_file_every_carrier_is_rated_and_accrued(week: Path, tmp_path) -> None:
    data = tmp_path / "data"
    shutil.copytree(week, data)
    done = _reckon_run(data, START, date(2026, 1, 7))
    assert done.exit_code == ExitCode.OK, done.output
    carriers = {c for (c,) in _query(data, "SELECT DISTINCT carrier FROM shipments")}
    assert len(carriers) == 5
    rated = _query(
        data,
        "SELECT s.carrier, count(*), count(r.shipment_id) FROM shipments s "
        "LEFT JOIN shipment_ratings r USING (shipment_id) GROUP BY ALL",
    )
    assert all(n == rated_n for _, n, rated_n in rated), rated
    accrued = _query(
        data,
        "SELECT carrier, count(*) FROM accrual_journal WHERE entry = 'ACCRUE' GROUP BY ALL",
    )
    shipped = dict((c, n) for c, n, _ in rated)
    assert dict(accrued) == shipped, "every shipment of every carrier accrued"
    assert {p.stem.split("_")[0] for p in (data / "exports/accrual_journal").glob("*.csv")} == (
        carriers
    )


def test_unpriceable_shipments_are_reported_fail_a_check_and_exit_3(week: Path, tmp_path) -> None:
    """YANWEN shipped but left out of carriers.yaml (and its rate card gone); DHL's first
    contract version starts on 3 January, so its shipments of 1-2 January have none."""
    data = tmp_path / "data"
    shutil.copytree(week, data)
    carriers = data / "carriers.yaml"
    text = carriers.read_text(encoding="utf-8")
    kept, _, rest = text.partition("- carrier: YANWEN")
    after = rest.partition("\n- carrier:")
    carriers.write_text(kept + (f"- carrier:{after[2]}" if after[2] else ""), encoding="utf-8")
    (data / "rate_cards" / "yanwen_v1.yaml").unlink()
    card = data / "rate_cards" / "dhl_v1.yaml"
    card.write_text(
        card.read_text(encoding="utf-8").replace("valid_from: '2026-01-01'", "valid_from: "
                                                 "'2026-01-03'"), encoding="utf-8"
    )  # fmt: skip

    done = _reckon_run(data, START, date(2026, 1, 7))
    assert done.exit_code == ExitCode.CHECKS_FAILED, done.output
    assert "check every_shipment_priced on order_logistics_cost did not pass" in done.output
    assert "YANWEN shipment(s) cannot be priced (carrier_not_configured)" in done.output
    assert "DHL shipment(s) cannot be priced (no_valid_rate_card)" in done.output

    exported = pl.read_parquet(data / "exports/unpriceable_shipments/all.parquet")
    by_reason = dict(
        exported.group_by("carrier", "reason_code").len().select(
            pl.concat_str("carrier", "reason_code", separator=" "), "len"
        ).iter_rows()
    )  # fmt: skip
    (yanwen,) = _query(data, "SELECT count(*) FROM shipments WHERE carrier = 'YANWEN'")
    (early_dhl,) = _query(
        data,
        "SELECT count(*) FROM shipments WHERE carrier = 'DHL' "
        "AND CAST(shipped_at AS DATE) < DATE '2026-01-03'",
    )
    assert by_reason == {
        "YANWEN carrier_not_configured": yanwen[0],
        "DHL no_valid_rate_card": early_dhl[0],
    }
    assert early_dhl[0] > 0 and yanwen[0] > 0
    assert exported["reason"].str.len_chars().min() > 10, "each with its reason in words"

    costs = pl.read_parquet(data / "exports/order_logistics_cost/all.parquet")
    assert costs.height == costs.select("order_id", "company").n_unique(), "its key holds"
    assert costs["functional_currency"].null_count() == 0
