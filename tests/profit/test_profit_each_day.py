"""Issue 13 point 7 through Dagster's own runs: every order day of a range run gets a
materialization of its own that shows what the nightly runs show for that day (revenue,
COGS, freight and margin per company as plottable numbers, never summed across currencies,
and the day's negative-margin orders with the cost that drove each), and so does every day
a nightly run restated.

The ledger is tests/operations/restatement_data.py's; Jan 8 sells below cost in both
companies (CN01 in CNY, US01 in USD), and Jan 10's extract brings a backdated receipt that
makes the last night restate Jan 7-9."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from reckon.runner import run_range
from tests.assets.events import latest_by_partition
from tests.operations.restatement_data import (
    BACKDATED_RECEIPT,
    DAYS,
    movements,
    warehouse_query,
    write_data,
    write_extract,
)
from tests.profit.orders_data import ORDERED, write_orders

# Fourteen Dagster runs of the nightly and profit jobs over a hand-built ledger.
pytestmark = pytest.mark.slow

JAN5, JAN6, JAN7, JAN8, JAN9, JAN10 = DAYS
PRICED = {
    **ORDERED,
    # below cost: 30 mugs at 9.00 (costing 315.00), 3 lamps at 4.00 (costing 13.50)
    "SO-5": (JAN8, "CN01", "CNY", "MUG-01", 30, "9.00"),
    "SO-13": (JAN8, "US01", "USD", "LAMP-02", 3, "4.00"),
}
CURRENCIES = {"CN01": "CNY", "US01": "USD"}
PLOTTED = ("net_revenue", "cogs", "freight", "contribution_margin")


def _data(root: Path) -> Path:
    data = write_data(root, DAYS)
    write_orders(data, DAYS, PRICED)
    write_extract(data, JAN10, movements(JAN10, (BACKDATED_RECEIPT,)))
    return data


def _run(data: Path, first: date, last: date, instance: dg.DagsterInstance, job: str):
    result = run_range(data, first, last, instance, job_name=job, log_level="WARNING")
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def test_each_day_of_a_range_run_shows_what_its_nightly_run_shows(tmp_path: Path) -> None:
    ranged_data, nightly_data = _data(tmp_path / "range"), _data(tmp_path / "nightly")
    with dg.DagsterInstance.ephemeral() as instance:
        _run(ranged_data, JAN5, JAN10, instance, "nightly")
        range_run = _run(ranged_data, JAN5, JAN10, instance, "profit")
    nights = []
    with dg.DagsterInstance.ephemeral() as instance:
        for day in DAYS:
            _run(nightly_data, day, day, instance, "nightly")
            nights.append(_run(nightly_data, day, day, instance, "profit"))
    query = "SELECT * FROM order_profit ORDER BY order_line_id"
    assert warehouse_query(nightly_data, query).equals(warehouse_query(ranged_data, query))

    ranged = latest_by_partition([range_run], "order_profit")
    nightly = latest_by_partition(nights, "order_profit")
    assert sorted(ranged) == sorted(nightly) == [str(d) for d in DAYS]
    for day in DAYS:
        own = {k: v for k, v in ranged[str(day)].items() if k != "computed_in_run_of"}
        night = nightly[str(day)]
        assert own["figures_cover"].value == str(day)
        assert {k: night.get(k) for k in own} == own, day
    # the last night restated Jan 7-9: their latest materializations are its, with their
    # own figures (the night's own materialization is Jan 10's)
    for day in (JAN7, JAN8, JAN9):
        assert nightly[str(day)]["rewritten_by_run"].value == nights[-1].run_id, day
    assert "rewritten_by_run" not in nightly[str(JAN10)]

    _check_the_figures_are_each_days_per_company(ranged_data, ranged)
    _check_the_negative_margin_orders_say_what_drove_them(ranged[str(JAN8)])
    own = _own_materialization(range_run)
    assert own["figures_cover"].value == f"{JAN5} to {JAN10} (the whole range)"
    assert not [k for k in own if isinstance(own[k], dg.FloatMetadataValue)], "no day plotted"
    assert own["negative_margin_orders"].value == 2


def _check_the_figures_are_each_days_per_company(data: Path, latest: dict) -> None:
    """Each company's figures of the day, in its own currency, as stored; plotted as floats;
    no figure over both companies."""
    stored = warehouse_query(
        data,
        "SELECT order_date, company, functional_currency AS currency, "
        "sum(net_revenue) AS net_revenue, sum(cogs) AS cogs, sum(freight) AS freight, "
        "sum(contribution_margin) AS contribution_margin FROM profit_daily GROUP BY ALL",
    )
    for day in DAYS:
        figures = latest[str(day)]
        assert not [k for k in figures if "total" in k], day
        exact = {r.data["company"]: r.data for r in figures["figures_by_company"].value.records}
        of_day = stored.filter(pl.col("order_date") == day)
        assert sorted(exact) == sorted(of_day["company"]), day
        for row in of_day.iter_rows(named=True):
            company = row["company"]
            assert row["currency"] == CURRENCIES[company] == exact[company]["currency"]
            for name in PLOTTED:
                plotted = figures[f"{name} {company} ({row['currency']})"]
                assert isinstance(plotted, dg.FloatMetadataValue)
                assert plotted.value == float(row[name]), (day, company, name)
                assert exact[company][name] == str(row[name]), (day, company, name)
    assert latest[str(JAN10)]["order_lines"].value == 0
    assert latest[str(JAN8)]["order_lines"].value == 2


def _check_the_negative_margin_orders_say_what_drove_them(figures: dict) -> None:
    # SO-5: 270.00 − 2.00 + 5.00 − 1.80 − 315.00 (15 mugs of the backdated receipt at 9.00,
    # 15 at 12.00); SO-13: 12.00 − 2.00 + 5.00 − 1.80 − 13.50 (3 lamps at 4.50)
    assert figures["negative_margin_orders"].value == 2
    shown = [r.data for r in figures["negative_margin_preview"].value.records]
    assert [(r["order_id"], r["functional_currency"], r["largest_cost"]) for r in shown] == [
        ("SO-5", "CNY", "COGS"),
        ("SO-13", "USD", "COGS"),
    ]
    assert [D(r["contribution_margin"]) for r in shown] == [D("-43.80"), D("-0.30")]


def _own_materialization(result: dg.ExecuteInProcessResult) -> dict:
    """The range run's own materialization (the first of the asset: one per partition)."""
    return next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.path == ["order_profit"]
    )
