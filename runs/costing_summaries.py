"""What a costing run shows an analyst: per-day and per-range figures, read with SQL.

The Dagster metadata of a costing run (a nightly day, or a three-year range) is built from
these aggregates rather than from the rows themselves, so it costs one row per day, not
one per outbound movement, however long the range.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from runs.costing import ageing_on_days
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
    """The `limit` largest COGS lines of each company in [start, end] (or of each day in it,
    with `per_day`), ranked within the company: amounts in two currencies do not compare."""
    columns = "posting_date, company, currency, warehouse, sku, movement_id, kind, quantity, amount"
    if not all(table_exists(con, t) for t in ("costing_cogs", "companies")):
        return pl.DataFrame()
    rank = "PARTITION BY company, posting_date " if per_day else "PARTITION BY company "
    query = f"""
        SELECT {columns} FROM costing_cogs
        JOIN (SELECT company, functional_currency AS currency FROM companies) USING (company)
        WHERE posting_date BETWEEN ? AND ?
        QUALIFY row_number() OVER ({rank}ORDER BY amount DESC, movement_id, kind) <= ?
        ORDER BY posting_date, company, amount DESC, movement_id, kind
    """
    return con.sql(query, params=[start, end, limit]).pl()


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


COMPANY_DAY_FIGURES: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "company": pl.String(),
    "currency": pl.String(),
    "cogs": pl.Decimal(38, 2),
    "inventory_value": pl.Decimal(38, 2),
}
"""One row per day and company, in the company's functional currency: COGS posted and the
closing value of its stock (money is never added across companies' currencies)."""


def company_day_figures(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pl.DataFrame:
    """COMPANY_DAY_FIGURES for each day of [start, end] and each company (the running sum of
    valuation changes, as `day_figures`, kept per company)."""
    tables = ("costing_cogs", "costing_valuation", "companies")
    if not all(table_exists(con, t) for t in tables):
        return pl.DataFrame(schema=COMPANY_DAY_FIGURES)
    query = """
        WITH days AS (
            SELECT CAST(d AS DATE) AS day
            FROM range($start::DATE, $end::DATE + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)),
        grid AS (
            SELECT day, company, functional_currency AS currency FROM days CROSS JOIN companies),
        cogs AS (
            SELECT posting_date AS day, company, SUM(amount) AS cogs FROM costing_cogs
            WHERE posting_date BETWEEN $start AND $end GROUP BY 1, 2),
        deltas AS (
            SELECT day, company, SUM(closing_value - opening_value) AS dv
            FROM costing_valuation WHERE day <= $end GROUP BY 1, 2),
        before AS (SELECT company, SUM(dv) AS v0 FROM deltas WHERE day < $start GROUP BY 1)
        SELECT grid.day, grid.company, grid.currency,
               CAST(COALESCE(cogs.cogs, 0) AS DECIMAL(38, 2)) AS cogs,
               CAST(COALESCE(before.v0, 0) + SUM(COALESCE(deltas.dv, 0)) OVER (
                   PARTITION BY grid.company ORDER BY grid.day) AS DECIMAL(38, 2))
                   AS inventory_value
        FROM grid
        LEFT JOIN cogs ON cogs.day = grid.day AND cogs.company = grid.company
        LEFT JOIN deltas ON deltas.day = grid.day AND deltas.company = grid.company
        LEFT JOIN before ON before.company = grid.company
        ORDER BY grid.day, grid.company
    """
    frame = con.sql(query, params={"start": start, "end": end}).pl()
    return frame.cast(COMPANY_DAY_FIGURES)


def cogs_by_company_and_kind(
    con: duckdb.DuckDBPyConnection, start: date, end: date
) -> pl.DataFrame:
    """company, currency, kind, lines, amount: COGS of [start, end] per company (in its
    functional currency) and kind (COST, TRUE_UP, LANDED_COST)."""
    if not all(table_exists(con, t) for t in ("costing_cogs", "companies")):
        return pl.DataFrame()
    query = """
        SELECT c.company, k.functional_currency AS currency, c.kind, COUNT(*) AS lines,
               SUM(c.amount) AS amount
        FROM costing_cogs c JOIN companies k USING (company)
        WHERE c.posting_date BETWEEN ? AND ? GROUP BY 1, 2, 3 ORDER BY 1, 3
    """
    return con.sql(query, params=[start, end]).pl()


def layers_behind(con: duckdb.DuckDBPyConnection, issues: pl.DataFrame) -> pl.DataFrame:
    """The receipt layers each of `issues` (posting_date, movement_id) consumed: which
    receipt, received when, how many units at what unit cost (costing_consumption)."""
    if issues.is_empty() or not table_exists(con, "costing_consumption"):
        return pl.DataFrame()
    wanted = issues.select("posting_date", "movement_id").unique()
    query = """
        SELECT c.posting_date, c.company, c.sku, c.movement_id, c.origin_id AS receipt,
               c.receipt_date, c.quantity,
               CAST(CAST(c.amount AS DECIMAL(38, 6)) / NULLIF(c.quantity, 0) AS DECIMAL(18, 4))
                   AS unit_cost,
               c.amount
        FROM costing_consumption c JOIN wanted w USING (posting_date, movement_id)
        ORDER BY c.posting_date, c.movement_id, c.receipt_date, c.origin_id, c.origin_a
    """
    con.register("wanted", wanted.to_arrow())
    try:
        return con.sql(query).pl()
    finally:
        con.unregister("wanted")


def ageing_summary(
    con: duckdb.DuckDBPyConnection, day: date, buckets: tuple[int, ...], older_than: int = 90
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Stock ageing at the end of `day`: (per company and bucket: currency, quantity, value),
    and per company the SKUs whose stock older than `older_than` days is worth the most
    (ranked within the company: values in two currencies do not compare).

    A bucket is "older than 90 days" when its lower bound is above 90 (`buckets` are the
    policy's inclusive upper bounds, DOMAIN.md "stock ageing")."""
    by_bucket, top = ageing_summaries(con, [day], buckets, older_than)
    return by_bucket.drop("day", strict=False), top.drop("day", strict=False)


def ageing_summaries(
    con: duckdb.DuckDBPyConnection, days: list[date], buckets: tuple[int, ...], older_than: int = 90
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`ageing_summary` of each of `days` at once, with a `day` column: one as-of query over
    the ageing change rows for the whole range, so a range run gives every day its own
    figures for about the price of one."""
    report = ageing_on_days(con, days)
    if report.is_empty() or not table_exists(con, "companies"):
        return pl.DataFrame(), pl.DataFrame()
    lower = {0: 0, **{i + 1: bound + 1 for i, bound in enumerate(buckets)}}
    first_old = min((i for i, low in lower.items() if low > older_than), default=len(buckets))
    currencies = con.sql("SELECT company, functional_currency AS currency FROM companies").pl()
    rows = report.join(currencies, on="company", how="left").with_columns(
        (pl.col("bucket_no") >= first_old).alias("older")
    )
    by_bucket = (
        rows.group_by("day", "company", "currency", "bucket_no", "bucket")
        .agg(pl.col("quantity").sum(), pl.col("value").sum())
        .sort("day", "company", "bucket_no")
        .drop("bucket_no")
    )
    over = f"value_over_{older_than}_days"
    top = (
        rows.filter(pl.col("older"))
        .group_by("day", "company", "currency", "sku")
        .agg(
            pl.col("quantity").sum().alias(f"quantity_over_{older_than}_days"),
            pl.col("value").sum().alias(over),
            pl.col("bucket").sort_by("bucket_no").last().alias("oldest_bucket"),
        )
        .sort("day", "company", over, "sku", descending=[False, False, True, False])
    )
    return by_bucket, top
