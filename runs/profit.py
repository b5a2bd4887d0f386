"""Order profitability for a range of order days, against the warehouse.

The engine (pipelines/profit) takes frames; this reads them: the order centre's extracts
of the orders dated in the range, the COGS postings of their issues and returns from the
costing journal lines (so the line COGS is the journal's, to the cent), the freight of
their parcels from the reconciliation (approved where billed, expected where not), and
stores `order_profit`, its roll-ups and its provenance, replacing exactly those days.

Restatement (DOMAIN.md, "Late (backdated), corrected or removed documents"; issue 15): a
costing restatement, a parcel billed or re-priced, a refund or a corrected order changes
order days already computed. Each computed day keeps a fingerprint of what it was computed
from (`profit_inputs`); every run also recomputes each other day whose inputs fingerprint
differently now, and records its figures before and after (`profit_restatements`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import duckdb
import polars as pl

from pipelines.contracts.inputs import SKUS
from pipelines.contracts.orders import ORDER_LINES, ORDER_REFUNDS, ORDERS
from pipelines.contracts.profit import PROFIT_RESTATEMENTS, PROFIT_TABLES
from pipelines.contracts.types import MONEY
from pipelines.profit import (
    POSTINGS_SCHEMA,
    SHIPMENT_FREIGHT_SCHEMA,
    ProfitInputs,
    ProfitPolicy,
    ProfitResult,
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
CHECKS = (
    "allocations_sum_exactly",
    "shipped_lines_have_cogs",
    "refunds_within_the_line",
    "totals_tie_back",
)
COGS_CATEGORIES = ("ISSUE", "TRUE_UP", "RETURN")
"""The COGS journal categories an order line carries; LANDED_COST_EXPENSED is per receipt
line (DOMAIN.md "Landed cost") and stays in the journal, reported as not on an order."""


@dataclass
class ProfitRun:
    requested: tuple[date, date]
    days: list[date]
    """Every order day computed: the requested ones and the restated ones."""
    counts: dict[str, int] = field(default_factory=dict)
    violations: dict[str, pl.DataFrame] = field(default_factory=dict)
    tie_back: pl.DataFrame = field(default_factory=pl.DataFrame)
    restatement: pl.DataFrame = field(default_factory=pl.DataFrame)
    """PROFIT_RESTATEMENTS rows of the run (the figures of the restated days, before/after)."""

    @property
    def restated_days(self) -> list[date]:
        """The days computed outside the range asked for, their inputs having changed."""
        first, last = self.requested
        return [d for d in self.days if not first <= d <= last]


def profit_days(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    policy: ProfitPolicy | None = None,
    run_id: str = "",
) -> ProfitRun:
    """Compute and store order profit for the orders of [start, end], and of every other
    order day whose inputs changed since profit last computed it (`changed_days`)."""
    requested = [date.fromordinal(d) for d in range(start.toordinal(), end.toordinal() + 1)]
    run = ProfitRun((start, end), requested)
    if not table_exists(con, "orders"):
        return run
    current = input_fingerprints(con)
    changed = changed_days(con, current, start, end)
    days = sorted({*requested, *changed["order_date"].to_list()})
    run.days = days
    before = _day_figures(con, run.restated_days)
    inputs = _inputs(con, days)
    computed = order_profit(inputs, policy)
    result = _of_days(computed, days)
    run.counts = _store_outputs(con, result, days)
    fingerprints = _fingerprint_rows(current, days, run_id)
    replace_slice(con, "profit_inputs", fingerprints, {"order_date": days})
    after = result.daily.filter(pl.col("order_date").is_in(run.restated_days))
    run.restatement = _restatement(run_id, end, changed, before, _figures_of(after))
    replace_slice(con, "profit_restatements", run.restatement, {"run_id": run_id})
    run.tie_back = cogs_tie_back(con, days[0], end)
    # checked on every line computed, the linked lines of other days too: a posting or a
    # parcel shared with them adds up over all of its lines only
    freight_gap = freight_tie_back(con, computed.lines)
    run.violations = _violations(inputs, computed, run.tie_back, freight_gap)
    return run


def _store_outputs(
    con: duckdb.DuckDBPyConnection, result: ProfitResult, days: list[date]
) -> dict[str, int]:
    """Replace the computed days of every profit table with the result; rows per table."""
    tables = {
        "order_profit": result.lines,
        "order_profit_orders": result.orders,
        "profit_daily": result.daily,
        "order_line_cogs": result.line_cogs,
        "order_line_freight": result.line_freight,
    }
    for name, frame in tables.items():
        replace_slice(con, name, frame.cast(OUTPUTS[name].schema), {"order_date": days})
    return {name: frame.height for name, frame in tables.items()}


def _violations(
    inputs: ProfitInputs, result: ProfitResult, tie_back: pl.DataFrame, freight_gap: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    """The rows breaking each of `CHECKS`: an allocation, posting, freight or margin that
    does not add up; a shipped line without COGS; a COGS or freight total that does not tie
    back to the journal or the reconciliation (`what`, `kind`, and `difference` there)."""
    return {
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
        "refunds_within_the_line": result.over_refunded,
        "totals_tie_back": pl.concat(
            [
                tie_back.filter(pl.col("difference") != 0).select(
                    pl.format("{} {}", "posting_date", "company").alias("what"),
                    pl.lit("COGS").alias("kind"),
                    pl.col("difference").cast(pl.String).alias("difference"),
                ),
                freight_gap,
            ]
        ),
    }


HASHES = pl.Schema(
    {
        "order_date": pl.Date,
        "orders_hash": pl.String,
        "cogs_hash": pl.String,
        "freight_hash": pl.String,
        "reference_hash": pl.String,
    }
)
PARTS = ("orders", "cogs", "freight", "reference")
NO_ROWS = "0"
"""The fingerprint of no rows (XOR over nothing)."""
FINDING_COLUMNS = [
    "shipment_id",
    "approved_amount",
    "disputed_amount",
    "bill_number",
    "line_number",
]
"""What a parcel's freight takes from its bill lines (pipelines/profit/freight.py)."""
RATING_COLUMNS = ["shipment_id", "fx_rate", "expected_total_functional"]
POSTING_COLUMNS = [
    "movement_id",
    "category",
    "posting_date",
    "company",
    "amount",
    "provisional_open",
]
_NO_HASHES = (
    "SELECT NULL::VARCHAR AS fulfilment_order_id, NULL::VARCHAR AS sku, NULL::UBIGINT AS row_hash"
    " WHERE FALSE"
)
_NO_DAY_HASHES = "SELECT NULL::DATE AS order_date, NULL::UBIGINT AS row_hash WHERE FALSE"


