"""Order profitability for a range of order days, against the warehouse.

The engine (pipelines/profit) takes frames; this reads them: the order centre's extracts
of the orders dated in the range, the COGS postings of their issues and returns from the
costing journal lines (so the line COGS is the journal's, to the cent), the freight of
their parcels from the reconciliation (approved where billed, expected where not), and
stores `order_profit`, its roll-ups and its provenance, replacing exactly those days.

Restatement of COGS and refunds (DOMAIN.md, "Late (backdated) documents"): a return, a
true-up or a refund posted in the range changes an order of an earlier day, so the run
starts from the earliest such order day and recomputes forward to the end of the range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb
import polars as pl

from pipelines.contracts.orders import ORDER_LINES, ORDER_REFUNDS, ORDERS
from pipelines.contracts.profit import PROFIT_TABLES
from pipelines.profit import (
    POSTINGS_SCHEMA,
    SHIPMENT_FREIGHT_SCHEMA,
    ProfitInputs,
    ProfitPolicy,
    order_profit,
    shipment_freight,
)
from pipelines.profit.invariants import (
    allocation_breaks,
    freight_breaks,
    margin_breaks,
    posting_breaks,
    unexplained_missing_cogs,
)
from runs.dated import day_of
from storage.loading.validation import PROVENANCE
from storage.warehouse import read_table, replace_slice, table_exists

OUTPUTS = {t.name: t for t in PROFIT_TABLES}
CHECKS = ("allocations_sum_exactly", "shipped_lines_have_cogs", "totals_tie_back")
COGS_CATEGORIES = ("ISSUE", "TRUE_UP", "RETURN")
"""The COGS journal categories an order line carries; LANDED_COST_EXPENSED is per receipt
line (DOMAIN.md "Landed cost") and stays in the journal, reported as not on an order."""


@dataclass
class ProfitRun:
    requested: tuple[date, date]
    computed: tuple[date, date]
    counts: dict[str, int] = field(default_factory=dict)
    violations: dict[str, pl.DataFrame] = field(default_factory=dict)
    tie_back: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def restated_days(self) -> int:
        return (self.requested[0] - self.computed[0]).days


def profit_days(
    con: duckdb.DuckDBPyConnection, start: date, end: date, policy: ProfitPolicy | None = None
) -> ProfitRun:
    """Compute and store order profit for the orders of [start, end] (and earlier order
    days that inputs posted in the range change)."""
    first = min(start, _earliest_changed_order_day(con, start, end) or start)
    run = ProfitRun((start, end), (first, end))
    if not table_exists(con, "orders"):
        return run
    inputs = _inputs(con, first, end)
    result = order_profit(inputs, policy)
    tables = {
        "order_profit": result.lines,
        "order_profit_orders": result.orders,
        "profit_daily": result.daily,
        "order_line_cogs": result.line_cogs,
        "order_line_freight": result.line_freight,
    }
    for name, frame in tables.items():
        replace_slice(con, name, frame.cast(OUTPUTS[name].schema), {"order_date": (first, end)})
        run.counts[name] = frame.height
    run.tie_back = cogs_tie_back(con, first, end)
    freight_gap = freight_tie_back(con, result.lines)
    run.violations = {
        "allocations_sum_exactly": pl.concat(
            [
                allocation_breaks(result.header_amounts, result.allocations).select(
                    pl.col("alloc_order_id").alias("what"), "kind"
                ),
                posting_breaks(inputs.postings, result.line_cogs).select(
                    pl.col("movement_id").alias("what"), pl.col("category").alias("kind")
                ),
                freight_breaks(inputs.shipments, result.line_freight).select(
                    pl.col("shipment_id").alias("what"), pl.lit("FREIGHT").alias("kind")
                ),
                margin_breaks(result.lines).select(
                    pl.col("order_line_id").alias("what"), pl.lit("MARGIN").alias("kind")
                ),
            ]
        ),
        "shipped_lines_have_cogs": unexplained_missing_cogs(result.lines).select(
            "order_line_id", "order_id", "fulfilment_order_id", "sku", "shipments"
        ),
        "totals_tie_back": pl.concat(
            [
                run.tie_back.filter(pl.col("difference") != 0).select(
                    pl.format("{} {}", "posting_date", "company").alias("what"),
                    pl.lit("COGS").alias("kind"),
                    pl.col("difference").cast(pl.String).alias("difference"),
                ),
                freight_gap,
            ]
        ),
    }
    return run


def _earliest_changed_order_day(
    con: duckdb.DuckDBPyConnection, start: date, end: date
) -> date | None:
    """The first order day whose lines got a COGS posting or a refund in [start, end]."""
    if not table_exists(con, "order_lines") or not table_exists(con, "orders"):
        return None
    parts = []
    if table_exists(con, "order_refunds"):
        parts.append(
            f"""SELECT l.order_id FROM order_refunds r JOIN order_lines l USING (order_line_id)
                WHERE {day_of(ORDER_REFUNDS, "r")} BETWEEN $start AND $end"""
        )
    if table_exists(con, "costing_journal_lines") and table_exists(con, "movements"):
        parts.append(
            f"""SELECT l.order_id FROM costing_journal_lines j
                JOIN ({_COGS_TARGETS}) t USING (movement_id)
                JOIN order_lines l
                  ON coalesce(l.fulfilment_order_id, l.order_id) = t.fulfilment_order_id
                 AND l.sku = t.sku
                WHERE j.account = 'COGS' AND j.posting_date BETWEEN $start AND $end"""
        )
    if not parts:
        return None
    query = f"""SELECT min({day_of(ORDERS, "o")}) FROM orders o
                WHERE o.order_id IN ({" UNION ".join(parts)})"""
    found = con.execute(query, {"start": start, "end": end}).fetchall()
    return found[0][0]


_COGS_TARGETS = """
    SELECT movement_id, reference AS fulfilment_order_id, sku FROM movements
    WHERE movement_type = 'ISSUE'
    UNION ALL
    SELECT r.movement_id, i.reference, i.sku FROM movements r
    JOIN movements i ON r.reference = i.movement_id AND i.movement_type = 'ISSUE'
    WHERE r.movement_type = 'RETURN'
