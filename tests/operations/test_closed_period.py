"""A closed period corrected after it closed, through real nightly runs: a receipt's unit
cost corrected, a receipt removed, an issue's quantity corrected in a reloaded extract of a
closed day. The closed days' exports stay byte for byte as first written; the first open
day posts the difference (COGS per movement, stock per pool, journal lines), worked out by
hand here; from the first open day on every export equals a clean run whose closed days
held the corrected data, but for the posted difference (DOMAIN.md "Late (backdated),
corrected or removed documents": "in a closed period post the difference in the first
open day"; docs/costing.md "Closed period")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.definitions import build_definitions
from assets.partition_ranges import range_tags
from assets.resources import ReckonResource
from tests.operations.restatement_data import DAYS, export_digests, movements, write_data
from tests.operations.restatement_data import write_extract as write_movements

pytestmark = pytest.mark.slow

JAN5, JAN6, JAN7, JAN8, JAN9, JAN10 = DAYS
FIRST_OPEN = JAN8
ADJUSTED = ("costing_cogs", "costing_journals", "costing_journal_lines")
"""The first open day's exports that carry the posted difference."""


def _run_closed(data: Path, first: date, last: date) -> None:
    """The nightly job with Jan 8 as the first open day (Jan 5-7 closed)."""
    reckon = ReckonResource(data_dir=str(data), closed_before=str(FIRST_OPEN))
    job = build_definitions(reckon).resolve_job_def("nightly")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance, tags=range_tags(str(first), str(last)), raise_on_error=False
        )
    failures = [
        e.event_specific_data.error.to_string() for e in result.all_events if e.is_step_failure
    ]
    assert result.success, failures


def _table(data: Path, query: str) -> pl.DataFrame:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(query).pl()


def _corrected_jan7(text: str) -> Callable[[Path], None]:
    def change(data: Path) -> None:
        write_movements(data, JAN7, text)

    return change


R3_AT_13 = _corrected_jan7(movements(JAN7).replace("50,12.00,CNY", "50,13.00,CNY"))
R3_REMOVED = _corrected_jan7(
    "\n".join(r for r in movements(JAN7).splitlines() if not r.startswith("R3,")) + "\n"
)
I4_OF_50 = _corrected_jan7(movements(JAN7).replace("ISSUE,60,", "ISSUE,50,"))

CASES = {
    # R3 at 13.00: of its 50 units, I4 took 10 on Jan 7 (COGS +10.00) and 40 were on hand
    # at the close (+40.00). GRNI takes the receipt's +50.00.
    "receipt_unit_cost": (R3_AT_13, "R3", "CHANGED", [("I4", D("10.00"))], (0, D("40.00")),
                          {"INVENTORY": D("40.00"), "COGS": D("10.00"),
                           "GOODS_RECEIVED_NOT_INVOICED": D("-50.00")}),
    # Without R3, I4's 60 units are R1's last 50 (500.00) and 10 short, provisional at R1's
    # 10.00: 600.00 instead of 620.00. The close holds -10 units (-100.00) instead of R3's
    # 40 (480.00).
    "receipt_removed": (R3_REMOVED, "R3", "REMOVED", [("I4", D("-20.00"))], (-50, D("-580.00")),
                        {"INVENTORY": D("-580.00"), "COGS": D("-20.00"),
                         "GOODS_RECEIVED_NOT_INVOICED": D("600.00")}),
    # I4 of 50 units takes R1's 50 only (500.00 instead of 620.00): R3's 50 units stay.
    "issue_quantity": (I4_OF_50, "I4", "CHANGED", [("I4", D("-120.00"))], (10, D("120.00")),
                       {"INVENTORY": D("120.00"), "COGS": D("-120.00")}),
}  # fmt: skip


def _exports(data: Path, table: str, day: date) -> pl.DataFrame:
    return pl.read_parquet(data / "exports" / table / f"{day}.parquet")


@pytest.mark.parametrize("case", list(CASES))
def test_a_closed_day_corrected_after_the_close_posts_its_difference_on_the_first_open_day(
    tmp_path: Path, case: str
) -> None:
    change, document, kind, cogs_rows, (stock_qty, stock_value), journal = CASES[case]
    data = write_data(tmp_path / "closed", DAYS[:5])
    _run_closed(data, JAN5, JAN9)
    closed_days = {k: v for k, v in export_digests(data).items() if k.split("/")[1] < str(JAN8)}
    closed_value = _exports(data, "inventory_valuation", JAN7)
    change(data)
    write_data(data, [JAN10])
    # the corrected extract is reloaded by a run over its day (closed: not recosted)
    _run_closed(data, JAN7, JAN10)

    after = export_digests(data)
    assert closed_days and {k: after[k] for k in closed_days} == closed_days, "closed day rewritten"

    adjustment = _table(data, "SELECT movement_id, amount FROM costing_cogs "
                              "WHERE kind = 'CLOSED_PERIOD_ADJUSTMENT' ORDER BY movement_id")  # fmt: skip
    assert adjustment.rows() == cogs_rows
    assert _table(data, "SELECT DISTINCT posting_date FROM costing_cogs "
                        "WHERE kind = 'CLOSED_PERIOD_ADJUSTMENT'").rows() == [(JAN8,)]  # fmt: skip
    mug = _table(data, "SELECT opening_qty, opening_value, adjustment_qty, adjustment_value "
                       "FROM costing_valuation WHERE sku = 'MUG-01' AND day = '2026-01-08'")  # fmt: skip
    posted_close = closed_value.filter(pl.col("sku") == "MUG-01").row(0, named=True)
    assert mug.rows() == [
        (posted_close["closing_qty"], posted_close["closing_value"], stock_qty, stock_value)
    ]
    lines = _table(data, "SELECT account, sum(amount) AS amount FROM costing_journal_lines "
                         "WHERE category = 'CLOSED_PERIOD_ADJUSTMENT' GROUP BY ALL")  # fmt: skip
    assert dict(lines.rows()) == journal

    clean = write_data(tmp_path / "clean", DAYS)
    change(clean)
    _run_closed(clean, JAN5, JAN10)
    expected = export_digests(clean)
    for name, digest in after.items():
        table, day = name.split("/")[0], name.split("/")[1].split(".")[0]
        if day < str(JAN8) or (day == str(JAN8) and table in ADJUSTED):
            continue
        assert digest == expected[name], f"{name} differs from the clean run's"
    for table in ("costing_cogs", "costing_journal_lines"):
        ours = _exports(data, table, JAN8)
        column = "kind" if table == "costing_cogs" else "category"
        unadjusted = ours.filter(pl.col(column) != "CLOSED_PERIOD_ADJUSTMENT")
        assert unadjusted.equals(_exports(clean, table, JAN8)), table
    cogs_from = "SELECT sum(amount) AS cogs FROM costing_cogs WHERE posting_date >= '2026-01-08'"
    posted = sum(amount for _, amount in cogs_rows)
    assert _table(data, cogs_from)["cogs"][0] == _table(clean, cogs_from)["cogs"][0] + posted

    record = _table(data, "SELECT restated_from, restated_to, posted_on, documents_changed, "
                          "documents_removed FROM costing_restatements")  # fmt: skip
    assert record.rows() == [(JAN8, JAN9, JAN8, int(kind == "CHANGED"), int(kind == "REMOVED"))]
    docs = _table(data, "SELECT document_id, change, posted_on FROM costing_restated_documents")
    assert docs.rows() == [(document, kind, JAN8)]
