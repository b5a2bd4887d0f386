"""Reconciliation through Dagster: periods as partitions, reruns without duplicates, and the
sensor that registers periods and reacts to a changed contract. The demo warehouse the whole
graph fills here is also checked, table by table and export by export, against the contracts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.definitions import build_definitions
from assets.defs.sensors import reconciliation_sensor
from assets.resources import ReckonResource
from demo.generate import generate
from pipelines.contracts import EXPORTED_TABLES, STORED_TABLES, contract
from reckon.runner import run_everything, run_reconciliation
from storage.schema import duckdb_type
from tests.assets.events import latest_by_partition

# The fixture generates a month of scale-1 data with bills and runs the whole graph on it.
pytestmark = pytest.mark.slow

START, END = date(2026, 1, 1), date(2026, 1, 31)
TABLES = ("reconciliation_findings", "payable_vouchers", "accrual_journal", "carrier_disputes")


@pytest.fixture(scope="module")
def reconciled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dg.DagsterInstance]:
    data = tmp_path_factory.mktemp("rec") / "data"
    generate(data, scale=1, seed=3, start=START, end=END)
    from demo.carrier_api import fetch_demo_bills
    from storage.layout import DataLayout

    fetch_demo_bills(DataLayout(data))
    instance = dg.DagsterInstance.ephemeral()
    results = run_everything(data, START, END, instance, log_level="WARNING")
    assert all(r.success for _, r in results), [n for n, r in results if not r.success]
    return data, instance


def _snapshot(data: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        return {t: sorted(con.sql(f"SELECT * FROM {t}").fetchall(), key=str) for t in TABLES}


def test_every_period_is_a_partition_with_checks_and_exports(reconciled) -> None:
    data, instance = reconciled
    keys = instance.get_dynamic_partitions("carrier_periods")
    assert "DHL|2026-01-01" in keys and "UPS|2025-12-29" in keys, keys[:10]
    tables = _snapshot(data)
    assert len(tables["reconciliation_findings"]) > 1000
    disputes = list((data / "exports" / "carrier_disputes").glob("*.xlsx"))
    assert disputes, "a dispute list per carrier period for the carrier"
    assert (data / "exports" / "order_logistics_cost" / "all.parquet").exists()


def test_rerunning_the_periods_changes_nothing(reconciled) -> None:
    data, instance = reconciled
    before = _snapshot(data)
    result = run_reconciliation(data, START, END, instance, log_level="WARNING")
    assert result is not None and result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    assert _snapshot(data) == before
    _check_period_materializations(data, result)
    _check_a_period_alone_shows_the_same(data, instance, result)


def _check_period_materializations(data: Path, result: dg.ExecuteInProcessResult) -> None:
    """A run over several periods shows each period's own totals on its partition (its
    latest materialization), equal to that period's row in `period_summary`."""
    observed = latest_by_partition([result], "reconciliation")
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        rows = con.sql(
            "SELECT carrier, period_start, SUM(line_count), "
            "string_agg(currency || ' ' || billed_total, '; ' ORDER BY currency), "
            "string_agg(currency || ' ' || disputed_total, '; ' ORDER BY currency) "
            "FROM reconciliation_period_summary GROUP BY ALL"
        ).fetchall()
    assert len(observed) > 1 and len(observed) == len(rows)
    for carrier, start, lines, billed, disputed in rows:
        meta = observed[f"{carrier}|{start}"]
        assert meta["figures_cover"].value == f"{carrier}|{start}"
        assert meta["bill_lines"].value == lines
        assert meta["billed_total"].value == billed
        assert meta["disputed_total"].value == disputed


def _check_a_period_alone_shows_the_same(
    data: Path, instance: dg.DagsterInstance, many: dg.ExecuteInProcessResult
) -> None:
    """Issue 11, point 3: a period reconciled among many shows, as its latest
    materialization, what a run of that period alone shows (its disputes with their reasons
    and its workbook on the exports), numbers plotted."""
    key = "DHL|2026-01-01"
    job = build_definitions(ReckonResource(data_dir=str(data))).resolve_job_def("reconcile_periods")
    alone = job.execute_in_process(instance=instance, tags={"dagster/partition": key})
    assert alone.success
    for asset in ("reconciliation", "reconciliation_exports"):
        own = latest_by_partition([many], asset)[key]
        single = latest_by_partition([alone], asset)[key]
        shown = set(own) - {"figures_cover"}
        assert shown and {k: single[k] for k in shown} == {k: own[k] for k in shown}, asset
    plotted = latest_by_partition([many], "reconciliation")[key]
    numbers = [v for k, v in plotted.items() if k.startswith("disputed_total ")]
    assert numbers and all(isinstance(v, dg.FloatMetadataValue) for v in numbers), sorted(plotted)