def _row_hash(alias: str, columns: list[str]) -> str:
    """SQL: a 64-bit hash of the named columns of a row (DuckDB's `hash`, nulls included),
    so that a row's fingerprint changes with any of them. Cheaper than md5 over the row's
    text (costing_documents); a DuckDB version hashing otherwise only makes every day
    recompute once."""
    return "hash(" + ", ".join(f'{alias}."{c}"' for c in columns) + ")"


def _if_tables(
    con: duckdb.DuckDBPyConnection, tables: tuple[str, ...], query: str, empty: str = ""
) -> str:
    """`query` when every table it reads exists, else no rows (`empty`, by default the
    no-rows shape of the parcel and posting parts)."""
    return query if all(table_exists(con, t) for t in tables) else (empty or _NO_HASHES)


def _xor(part: str) -> str:
    """SQL: a day's row hashes of one part folded by XOR, as text (`NO_ROWS` for none)."""
    return (
        f"CAST(coalesce(bit_xor(hashed.row_hash) FILTER (WHERE hashed.part = '{part}'), 0) "
        f"AS VARCHAR) AS {part}_hash"
    )


_KEYED_LINES = """
    SELECT l.order_line_id, coalesce(l.fulfilment_order_id, l.order_id) AS fulfil,
           coalesce(o.parent_order_id, o.order_id) AS root
    FROM order_lines l JOIN orders o USING (order_id)"""
