"""What a costing run reads from the warehouse: the engine's inputs for a chunk, as
known at the end of the run, and the earliest day late documents pull the run back to.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl

from pipelines.contracts.inputs import LANDED_COSTS, MOVEMENTS
from pipelines.costing import CostingPolicy
from runs.dated import day_of
from storage.loading.validation import PROVENANCE
from storage.warehouse import read_table, table_exists


def earliest_late_day(
    con: duckdb.DuckDBPyConnection, start: date, end: date, policy: CostingPolicy
) -> date | None:
    """The earliest business day of documents loaded in [start, end] but dated before start.

    Documents dated inside a closed period are not recosted there: the engine posts them
    on the first open day, so they do not pull the run back.
    """
    floor = policy.closed_before or date.min
    days = []
    for contract in (MOVEMENTS, LANDED_COSTS):
        if not table_exists(con, contract.name):
            continue
        day = day_of(contract)
        found = con.sql(
            f'SELECT min({day}) FROM "{contract.name}" '
            f'WHERE "_load_date" BETWEEN ? AND ? AND {day} < ? AND {day} >= ?',
            params=[start, end, start, floor],
        ).fetchall()[0][0]
        if found is not None:
            days.append(found)
    reopened = earliest_reopened_landed_cost(con, start, end, floor)
    if reopened is not None:
        days.append(reopened)
    return min(days) if days else None


def earliest_reopened_landed_cost(
    con: duckdb.DuckDBPyConnection, start: date, end: date, floor: date
) -> date | None:
    """The earliest posting day of a landed cost posted before `start` whose purchase
    document got a receipt line loaded in [start, end].

    A landed cost is allocated over every receipt line of its document (one call over a
    range sees them all); a line that arrives after the posting changes every line's
    share, so the nights from the posting on are recosted, as for a late document, and
    a nightly run ends where a range run over the same data does."""
    if not (table_exists(con, "landed_costs") and table_exists(con, "movements")):
        return None
    posted = day_of(LANDED_COSTS, "l")
    return con.sql(
        f"SELECT min({posted}) FROM landed_costs l JOIN movements m "
        "ON m.reference = l.receipt_reference AND m.company = l.company "
        "AND m.movement_type = 'RECEIPT' "
        f'WHERE m."_load_date" BETWEEN ? AND ? AND {posted} < ? AND {posted} >= ? '
        'AND l."_load_date" <= ?',
        params=[start, end, start, floor, end],
    ).fetchall()[0][0]


def first_movement_day(con: duckdb.DuckDBPyConnection) -> date | None:
    if not table_exists(con, "movements"):
        return None
    return con.sql(f"SELECT min({day_of(MOVEMENTS)}) FROM movements").fetchall()[0][0]


def engine_inputs(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    policy: CostingPolicy,
    known_by: date | None = None,
) -> dict[str, pl.DataFrame]:
    """The engine's inputs for [start, end] as known at the end of `known_by` (default `end`).

    With a closed period (`closed_before`), the days before it hold what was loaded before
    it closed, and every document dated in it but loaded on or after its first open day is
    posted on that day (DOMAIN.md): it belongs to the chunk that starts there (the run
    cuts its chunks at that day), whichever day loaded it.
    """
    known_by = known_by or end
    closed = policy.closed_before
    if closed is not None and end < closed:
        known_by = min(known_by, closed - timedelta(days=1))
    visible = '"_load_date" <= ?'
    dated = f"{day_of(MOVEMENTS)} BETWEEN ? AND ?"
    params: list = [known_by, start, end]
    where = f"{visible} AND ({dated}"
    if closed is not None and start == closed:
        where += f' OR ({day_of(MOVEMENTS)} < ? AND "_load_date" >= ?)'
        params += [closed, closed]
    where += ")"
    movements = movement_frame(con, where, params)
    landed = landed_frame(con, start, end, known_by)
    if landed.height:
        referenced = landed["receipt_reference"].unique().to_list()
        # every known line of the documents, whatever its date: the allocation is over
        # all of them (a line dated after `end` is not costed here, only weighed)
        receipts = movement_frame(
            con,
            f"{visible} AND movement_type = 'RECEIPT' AND reference IN (SELECT unnest(?))",
            [known_by, referenced],
        )
        movements = pl.concat([movements, receipts]).unique("movement_id", keep="first")
    return {
        "movements": movements,
        "landed_costs": landed,
        "fx_rates": read_table(con, "fx_rates").drop(PROVENANCE, strict=False),
        "companies": read_table(con, "companies").drop(PROVENANCE, strict=False),
        "skus": read_table(con, "skus").drop(PROVENANCE, strict=False),
    }


def movement_frame(con: duckdb.DuckDBPyConnection, where: str, params: list) -> pl.DataFrame:
    frame = read_table(con, "movements", where, params)
    return frame.rename({"_load_date": "load_date"}).drop("_source_file", "_source_row")


def landed_frame(
    con: duckdb.DuckDBPyConnection, start: date, end: date, known_by: date
) -> pl.DataFrame:
    if not table_exists(con, "landed_costs"):
        return pl.DataFrame()
    # posted in the chunk, or earlier with a receipt line of its document dated in the
    # chunk: that line's share takes effect on its receipt (the engine keeps only shares
    # taking effect in [start, end])
    posted = day_of(LANDED_COSTS)
    later_line = (
        "EXISTS (SELECT 1 FROM movements m WHERE m.movement_type = 'RECEIPT' "
        "AND m.reference = landed_costs.receipt_reference AND m.company = landed_costs.company "
        f'AND m."_load_date" <= ? AND {day_of(MOVEMENTS, "m")} BETWEEN ? AND ?)'
    )
    where = f'"_load_date" <= ? AND ({posted} BETWEEN ? AND ? OR ({posted} < ? AND {later_line}))'
    params = [known_by, start, end, start, known_by, start, end]
    frame = read_table(con, "landed_costs", where, params)
    return frame.drop(PROVENANCE, strict=False)


def refused_with_provenance(con: duckdb.DuckDBPyConnection, refused: pl.DataFrame) -> pl.DataFrame:
    """The engine's refused rows (pipelines.costing.refusals) + the file and row each came
    from, so the quarantine names the extract an operator must fix."""
    schema = {"table": pl.String, "document_id": pl.String, "file": pl.String, "row": pl.Int64}
    found = [pl.DataFrame(schema=schema)]
    for table, id_col in (("movements", "movement_id"), ("landed_costs", "landed_cost_id")):
        ids = refused.filter(pl.col("table") == table).get_column("document_id").to_list()
        if ids and table_exists(con, table):
            rows = con.sql(
                f'SELECT ? AS "table", {id_col} AS document_id, "_source_file" AS file, '
                f'"_source_row" AS row FROM "{table}" WHERE {id_col} IN (SELECT unnest(?))',
                params=[table, ids],
            ).pl()
            found.append(rows.cast(schema))
    where = pl.concat(found).unique(["table", "document_id"], keep="first")
    return refused.join(where, on=["table", "document_id"], how="left")
