"""Costing through Dagster: nightly runs equal one range run, reruns change nothing, late
documents are recosted, a range run shows each day's own figures on its partition, and
nothing is exported past a failing blocking check."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from demo.generate import generate
from pipelines.contracts.inputs import DAILY_TABLES
from reckon.runner import run_range
from runs.costing import ageing_on_days, valuation_on_days
from tests.assets.events import latest_by_partition

# Twelve Dagster runs over ten days of scale-1 data: minutes on a shared two-core machine.
pytestmark = pytest.mark.slow

START, END = date(2026, 1, 1), date(2026, 1, 10)
DAYS = [START + timedelta(days=i) for i in range((END - START).days + 1)]
COMPARED = {
    "costing_cogs": ["posting_date", "movement_id", "kind"],
    "costing_consumption": None,
    "costing_journals": None,
    "costing_flags": ["movement_id", "flag"],
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "data"
    generate(out, scale=1, seed=5, start=START, end=END, bills=False)
    return out


def _copy(inputs: Path, target: Path) -> Path:
    shutil.copytree(inputs, target)
    return target


def _run(
    data: Path, start: date, end: date, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    result = run_range(data, start, end, instance=instance, log_level="WARNING")
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def _tables(data: Path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:
        frames = {}
        for table, key in COMPARED.items():
            frame = con.sql(f"SELECT * FROM {table}").pl()
            frames[table] = frame.sort(key or frame.columns)
        frames["valuation"] = valuation_on_days(con, DAYS)
        frames["ageing"] = ageing_on_days(con, DAYS)
    return frames


def test_nightly_runs_equal_one_range_run_and_reruns_change_nothing(
    inputs: Path, tmp_path: Path
) -> None:
    full = _copy(inputs, tmp_path / "full")
    nightly = _copy(inputs, tmp_path / "nightly")
    restated = []
    nights = []
    with dg.DagsterInstance.ephemeral() as instance:
        range_result = _run(full, START, END, instance)
        for day in DAYS:
            result = _run(nightly, day, day, instance)
            nights.append(result)
            meta = _costing_metadata(result)
            restated.append(meta["days_recosted_for_late_documents"].value)
        expected = _tables(full)
        assert _tables(nightly).keys() == expected.keys()
        for name, frame in _tables(nightly).items():
            assert frame.equals(expected[name]), name
        assert expected["costing_cogs"].height > 1000
        assert any(n > 0 for n in restated), "late documents made some nights recost earlier days"
        nights.append(_run(nightly, END, END, instance))
        last_night = _costing_metadata(nights[-1])
        for name, frame in _tables(nightly).items():
            assert frame.equals(expected[name]), f"rerun changed {name}"
    _check_range_metadata(range_result, expected, last_night)
    _check_each_day_as_its_night(range_result, nights)
    key = COMPARED["costing_cogs"]
    cogs = pl.read_parquet(nightly / "exports" / "costing_cogs" / f"{END}.parquet").sort(key)
    assert cogs.height > 0
    assert cogs.equals(
        expected["costing_cogs"].filter(pl.col("posting_date") == END).select(cogs.columns)
    )
    csv = (nightly / "exports" / "inventory_valuation" / f"{END}.csv").read_bytes()
    assert csv.startswith(b"\xef\xbb\xbf")


def _costing_metadata(result: dg.ExecuteInProcessResult) -> dict:
    return next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.path == ["costing"]
    )


def _check_range_metadata(
    result: dg.ExecuteInProcessResult, tables: dict[str, pl.DataFrame], last_night: dict
) -> None:
    """A range run shows its totals as the range's, and each day's own figures on that
    day's partition (its latest materialization): equal to the warehouse, and to a nightly
    run's."""
    meta = _costing_metadata(result)
    assert meta["figures_cover"].value == f"{START} to {END} (the whole range)"
    assert "cogs_total" not in meta
    observed = latest_by_partition([result], "costing")
    assert sorted(observed) == [str(d) for d in DAYS]
    assert not [k for k in meta if k.startswith("cogs ")], "a range run plots no day's figure"
    cogs, valuation = tables["costing_cogs"], tables["valuation"]
    currencies = {"CN01": "CNY", "US01": "USD"}
    for day in DAYS:
        figures = observed[str(day)]
        day_cogs = cogs.filter(pl.col("posting_date") == day)
        stock = valuation.filter(pl.col("day") == day)
        assert figures["outbound_movements"].value == day_cogs.filter(kind="COST").height, day
        assert figures["inventory_qty_end"].value == stock["closing_qty"].sum(), day
        exact = {r.data["company"]: r.data for r in figures["cogs_by_company"].value.records}
        for company, currency in currencies.items():
            # each company in its own currency: never one figure over CNY and USD
            label = f"{company} ({currency})"
            own, held = day_cogs.filter(company=company), stock.filter(company=company)
            assert exact[company]["currency"] == currency
            assert exact[company]["cogs"] == str(own["amount"].sum()), day
            assert figures[f"cogs {label}"].value == float(own["amount"].sum()), day
            value = str(held["closing_value"].sum())
            assert exact[company]["inventory_value_end"] == value, day
        assert not [k for k in figures if "total" in k], "no total across currencies"
    shared = [
        k
        for k in observed[str(END)]
        if k == "cogs_by_company" or k.startswith(("cogs ", "inventory_value_end "))
    ]
    assert len(shared) == 5, "the exact table and a plotted figure per company and measure"
    shared += ["outbound_movements", "provisional_movements"]
    shared += ["true_ups", "flagged_movements", "late_movements", "inventory_qty_end"]
    assert {k: observed[str(END)][k] for k in shared} == {k: last_night[k] for k in shared}