"""
"""Every ISSUE and RETURN movement with the warehouse order and SKU of its issue."""


def _inputs(con: duckdb.DuckDBPyConnection, first: date, end: date) -> ProfitInputs:
    in_range = f"{day_of(ORDERS)} BETWEEN ? AND ?"
    orders = read_table(
        con,
        "orders",
        f"{in_range} OR order_id IN (SELECT parent_order_id FROM orders WHERE {in_range})",
        [first, end, first, end],
        schema=ORDERS.schema,
    )
    ids = orders["order_id"].to_list()
    lines = read_table(
        con, "order_lines", "order_id IN (SELECT unnest(?))", [ids], schema=ORDER_LINES.schema
    )
    refunds = read_table(
        con,
        "order_refunds",
        "order_line_id IN (SELECT unnest(?))",
        [lines["order_line_id"].to_list()],
        schema=ORDER_REFUNDS.schema,
    )
    fulfilments = (
        lines.select(pl.coalesce("fulfilment_order_id", "order_id").alias("f"), "sku").unique()
        if lines.height
        else pl.DataFrame(schema={"f": pl.String, "sku": pl.String})
    )
    return ProfitInputs(
        orders=_contract_columns(orders, ORDERS.column_names),
        order_lines=_contract_columns(lines, ORDER_LINES.column_names),
        refunds=_contract_columns(refunds, ORDER_REFUNDS.column_names),
        postings=_postings(con, fulfilments),
        shipments=_shipments(con, fulfilments["f"].unique().to_list()),
        skus=read_table(con, "skus").drop(PROVENANCE, strict=False),
        fx_rates=read_table(con, "fx_rates").drop(PROVENANCE, strict=False),
        companies=read_table(con, "companies").drop(PROVENANCE, strict=False),
    )


def _contract_columns(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    return frame.select(columns)


def _postings(con: duckdb.DuckDBPyConnection, wanted: pl.DataFrame) -> pl.DataFrame:
    """The COGS journal lines of the wanted (warehouse order, SKU) issues and their returns,
    with the provisional cost still open on each issue (costing_cogs)."""
    needed = ("costing_journal_lines", "movements", "costing_cogs")
    if not wanted.height or not all(table_exists(con, t) for t in needed):
        return pl.DataFrame(schema=POSTINGS_SCHEMA)
    con.register("__wanted", wanted.to_arrow())
    try:
        found = con.sql(
            f"""
            WITH targets AS (
                SELECT t.* FROM ({_COGS_TARGETS}) t
                JOIN __wanted w ON t.fulfilment_order_id = w.f AND t.sku = w.sku
            ),
            open AS (
                SELECT movement_id,
                       sum(CASE WHEN kind = 'COST' THEN provisional ELSE -provisional END)
                           AS provisional_open
                FROM costing_cogs
                WHERE kind IN ('COST', 'TRUE_UP')
                  AND movement_id IN (SELECT movement_id FROM targets)
                GROUP BY movement_id
            )
            SELECT j.movement_id, j.category, j.posting_date, j.company,
                   t.fulfilment_order_id, t.sku, sum(j.amount) AS amount,
                   coalesce(any_value(o.provisional_open), 0) AS provisional_open
            FROM costing_journal_lines j
            JOIN targets t USING (movement_id)
            LEFT JOIN open o USING (movement_id)
            WHERE j.account = 'COGS' AND j.category IN (SELECT unnest(?))
            GROUP BY ALL
            """,
            params=[list(COGS_CATEGORIES)],
        ).pl()
    finally:
        con.unregister("__wanted")
    return found.select([pl.col(c).cast(d) for c, d in POSTINGS_SCHEMA.items()])


def _shipments(con: duckdb.DuckDBPyConnection, fulfilments: list[str]) -> pl.DataFrame:
    if not fulfilments or not table_exists(con, "shipment_ratings"):
        return pl.DataFrame(schema=SHIPMENT_FREIGHT_SCHEMA)
    ratings = read_table(con, "shipment_ratings", "order_id IN (SELECT unnest(?))", [fulfilments])
    ids = ratings["shipment_id"].to_list()
    findings = (
        read_table(con, "reconciliation_findings", "shipment_id IN (SELECT unnest(?))", [ids])
        if table_exists(con, "reconciliation_findings")
        else pl.DataFrame()
    )
    if not findings.width:
        findings = pl.DataFrame(
            schema={
                "shipment_id": pl.String,
                "approved_amount": pl.Decimal(18, 2),
                "disputed_amount": pl.Decimal(18, 2),
                "bill_number": pl.String,
                "line_number": pl.Int64,
            }
        )
    return shipment_freight(findings, ratings)


def cogs_tie_back(con: duckdb.DuckDBPyConnection, first: date, end: date) -> pl.DataFrame:
    """Per posting day and company of [first, end]: the COGS journal, the part of it on
    order lines' issues and returns, and the order lines' COGS stored for those days;
    `difference` (attributable − order lines) must be 0. `not_on_orders` is the rest of the
    journal (landed cost on units already gone, issues with no order line)."""
    if not table_exists(con, "costing_journal_lines") or not table_exists(con, "order_line_cogs"):
        return pl.DataFrame()
    return con.sql(
        f"""
        WITH lines AS (
            SELECT DISTINCT coalesce(fulfilment_order_id, order_id) AS f, sku FROM order_lines
        ),
        attributable AS (
            SELECT t.movement_id FROM ({_COGS_TARGETS}) t
            JOIN lines l ON t.fulfilment_order_id = l.f AND t.sku = l.sku
        ),
        journal AS (
            SELECT posting_date, company,
                   sum(amount) AS journal,
                   coalesce(sum(amount) FILTER (
                       WHERE category IN (SELECT unnest($cats))
                         AND movement_id IN (SELECT movement_id FROM attributable)
                   ), 0) AS attributable
            FROM costing_journal_lines
            WHERE account = 'COGS' AND posting_date BETWEEN $first AND $end
            GROUP BY ALL
        ),
        order_lines_cogs AS (
            SELECT posting_date, company, sum(amount) AS on_lines
            FROM order_line_cogs WHERE posting_date BETWEEN $first AND $end
            GROUP BY ALL
        )
        SELECT coalesce(j.posting_date, o.posting_date) AS posting_date,
               coalesce(j.company, o.company) AS company,
               coalesce(j.journal, 0) AS cogs_journal,
               coalesce(j.attributable, 0) AS cogs_on_order_issues,
               coalesce(o.on_lines, 0) AS cogs_order_lines,
               coalesce(j.journal, 0) - coalesce(j.attributable, 0) AS not_on_orders,
               coalesce(j.attributable, 0) - coalesce(o.on_lines, 0) AS difference
        FROM journal j FULL JOIN order_lines_cogs o USING (posting_date, company)
        ORDER BY 1, 2
        """,
        params={"cats": list(COGS_CATEGORIES), "first": first, "end": end},
    ).pl()


def freight_tie_back(con: duckdb.DuckDBPyConnection, lines: pl.DataFrame) -> pl.DataFrame:
    """Warehouse orders whose lines' freight differs from the reconciliation's own
    per-order logistics cost (`order_logistics_cost`); what, kind, difference."""
    schema = {"what": pl.String, "kind": pl.String, "difference": pl.String}
    if not lines.height or not table_exists(con, "order_logistics_cost"):
        return pl.DataFrame(schema=schema)
    ours = lines.group_by("fulfilment_order_id").agg(pl.col("freight").sum())
    theirs = (
        read_table(
            con,
            "order_logistics_cost",
            "order_id IN (SELECT unnest(?))",
            [ours["fulfilment_order_id"].to_list()],
        )
        .group_by("order_id")
        .agg(pl.col("logistics_cost_functional").sum())
    )
    return (
        ours.join(theirs, left_on="fulfilment_order_id", right_on="order_id", how="full")
        .with_columns(
            (
                pl.col("freight").fill_null(0) - pl.col("logistics_cost_functional").fill_null(0)
            ).alias("_gap")
        )
        .filter(pl.col("_gap") != 0)
        .select(
            pl.coalesce("fulfilment_order_id", "order_id").alias("what"),
            pl.lit("FREIGHT").alias("kind"),
            pl.col("_gap").cast(pl.String).alias("difference"),
        )
    )
