"""What a costing run shows an analyst: per-day and per-range figures, read with SQL.

The Dagster metadata of a costing run (a nightly day, or a three-year range) is built from
these aggregates rather than from the rows themselves, so it costs one row per day, not
one per outbound movement, however long the range.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from storage.warehouse import table_exists

DAY_FIGURES = pl.Schema(
    {
        "day": pl.Date(),
        "cogs": pl.Decimal(38, 2),
        "outbound_movements": pl.Int64(),
        "provisional_movements": pl.Int64(),
        "true_ups": pl.Int64(),
        "flagged_movements": pl.Int64(),
        "late_movements": pl.Int64(),
        "inventory_qty": pl.Int64(),
        "inventory_value": pl.Decimal(38, 2),
    }
)
"""One row per day: COGS posted, counts of outbound, provisional, true-up, flagged and
late (LATE_DOCUMENT) movements, and every pool's closing quantity and value summed."""


def day_figures(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pl.DataFrame:
    """DAY_FIGURES for each day of [start, end], days without movements included.

    Inventory: each valuation change row's opening is its pool's previous closing and
    the history starts empty, so a day's total is the running sum of closing - opening
    over every row up to it: one pass over the change rows, not a report per pool."""
    if not all(
        table_exists(con, t) for t in ("costing_cogs", "costing_flags", "costing_valuation")
    ):
        return pl.DataFrame(schema=DAY_FIGURES)
    query = """
        WITH days AS (
            SELECT CAST(d AS DATE) AS day
            FROM range($start::DATE, $end::DATE + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)),
        cogs AS (
            SELECT posting_date AS day, SUM(amount) AS cogs,
                   COUNT(*) FILTER (WHERE kind = 'COST') AS outbound_movements,
                   COUNT(*) FILTER (WHERE is_provisional) AS provisional_movements,
                   COUNT(*) FILTER (WHERE is_true_up) AS true_ups
            FROM costing_cogs WHERE posting_date BETWEEN $start AND $end GROUP BY 1),
        flags AS (
            SELECT day, COUNT(DISTINCT movement_id) AS flagged_movements,
                   COUNT(DISTINCT movement_id) FILTER (WHERE flag = 'LATE_DOCUMENT')
                       AS late_movements
            FROM costing_flags WHERE day BETWEEN $start AND $end GROUP BY 1),
        deltas AS (
            SELECT day, SUM(closing_qty - opening_qty) AS dq,
                   SUM(closing_value - opening_value) AS dv
            FROM costing_valuation WHERE day <= $end GROUP BY 1),
        before AS (
            SELECT COALESCE(SUM(dq), 0) AS q0, COALESCE(SUM(dv), 0) AS v0
            FROM deltas WHERE day < $start)
        SELECT days.day,
               CAST(COALESCE(cogs.cogs, 0) AS DECIMAL(38, 2)) AS cogs,
               COALESCE(outbound_movements, 0) AS outbound_movements,
               COALESCE(provisional_movements, 0) AS provisional_movements,
               COALESCE(true_ups, 0) AS true_ups,
               COALESCE(flagged_movements, 0) AS flagged_movements,
               COALESCE(late_movements, 0) AS late_movements,
               q0 + SUM(COALESCE(dq, 0)) OVER w AS inventory_qty,
               v0 + SUM(COALESCE(dv, 0)) OVER w AS inventory_value
        FROM days
        LEFT JOIN cogs USING (day) LEFT JOIN flags USING (day) LEFT JOIN deltas USING (day)
        CROSS JOIN before
        WINDOW w AS (ORDER BY days.day)
        ORDER BY days.day
    """
    frame = con.sql(query, params={"start": start, "end": end}).pl()
    return frame.cast(DAY_FIGURES)


def largest_cogs(
    con: duckdb.DuckDBPyConnection, start: date, end: date, limit: int, *, per_day: bool = False
) -> pl.DataFrame:
    """The largest COGS lines of [start, end] (or of each day in it, with `per_day`)."""
    columns = "posting_date, company, warehouse, sku, movement_id, kind, quantity, amount"
    if not table_exists(con, "costing_cogs"):
        return pl.DataFrame()
    rank = "PARTITION BY posting_date " if per_day else ""
    query = f"""
        SELECT {columns} FROM costing_cogs WHERE posting_date BETWEEN ? AND ?
        QUALIFY row_number() OVER ({rank}ORDER BY amount DESC, movement_id, kind) <= ?
        ORDER BY posting_date, amount DESC, movement_id, kind
    """
    return con.sql(query, params=[start, end, limit]).pl()


def cogs_by_kind(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pl.DataFrame:
    """kind, amount: COGS posted in [start, end] per kind (COST, TRUE_UP, LANDED_COST)."""
    return _grouped(
        con, "costing_cogs", "posting_date", "kind", "SUM(amount) AS amount", start, end
    )


def flag_counts(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pl.DataFrame:
    """flag, count: flags raised on movements of [start, end]."""
    return _grouped(con, "costing_flags", "day", "flag", "COUNT(*) AS count", start, end)


def _grouped(
    con: duckdb.DuckDBPyConnection,
    table: str,
    day_column: str,
    by: str,
    measure: str,
    start: date,
    end: date,
) -> pl.DataFrame:
    if not table_exists(con, table):
        return pl.DataFrame()
    query = f"""
        SELECT "{by}", {measure} FROM "{table}"
        WHERE "{day_column}" BETWEEN ? AND ? GROUP BY 1 ORDER BY 1
    """
    return con.sql(query, params=[start, end]).pl()