def test_the_sensor_registers_periods_and_reruns_all_after_a_contract_change(
    reconciled, tmp_path: Path
) -> None:
    data, _ = reconciled
    resource = ReckonResource(data_dir=str(data))
    with dg.DagsterInstance.ephemeral() as instance:
        with dg.build_sensor_context(instance=instance, resources={"reckon": resource}) as context:
            first = reconciliation_sensor(context)
        assert isinstance(first, dg.SensorResult)
        added = first.dynamic_partitions_requests[0].partition_keys
        assert "YANWEN|2026-01-16" in added
        assert first.run_requests == [], "nothing changed yet: no run"
        instance.add_dynamic_partitions("carrier_periods", list(added))
        card = next((data / "rate_cards").glob("*.yaml"))
        original = card.read_text(encoding="utf-8")
        try:
            card.write_text(original + "\n# corrected\n", encoding="utf-8")
            with dg.build_sensor_context(
                instance=instance, resources={"reckon": resource}, cursor=first.cursor
            ) as context:
                second = reconciliation_sensor(context)
        finally:
            card.write_text(original, encoding="utf-8")
        assert isinstance(second, dg.SensorResult)
        assert len(second.run_requests) == 1
        assert second.run_requests[0].run_key.startswith("contracts:")


def test_findings_go_through_parts_stored_in_line_order_and_then_removed(reconciled) -> None:
    data, _ = reconciled
    work = data / "work" / "reconciliation"
    assert work.is_dir(), "each period's findings are written as parts under work/"
    assert list(work.iterdir()) == [], "parts are removed once stored and released"
    key = "source_sha256, bill_number, line_number"
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        periods = con.sql(
            "SELECT DISTINCT carrier, period_start FROM reconciliation_findings"
        ).fetchall()
        assert len(periods) > 5
        for carrier, start in periods:
            stored = con.sql(
                f"SELECT {key} FROM reconciliation_findings WHERE carrier = ? AND period_start = ?",
                params=[carrier, start],
            ).fetchall()
            assert stored == sorted(stored), (carrier, start)


def test_carriers_are_rated_one_at_a_time_and_every_shipment_is_rated_once(reconciled) -> None:
    """The run rates and reconciles one carrier at a time (its memory is the largest
    carrier's, not the sum); every shipment up to the last period still ends up rated
    once (each carrier's slice of the ratings table is replaced, not the whole table)."""
    data, _ = reconciled
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        shipped = con.sql(
            "SELECT carrier, count(*) FROM shipments WHERE CAST(shipped_at AS DATE) <= ? "
            "GROUP BY carrier ORDER BY carrier",
            params=[END],
        ).fetchall()
        rated = con.sql(
            "SELECT carrier, count(*), count(DISTINCT shipment_id) FROM shipment_ratings "
            "WHERE ship_date <= ? GROUP BY carrier ORDER BY carrier",
            params=[END],
        ).fetchall()
    assert len(shipped) > 1
    assert [(c, n, n) for c, n in shipped] == rated


def test_every_warehouse_table_is_its_contract(reconciled) -> None:
    """Names, types in order, NOT NULL on required columns and a unique key, for every table;
    and every table has a contract, every stored contract a table."""
    data, _ = reconciled
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        tables = {
            r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()
        }
        assert tables == {t.name for t in STORED_TABLES}
        for spec in STORED_TABLES:
            columns = con.sql(
                "SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns "
                "WHERE table_name = ? ORDER BY ordinal_position",
                params=[spec.name],
            ).fetchall()
            wanted = [(c.name, duckdb_type(c.dtype), not c.required) for c in spec.stored_columns]
            assert columns == wanted, spec.name
            if spec.key:
                keys = ", ".join(f'"{k}"' for k in spec.key)
                twice = con.sql(
                    f'SELECT {keys} FROM "{spec.name}" GROUP BY ALL HAVING count(*) > 1 LIMIT 1'
                ).fetchall()
                assert twice == [], (spec.name, twice)
        # each table on its own: a cross join of them counts trillions of rows
        for table in ("costing_cogs", "reconciliation_findings", "costing_state_open_layers"):
            assert con.sql(f'SELECT count(*) FROM "{table}"').fetchall()[0][0] > 0, table


def test_every_export_is_its_contract(reconciled) -> None:
    """Every folder under exports/ is an exported contract's name, and every file has its
    columns, in order, with its types."""
    data, _ = reconciled
    exports = data / "exports"
    assert {p.name for p in exports.iterdir()} == {t.name for t in EXPORTED_TABLES}
    for folder in exports.iterdir():
        spec = contract(folder.name)
        files = sorted(folder.glob("*.parquet"))
        assert files, folder.name
        for path in files:
            assert list(pl.read_parquet_schema(path).items()) == list(spec.schema.items()), path
            header = path.with_suffix(".csv").read_text(encoding="utf-8-sig").splitlines()[0]
            assert header.split(",") == spec.column_names, path