"""Every line with its warehouse order and its root order (the parent it was split from)."""

_DAY_READS = f"""
        day_orders AS (
            SELECT {day_of(ORDERS)} AS order_date, order_id, parent_order_id FROM orders
        ),
        read_orders AS (
            SELECT order_date, order_id FROM day_orders
            UNION
            SELECT order_date, parent_order_id FROM day_orders WHERE parent_order_id IS NOT NULL
        ),
        own_lines AS (
            SELECT r.order_date, l.order_line_id
            FROM read_orders r JOIN order_lines l USING (order_id)
        ),
        keyed_lines AS ({_KEYED_LINES}),
        read_lines AS (
            SELECT x.order_date, l.* FROM (
                SELECT own.order_date, k.order_line_id
                FROM own_lines own JOIN keyed_lines mine USING (order_line_id)
                JOIN keyed_lines k ON k.fulfil = mine.fulfil
                UNION
                SELECT own.order_date, k.order_line_id
                FROM own_lines own JOIN keyed_lines mine USING (order_line_id)
                JOIN keyed_lines k ON k.root = mine.root
            ) x JOIN order_lines l USING (order_line_id)
        ),
        targets AS (
            SELECT DISTINCT order_date,
                   coalesce(fulfilment_order_id, order_id) AS fulfilment_order_id, sku
            FROM read_lines
        )"""
"""SQL CTEs: per order day, the orders its profit reads (the day's and their parents), their
lines and the lines sharing a warehouse order or a root order with them (whatever their day:
a parcel merged over two days' orders, a split parent's children of two days; what the
day's lines' shares are taken over, `_linked_lines`), and the (warehouse order, SKU) pairs
whose COGS and parcels the lines take. A second day's order merged into a first day's
parcel thus changes the first day's fingerprint: the run restates it."""

_XOR_PER_DAY = f"""
        hashed AS (
            SELECT order_date, 'orders' AS part, row_hash FROM order_rows
            UNION ALL SELECT order_date, 'cogs', row_hash FROM cogs_rows
            UNION ALL SELECT order_date, 'freight', row_hash FROM freight_rows
            UNION ALL SELECT order_date, 'reference', row_hash FROM reference_rows
        )
        SELECT d.order_date,
               {", ".join(_xor(p) for p in PARTS)}
        FROM (SELECT DISTINCT order_date FROM day_orders) d
        LEFT JOIN hashed USING (order_date)
        GROUP BY d.order_date ORDER BY d.order_date"""
"""SQL: the end of the fingerprint query, each day's `PARTS` folded by XOR into one hash
each (a day without rows of a part fingerprints as `NO_ROWS`)."""


