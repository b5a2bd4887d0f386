"""A closed period's correction, whenever it arrives, ends in the same books.

DOMAIN.md "Late (backdated), corrected or removed documents": in a closed period the
difference is posted on the first open day. Whether a correction to a closed day reaches
the warehouse before the costing (a clean run) or after the period was costed and closed
(the difference posted on its first open day), the totals over the whole range are the
same: COGS, every account of the journals, and each pool's stock at the end. The closed
days' rows stay as first written, and the stored valuation rolls forward across the
close (opening + adjustment + in - out = closing, each opening the previous closing).
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.costing_runs import write_warehouse
from pipelines.costing import CostingPolicy
from pipelines.costing.invariants import roll_forward_violations
from runs.costing import cost_days, valuation_on_days
from storage.warehouse import read_table
from tests.costing.helpers import inputs, move

pytestmark = pytest.mark.slow

FIRST = date(2026, 1, 1)
DAYS = 6
CLOSED = FIRST + timedelta(days=3)
LAST = FIRST + timedelta(days=DAYS - 1)
POLICY = CostingPolicy(closed_before=CLOSED)

_moves = st.tuples(
    st.integers(0, DAYS - 1),
    st.sampled_from(["RECEIPT", "ISSUE", "ADJUST_LOSS"]),
    st.integers(1, 12),
    st.sampled_from(["S1", "S2"]),
    st.sampled_from(["1.25", "3.10", "0.333333"]),
)


def _rows(spec: list[tuple]) -> list[dict]:
    return [
        move(f"m{i}", f"{FIRST + timedelta(days=day)}T{8 + i % 9:02d}:00", kind, qty,
             sku=sku, cost=cost if kind == "RECEIPT" else None)
        for i, (day, kind, qty, sku, cost) in enumerate(spec)
    ]  # fmt: skip


def _corrected(rows: list[dict], pick: int, how: str) -> list[dict]:
    """One row of a closed day corrected: removed, its quantity or its unit cost changed."""
    closed = [i for i, r in enumerate(rows) if r["occurred_at"].date() < CLOSED]
    target = closed[pick % len(closed)]
    out = []
    for i, row in enumerate(rows):
        if i != target:
            out.append(row)
        elif how == "quantity":
            out.append({**row, "quantity": row["quantity"] + 3})
        elif how == "cost" and row["unit_cost"] is not None:
            out.append({**row, "unit_cost": row["unit_cost"] * 2})
        elif how != "cost":
            continue  # removed
        else:
            out.append(row)
    return out


def _books(con: duckdb.DuckDBPyConnection) -> tuple:
    cogs = con.sql("SELECT sum(amount) FROM costing_cogs").fetchall()[0][0]
    accounts = con.sql(
        "SELECT company, account, sum(amount) AS total FROM costing_journal_lines GROUP BY ALL "
        "HAVING total <> 0 ORDER BY ALL"
    ).fetchall()
    stock = valuation_on_days(con, [LAST]).drop("day").sort("company", "warehouse", "sku")
    return cogs, accounts, stock.rows()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_moves, min_size=3, max_size=14).filter(lambda s: any(d < 3 for d, *_ in s)),
    st.integers(0, 50),
    st.sampled_from(["removed", "quantity", "cost"]),
)
def test_a_closed_period_correction_ends_in_the_books_of_a_clean_run(
    tmp_path_factory: pytest.TempPathFactory, spec: list[tuple], pick: int, how: str
) -> None:
    rows = _rows(spec)
    corrected = _corrected(rows, pick, how)
    folder = tmp_path_factory.mktemp("closed")
    with duckdb.connect(str(folder / "clean.duckdb")) as con:
        write_warehouse(con, inputs(corrected))
        cost_days(con, FIRST, LAST, POLICY)
        clean = _books(con)
    with duckdb.connect(str(folder / "late.duckdb")) as con:
        write_warehouse(con, inputs(rows))
        cost_days(con, FIRST, LAST, POLICY)
        closed_rows = read_table(con, "costing_cogs", "posting_date < ?", [CLOSED])
        write_warehouse(con, inputs(corrected))
        cost_days(con, LAST, LAST, POLICY)
        assert _books(con) == clean
        assert read_table(con, "costing_cogs", "posting_date < ?", [CLOSED]).equals(closed_rows)
        valuation = read_table(con, "costing_valuation")
        assert roll_forward_violations(valuation).is_empty()
        # recosting the first open day again posts the same difference once
        cost_days(con, CLOSED, CLOSED, POLICY)
        assert _books(con) == clean