def _check_each_day_as_its_night(
    range_result: dg.ExecuteInProcessResult, nights: list[dg.ExecuteInProcessResult]
) -> None:
    """Issue 11, point 3: the latest materialization of each day of a range run shows what
    the nightly runs over the same data show for that day (costing, the inventory check and
    the stock ageing), every figure, table and plotted number, with the day's own numbers
    plotted."""
    for asset in ("costing", "inventory_check", "stock_ageing"):
        ranged = latest_by_partition([range_result], asset)
        nightly = latest_by_partition(nights, asset)
        assert sorted(ranged) == sorted(nightly) == [str(d) for d in DAYS], asset
        for day in DAYS:
            own = {k: v for k, v in ranged[str(day)].items() if k != "costed_in_run_of"}
            night = nightly[str(day)]
            cover = own.get("figures_cover", own.get("as_of"))
            assert cover is not None and cover.value == str(day), (asset, day)
            assert {k: night.get(k) for k in own} == own, (asset, day)
        if asset == "costing":
            plotted = [k for k in ranged[str(END)] if k.startswith("cogs CN01")]
            assert plotted and isinstance(ranged[str(END)][plotted[0]], dg.FloatMetadataValue)
    # the daily inputs: each day of the range load shows its own counts, as its night's load
    for table in [c.name for c in DAILY_TABLES]:
        ranged = latest_by_partition([range_result], table)
        nightly = latest_by_partition(nights, table)
        assert sorted(ranged) == sorted(nightly) == [str(d) for d in DAYS], table
        for day in DAYS:
            own = ranged[str(day)]
            assert {"files", "rows_loaded", "rows_quarantined", "dagster/row_count"} <= set(own)
            assert {k: nightly[str(day)].get(k) for k in own} == own, (table, day)
        loaded = [ranged[str(d)]["rows_loaded"].value for d in DAYS]
        assert len(set(loaded)) > 1 or table != "movements", "each day its own count"


def test_a_failing_blocking_check_stops_the_exports(inputs: Path, tmp_path: Path) -> None:
    data = _copy(inputs, tmp_path / "strict")
    # A snapshot that disagrees with everything: accuracy far below the threshold.
    snapshot = data / "snapshots" / f"{END}.parquet"
    frame = pl.read_parquet(snapshot)
    frame.with_columns(pl.col("quantity") + 1).write_parquet(snapshot)
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(data, START, END, instance=instance, log_level="ERROR")
    assert not result.success
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert "snapshot_accuracy" in failed
    materialized = {e.asset_key.path[0] for e in result.get_asset_materialization_events()}
    assert "costing" in materialized and "costing_exports" not in materialized
    assert not (data / "exports" / "costing_cogs").exists()
