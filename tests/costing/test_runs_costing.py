"""runs.costing over a DuckDB warehouse: issue costs come from the stored COGS.

A RETURN of an issue costed in an earlier chunk (or night) takes that issue's booked cost,
read back from `costing_cogs`; the checkpoints carry no issue costs, so the carried state
does not grow with the history.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal as D

import duckdb
import polars as pl
import pytest

from benchmarks.costing_runs import write_warehouse
from pipelines.contracts.inputs import LANDED_COSTS
from pipelines.costing import cost_range
from runs.costing import ageing_on_days, cost_days
from tests.costing.helpers import amounts, inputs, move

JAN1, MAR31 = date(2026, 1, 1), date(2026, 3, 31)


def _ledger() -> dict[str, pl.DataFrame]:
    # r1: 3 units worth 1.00 (0.333333 each); i1 issues all 3 on Jan 5: 1.00.
    # r2: 10 units @ 5.00 on Feb 1. rt returns 1 unit of i1 on Mar 20, 74 days later (three
    # 31-day chunks on): round(100 x 1/3) = 0.33, not the pool's 5.00. rx returns 1 unit of
    # SKU S2 naming i1 (an issue of S1): not its issue, valued at S2's reference unit cost
    # (layer r3: 2.00) and flagged.
    rows = [
        move("r1", "2026-01-02T09:00", "RECEIPT", 3, cost="0.333333"),
        move("i1", "2026-01-05T09:00", "ISSUE", 3),
        move("r2", "2026-02-01T09:00", "RECEIPT", 10, cost="5"),
        move("r3", "2026-02-01T09:00", "RECEIPT", 1, cost="2", sku="S2"),
        move("rt", "2026-03-20T09:00", "RETURN", 1, ref="i1"),
        move("rx", "2026-03-20T09:00", "RETURN", 1, ref="i1", sku="S2"),
    ]
    return inputs(rows)


def test_a_return_chunks_later_takes_its_issue_cost_from_the_stored_cogs(tmp_path) -> None:
    frames = _ledger()
    one = cost_range(frames, None, JAN1, MAR31)
    expected = one.postings.filter(category="RETURN").select("movement_id", "value").rows()
    assert sorted(expected) == [("rt", D("0.33")), ("rx", D("2.00"))]
    for nightly in (False, True):
        with duckdb.connect(str(tmp_path / f"w{nightly}.duckdb")) as con:
            write_warehouse(con, frames)
            if nightly:  # the range up to the day before, then the night of Mar 20 alone
                cost_days(con, JAN1, date(2026, 3, 19))
                cost_days(con, date(2026, 3, 20), date(2026, 3, 20))
                cost_days(con, date(2026, 3, 21), MAR31)
            else:
                cost_days(con, JAN1, MAR31, chunk_days=31)
            got = con.sql(
                "SELECT movement_id, sum(amount) FROM costing_journal_lines"
                " WHERE category = 'RETURN' AND account = 'INVENTORY' GROUP BY movement_id"
                " ORDER BY movement_id"
            ).fetchall()
            assert got == [("rt", D("0.33")), ("rx", D("2.00"))]
            carried = con.sql("SELECT count(*) FROM costing_state_issue_costs").fetchall()
            assert carried == [(0,)]
            flags = con.sql(
                "SELECT movement_id FROM costing_flags WHERE flag = 'RETURN_OF_UNKNOWN_ISSUE'"
            ).fetchall()
            assert flags == [("rx",)]
            _same_ageing_as_one_call(con, one)


def _same_ageing_as_one_call(con: duckdb.DuckDBPyConnection, one) -> None:
    """The stored ageing (change rows, first-day repeats dropped at each chunk or night,
    emptied buckets closed) reads back as the one-call report on every day."""
    days = [date.fromordinal(JAN1.toordinal() + k) for k in range((MAR31 - JAN1).days + 1)]
    stored = ageing_on_days(con, days)
    for day in days:
        want = one.ageing_on(day).select("sku", "bucket", "quantity", "value").rows()
        got = stored.filter(pl.col("day") == day).select("sku", "bucket", "quantity", "value")
        assert got.rows() == want, day


def _landed_before_the_last_line() -> dict[str, pl.DataFrame]:
    # po1 has two lines: r1 10 units @1.00 (Jan 2) and r2 10 units @1.00 (Jan 12). L1 = 10.00
    # is posted on Jan 5, between them, by quantity: 5.00 each (r2's share takes effect on
    # its receipt). i1 issues 5 of r1's units on Jan 8: 5 x 1.00 + its part of r1's 5.00
    # = 7.50; i2 issues 10 on Jan 15: r1's last 5 (5.00 + 2.50) and 5 of r2 (5.00 + 2.50)
    # = 15.00. A night that only knew r1 on Jan 5 gave r1 all 10.00 (i1 = 10.00): the
    # night r2 arrives must recost from Jan 5.
    frames = inputs(
        [
            move("r1", "2026-01-02T09:00", "RECEIPT", 10, cost="1", ref="po1"),
            move("i1", "2026-01-08T09:00", "ISSUE", 5),
            move("r2", "2026-01-12T09:00", "RECEIPT", 10, cost="1", ref="po1"),
            move("i2", "2026-01-15T09:00", "ISSUE", 10),
        ]
    )
    frames["landed_costs"] = pl.DataFrame(
        [
            {
                "landed_cost_id": "L1",
                "posted_at": datetime(2026, 1, 5, 9),
                "company": "C1",
                "receipt_reference": "po1",
                "amount": D("10.00"),
                "currency": "EUR",
                "basis": "QUANTITY",
            }
        ],
        schema=LANDED_COSTS.schema,
    )
    return frames


@pytest.mark.slow  # 31 nightly runs, then chunks, against DuckDB
def test_a_landed_cost_posted_before_its_last_line_ends_the_same_nightly_or_in_one_run(
    tmp_path,
) -> None:
    frames = _landed_before_the_last_line()
    one = cost_range(frames, None, JAN1, date(2026, 1, 31))
    expected = {"i1": D("7.50"), "i2": D("15.00")}
    assert amounts(one.cogs.group_by("movement_id").agg(pl.col("amount").sum())) == expected
    for how in ("nightly", "chunks of 4 days", "one range"):
        with duckdb.connect(str(tmp_path / f"{how}.duckdb")) as con:
            write_warehouse(con, frames)
            if how == "nightly":
                day = JAN1
                while day <= date(2026, 1, 31):
                    cost_days(con, day, day)
                    day += timedelta(days=1)
            else:
                cost_days(con, JAN1, date(2026, 1, 31), chunk_days=4 if "4" in how else 31)
            cogs = con.sql(
                "SELECT movement_id, sum(amount) FROM costing_cogs GROUP BY movement_id"
                " ORDER BY movement_id"
            ).fetchall()
            assert dict(cogs) == expected, how
            value = con.sql(
                "SELECT sum(amount) FROM costing_journal_lines WHERE account = 'INVENTORY'"
            ).fetchall()[0][0]
            # 20.00 received + 10.00 landed - 22.50 issued = the 7.50 still on hand
            assert value == D("7.50"), how


def test_two_transfers_of_one_sku_in_transit_over_a_checkpoint_arrive_with_their_cost(
    tmp_path,
) -> None:
    # r1 1 unit @ 1.00, r2 2 units @ 2.00 at W1. T1 takes r1's unit on Jan 2, T2 r2's two on
    # Jan 3; both are in transit at the end of Jan 3 (each transfer's slices start at
    # position 0 in IN_TRANSIT:C1) and arrive at W2 on Jan 5; i1 issues all 3 there on Jan 6
    # (FIFO by arrival order: 1.00 + 4.00 = 5.00). Night by night, the checkpoints of Jan 3
    # and 4 hold both transfers; the figures equal one range.
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 1, cost="1"),
        move("r2", "2026-01-01T10:00", "RECEIPT", 2, cost="2"),
        move("o1", "2026-01-02T09:00", "TRANSFER_OUT", 1, ref="T1"),
        move("o2", "2026-01-03T09:00", "TRANSFER_OUT", 2, ref="T2"),
        move("n1", "2026-01-05T09:00", "TRANSFER_IN", 1, wh="W2", ref="T1"),
        move("n2", "2026-01-05T10:00", "TRANSFER_IN", 2, wh="W2", ref="T2"),
        move("i1", "2026-01-06T09:00", "ISSUE", 3, wh="W2"),
    ]
    frames = inputs(rows)
    last = date(2026, 1, 7)
    one = cost_range(frames, None, JAN1, last)
    issued = one.cogs.filter(pl.col("movement_id") == "i1")
    assert amounts(issued.group_by("movement_id").agg(pl.col("amount").sum())) == {"i1": D("5.00")}
    with duckdb.connect(str(tmp_path / "nightly.duckdb")) as con:
        write_warehouse(con, frames)
        day = JAN1
        while day <= last:
            cost_days(con, day, day)
            day += timedelta(days=1)
        in_transit = con.sql(
            "SELECT transfer_id, position FROM costing_state_open_layers"
            " WHERE as_of = DATE '2026-01-04' ORDER BY transfer_id"
        ).fetchall()
        assert in_transit == [("T1", 0), ("T2", 0)]
        cogs = con.sql(
            "SELECT movement_id, sum(amount) FROM costing_cogs WHERE movement_id = 'i1' GROUP BY 1"
        ).fetchall()
        assert dict(cogs) == {"i1": D("5.00")}


def test_chunks_grow_within_the_movement_budget_and_stop_at_the_first_open_day() -> None:
    from pipelines.costing import CostingPolicy
    from runs.costing import _chunks

    first, through = date(2026, 1, 1), date(2026, 1, 10)
    counts = {first + timedelta(k): 10 for k in range(10)}  # 10 movements a day
    policy = CostingPolicy()
    assert _chunks(first, through, 2, policy, None) == [
        (first + timedelta(k), first + timedelta(k + 1)) for k in range(0, 10, 2)
    ]
    # 2-day chunks grow to 4 days (40 movements); a 45-movement budget cannot take a 5th day
    assert _chunks(first, through, 2, policy, (counts, 45)) == [
        (date(2026, 1, 1), date(2026, 1, 4)),
        (date(2026, 1, 5), date(2026, 1, 8)),
        (date(2026, 1, 9), date(2026, 1, 10)),
    ]
    # a day above the budget alone still makes a chunk of `days`
    assert _chunks(first, through, 3, policy, ({**counts, date(2026, 1, 2): 99}, 45))[0] == (
        date(2026, 1, 1),
        date(2026, 1, 3),
    )
    closed = CostingPolicy(closed_before=date(2026, 1, 6))
    assert _chunks(first, through, 2, closed, (counts, 1000)) == [
        (date(2026, 1, 1), date(2026, 1, 5)),
        (date(2026, 1, 6), date(2026, 1, 10)),
    ]


@pytest.mark.slow  # a three-year ledger costed twice against DuckDB
def test_chunks_by_movement_budget_give_the_figures_of_monthly_chunks(tmp_path) -> None:
    from benchmarks._costing_ledger import DAYS, START, generate

    frames = generate(6_000, 40, seed=11)
    last = START + timedelta(days=DAYS - 1)
    tables = {}
    for how, budget in (("monthly", None), ("budget", 2_500)):
        with duckdb.connect(str(tmp_path / f"{how}.duckdb")) as con:
            write_warehouse(con, frames)
            cost_days(con, START, last, chunk_movements=budget)
            saved = con.sql("SELECT count(*) FROM costing_state_saved").fetchall()[0][0]
            tables[how] = {
                t: con.sql(f"SELECT * FROM {t}").pl().sort(pl.all())
                for t in ("costing_cogs", "costing_journals", "costing_valuation")
            }
            tables[how]["checkpoints"] = saved
    assert tables["monthly"]["checkpoints"] > 30 > tables["budget"]["checkpoints"] > 1
    for table in ("costing_cogs", "costing_journals", "costing_valuation"):
        assert tables["budget"][table].equals(tables["monthly"][table]), table