def input_fingerprints(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per order day with orders (`HASHES`): `orders_hash`, `cogs_hash`, `freight_hash`,
    each the XOR of the 64-bit hash of every distinct input row the day's profit reads
    (`_inputs`): its orders and their parents, their lines and the lines' refunds; the COGS
    postings (and open provisional cost) of the lines' issues and returns; the ratings and
    bill lines of the parcels of the lines' warehouse orders; the reference rows: each order
    currency's rate into its company's functional currency as of the day (the as-of rule of
    pipelines/fx.py) and the lines' SKU weights and dimensions. XOR, so that the order rows
    come in does not matter and every table is read in one pass."""
    query = f"""
        WITH {_DAY_READS},
        order_rows AS (
            SELECT r.order_date, {_row_hash("o", ORDERS.column_names)} AS row_hash
            FROM read_orders r JOIN orders o USING (order_id)
            UNION
            SELECT order_date, {_row_hash("read_lines", ORDER_LINES.column_names)} FROM read_lines
            UNION
            {_refund_hashes(con)}
        ),
        cogs_rows AS (
            SELECT DISTINCT t.order_date, p.row_hash
            FROM targets t JOIN ({_posting_hashes(con)}) p USING (fulfilment_order_id, sku)
        ),
        freight_rows AS (
            SELECT DISTINCT t.order_date, p.row_hash
            FROM (SELECT DISTINCT order_date, fulfilment_order_id FROM targets) t
            JOIN ({_parcel_hashes(con)}) p USING (fulfilment_order_id)
        ),
        reference_rows AS ({_reference_hashes(con)}),
        {_XOR_PER_DAY}
    """
    return con.sql(query).pl().cast(HASHES)


def _refund_hashes(con: duckdb.DuckDBPyConnection) -> str:
    """SQL: per order day, the hash of every refund of the day's lines and of its orders
    (a refund of an amount on a whole order)."""
    hashed = _row_hash("r", ORDER_REFUNDS.column_names)
    return _if_tables(
        con,
        ("order_refunds",),
        f"""SELECT l.order_date, {hashed} AS row_hash
            FROM read_lines l JOIN order_refunds r USING (order_line_id)
            UNION
            SELECT o.order_date, {hashed}
            FROM read_orders o JOIN order_refunds r USING (order_id)""",
        empty=_NO_DAY_HASHES,
    )


def _posting_hashes(con: duckdb.DuckDBPyConnection) -> str:
    """SQL: per (warehouse order, SKU), the hash of every COGS posting of its issues and
    their returns, with the provisional cost still open on the issue."""
    return _if_tables(
        con,
        ("costing_journal_lines", "movements", "costing_cogs"),
        f"""SELECT t.fulfilment_order_id, t.sku, {_row_hash("p", POSTING_COLUMNS)} AS row_hash
            FROM (
                SELECT j.movement_id, j.category, j.posting_date, j.company,
                       sum(j.amount) AS amount,
                       coalesce(any_value(o.provisional_open), 0) AS provisional_open
                FROM costing_journal_lines j
                LEFT JOIN (
                    SELECT movement_id,
                           sum(CASE WHEN kind = 'COST' THEN provisional ELSE -provisional END)
                               AS provisional_open
                    FROM costing_cogs WHERE kind IN ('COST', 'TRUE_UP') GROUP BY movement_id
                ) o USING (movement_id)
                WHERE j.account = 'COGS' AND j.category IN {COGS_CATEGORIES}
                GROUP BY j.movement_id, j.category, j.posting_date, j.company
            ) p JOIN ({_COGS_TARGETS}) t USING (movement_id)""",
    )


def _parcel_hashes(con: duckdb.DuckDBPyConnection) -> str:
    """SQL: per warehouse order, the hash of every rating of its parcels and of every
    reconciliation finding on them (the bill lines' approved and disputed amounts)."""
    ratings = _if_tables(
        con,
        ("shipment_ratings",),
        f"""SELECT rating.order_id AS fulfilment_order_id, NULL AS sku,
                   {_row_hash("rating", RATING_COLUMNS)} AS row_hash
            FROM shipment_ratings rating WHERE rating.order_id IS NOT NULL""",
    )
    findings = _if_tables(
        con,
        ("shipment_ratings", "reconciliation_findings"),
        f"""SELECT rating.order_id AS fulfilment_order_id, NULL AS sku,
                   {_row_hash("finding", FINDING_COLUMNS)} AS row_hash
            FROM reconciliation_findings finding
            JOIN shipment_ratings rating USING (shipment_id)
            WHERE rating.order_id IS NOT NULL""",
    )
    return f"{ratings} UNION ALL {findings}"


def _reference_hashes(con: duckdb.DuckDBPyConnection) -> str:
    """SQL: per order day, the hash of the FX rate each order currency of the day converts
    at (as of the day), and of the SKU row of each of the day's lines."""
    rates = _if_tables(
        con,
        ("companies", "fx_rates"),
        """SELECT d.order_date, hash(d.currency, c.functional_currency, r.rate_date, r.rate)
                   AS row_hash
            FROM (SELECT DISTINCT r.order_date, o.currency, o.company
                  FROM read_orders r JOIN orders o USING (order_id)) d
            JOIN companies c USING (company)
            ASOF LEFT JOIN fx_rates r ON r.currency = d.currency
                 AND r.to_currency = c.functional_currency AND r.rate_date <= d.order_date
            WHERE d.currency <> c.functional_currency""",
        empty=_NO_DAY_HASHES,
    )
    weights = _if_tables(
        con,
        ("skus",),
        f"""SELECT DISTINCT l.order_date, {_row_hash("sku_row", SKUS.column_names)} AS row_hash
            FROM read_lines l JOIN skus sku_row USING (sku)""",
        empty=_NO_DAY_HASHES,
    )
    return f"{rates} UNION {weights}"


def changed_days(
    con: duckdb.DuckDBPyConnection, current: pl.DataFrame, start: date, end: date
) -> pl.DataFrame:
    """Order days outside [start, end] already computed whose inputs now fingerprint
    otherwise than when they were (`profit_inputs`), with what changed (`changed`): COGS
    (costing restated them), FREIGHT (a parcel re-priced, billed, disputed), REFERENCE (a
    corrected FX rate or SKU weight), ORDERS (a late, corrected or removed order, line or
    refund); UNRECORDED: stored profit without a
    fingerprint (computed before fingerprints were kept). It compares what each day was
    computed from with what it would be computed from now, so it does not depend on which
    run changed what, nor on the order the runs came in."""
    schema = pl.Schema({"order_date": pl.Date(), "changed": pl.String()})
    stored = read_table(con, "profit_inputs", schema=HASHES).select(HASHES.names())
    compared = stored.join(current, on="order_date", how="left", suffix="_now")
    causes = [
        pl.when(pl.col(f"{p}_hash") != pl.col(f"{p}_hash_now").fill_null(NO_ROWS)).then(
            pl.lit(p.upper())
        )
        for p in PARTS
    ]
    found = compared.select(
        "order_date", pl.concat_str(causes, separator=",", ignore_nulls=True).alias("changed")
    ).filter(pl.col("changed") != "")
    if table_exists(con, "order_profit"):
        recorded = stored["order_date"].to_list()
        unrecorded = con.sql(
            "SELECT DISTINCT order_date, 'UNRECORDED' AS changed FROM order_profit "
            "WHERE order_date NOT IN (SELECT unnest(?::DATE[]))",
            params=[recorded],
        ).pl()
        found = pl.concat([found.cast(schema), unrecorded.cast(schema)])
    return (
        found.cast(schema).filter(~pl.col("order_date").is_between(start, end)).sort("order_date")
    )


def _fingerprint_rows(current: pl.DataFrame, days: list[date], run_id: str) -> pl.DataFrame:
    """`profit_inputs` of the days computed: a day without orders fingerprints as no rows,
    so orders arriving for it later restate it."""
    computed = pl.DataFrame({"order_date": days}, schema={"order_date": pl.Date})
    return computed.join(current, on="order_date", how="left").select(
        "order_date",
        *(pl.col(f"{p}_hash").fill_null(NO_ROWS) for p in PARTS),
        pl.lit(run_id).alias("run_id"),
    )


FIGURE_TYPES: dict[str, pl.DataType] = {
    "order_date": pl.Date(),
    "company": pl.String(),
    "currency": pl.String(),
    "lines": pl.Int64(),
    "cogs": MONEY,
    "freight": MONEY,
    "margin": MONEY,
}
FIGURES = pl.Schema(FIGURE_TYPES)


def _day_figures(con: duckdb.DuckDBPyConnection, days: list[date]) -> pl.DataFrame:
    """The stored figures of `days` per company, before they are recomputed."""
    if not days:
        return pl.DataFrame(schema=FIGURES)
    return _figures_of(read_table(con, "profit_daily", "order_date IN (SELECT unnest(?))", [days]))


def _figures_of(daily: pl.DataFrame) -> pl.DataFrame:
    """`profit_daily` rows summed per day and company (`FIGURES`)."""
    if not daily.height:
        return pl.DataFrame(schema=FIGURES)
    return (
        daily.group_by("order_date", "company", pl.col("functional_currency").alias("currency"))
        .agg(
            pl.col("line_count").sum().alias("lines"),
            pl.col("cogs").sum(),
            pl.col("freight").sum(),
            pl.col("contribution_margin").sum().alias("margin"),
        )
        .cast(FIGURES)
    )


def _restatement(
    run_id: str,
    detected_on: date,
    changed: pl.DataFrame,
    before: pl.DataFrame,
    after: pl.DataFrame,
) -> pl.DataFrame:
    """PROFIT_RESTATEMENTS: per restated day and company, the figures before and after (a
    company without lines on one side has zeros there), detected on the run's last day."""
    figures = ("lines", "cogs", "freight", "margin")
    both = before.join(
        after, on=["order_date", "company"], how="full", coalesce=True, suffix="_after"
    )
    return (
        both.join(changed, on="order_date", how="inner")
        .select(
            pl.lit(run_id).alias("run_id"),
            pl.lit(detected_on).alias("detected_on"),
            "order_date",
            "company",
            pl.coalesce("currency", "currency_after").alias("currency"),
            "changed",
            *(pl.col(f).fill_null(0).alias(f"{f}_before") for f in figures),
            *(pl.col(f"{f}_after").fill_null(0) for f in figures),
        )
        .sort("order_date", "company")
        .cast(PROFIT_RESTATEMENTS.schema)
    )


_COGS_TARGETS = """
    SELECT movement_id, reference AS fulfilment_order_id, sku FROM movements
    WHERE movement_type = 'ISSUE'
    UNION ALL
    SELECT r.movement_id, i.reference, i.sku FROM movements r
    JOIN movements i ON r.reference = i.movement_id AND i.movement_type = 'ISSUE'
    WHERE r.movement_type = 'RETURN'
"""
"""Every ISSUE and RETURN movement with the warehouse order and SKU of its issue."""


def _inputs(con: duckdb.DuckDBPyConnection, days: list[date]) -> ProfitInputs:
    on_days = f"{day_of(ORDERS)} IN (SELECT unnest(?))"
    orders = read_table(
        con,
        "orders",
        f"{on_days} OR order_id IN (SELECT parent_order_id FROM orders WHERE {on_days})",
        [days, days],
        schema=ORDERS.schema,
    )
    lines = read_table(
        con,
        "order_lines",
        "order_id IN (SELECT unnest(?))",
        [orders["order_id"].to_list()],
        schema=ORDER_LINES.schema,
    )
    linked = _linked_lines(con, lines)
    if linked.height:
        extra = read_table(
            con,
            "orders",
            "order_id IN (SELECT unnest(?))",
            [linked["order_id"].unique().to_list()],
            schema=ORDERS.schema,
        ).join(orders, on="order_id", how="anti")
        orders = pl.concat([orders, extra], how="diagonal_relaxed")
        lines = pl.concat([lines, linked], how="diagonal_relaxed")
    ids = orders["order_id"].to_list()
    refunds = read_table(
        con,
        "order_refunds",
        "order_line_id IN (SELECT unnest(?)) OR order_id IN (SELECT unnest(?))",
        [lines["order_line_id"].to_list(), ids],
        schema=ORDER_REFUNDS.schema,
    )
    fulfilments = (
        lines.select(
            pl.coalesce("fulfilment_order_id", "order_id").alias("fulfilment_order_id"), "sku"
        ).unique()
        if lines.height
        else pl.DataFrame(schema={"fulfilment_order_id": pl.String, "sku": pl.String})
    )
    return ProfitInputs(
        orders=_contract_columns(orders, ORDERS.column_names),
        order_lines=_contract_columns(lines, ORDER_LINES.column_names),
        refunds=_contract_columns(refunds, ORDER_REFUNDS.column_names),
        postings=_postings(con, fulfilments),
        shipments=_shipments(con, fulfilments["fulfilment_order_id"].unique().to_list()),
        skus=read_table(con, "skus").drop(PROVENANCE, strict=False),
        fx_rates=read_table(con, "fx_rates").drop(PROVENANCE, strict=False),
        companies=read_table(con, "companies").drop(PROVENANCE, strict=False),
    )


def _linked_lines(con: duckdb.DuckDBPyConnection, lines: pl.DataFrame) -> pl.DataFrame:
    """The lines, not in `lines`, that share a warehouse order (a merged parcel, its COGS
    postings) or a root order (a split parent's amounts) with one of them, whatever their
    order day: the shares of `lines` are taken over them too, as in a run of all the days
    at once. Their own rows are computed but not stored (`_of_days`)."""
    if not lines.height:
        return lines
    query = f"""
        WITH keyed AS ({_KEYED_LINES}),
        mine AS (SELECT * FROM keyed WHERE order_line_id IN (SELECT unnest(?))),
        linked AS (
            SELECT k.order_line_id FROM keyed k JOIN mine m ON k.fulfil = m.fulfil
            UNION
            SELECT k.order_line_id FROM keyed k JOIN mine m ON k.root = m.root
        )
        SELECT l.* FROM order_lines l
        WHERE l.order_line_id IN (SELECT order_line_id FROM linked)
          AND l.order_line_id NOT IN (SELECT order_line_id FROM mine)"""
    return con.sql(query, params=[lines["order_line_id"].to_list()]).pl()


def _of_days(result: ProfitResult, days: list[date]) -> ProfitResult:
    """`result` with only the rows of `days` in the tables stored per order day (the linked
    lines of other days are inputs of the shares, not outputs of the run)."""
    on = pl.col("order_date").is_in(pl.Series(days, dtype=pl.Date).implode())
    return replace(
        result,
        lines=result.lines.filter(on),
        orders=result.orders.filter(on),
        daily=result.daily.filter(on),
        line_cogs=result.line_cogs.filter(on),
        line_freight=result.line_freight.filter(on),
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
                JOIN __wanted w USING (fulfilment_order_id, sku)
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


TIE_BACK = pl.Schema(
    {
        "posting_date": pl.Date(),
        "company": pl.String(),
        **dict.fromkeys(
            ("cogs_journal", "cogs_on_order_issues", "cogs_order_lines", "not_on_orders"), MONEY
        ),
        "difference": MONEY,
    }
)
"""`cogs_tie_back`'s columns (no costing journal yet: no rows of them)."""


def cogs_tie_back(con: duckdb.DuckDBPyConnection, first: date, end: date) -> pl.DataFrame:
    """Per posting day and company of [first, end]: the COGS journal, the part of it on
    order lines' issues and returns, and the order lines' COGS stored for those days;
    `difference` (attributable − order lines) must be 0. `not_on_orders` is the rest of the
    journal (landed cost on units already gone, issues with no order line)."""
    if not table_exists(con, "costing_journal_lines") or not table_exists(con, "order_line_cogs"):
        return pl.DataFrame(schema=TIE_BACK)
    return con.sql(
        f"""
        WITH lines AS (
            SELECT DISTINCT coalesce(fulfilment_order_id, order_id) AS fulfilment_order_id, sku
            FROM order_lines
        ),
        attributable AS (
            SELECT t.movement_id FROM ({_COGS_TARGETS}) t
            JOIN lines l USING (fulfilment_order_id, sku)
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
