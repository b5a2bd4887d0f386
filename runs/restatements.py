"""Restatements: detect every change to days already costed, and record it.

DOMAIN.md, "Late (backdated), corrected or removed documents for days already computed":
recompute forward from their date (or, in a closed period, post the difference on the
first open day); either way record and report the restatement. A late document, a
corrected row in a reloaded extract and a row that disappeared from one all look the
same here: the documents the run can see differ from the ones costing last costed
(`costing_documents`, a content hash per document and day, written with each costed
chunk). The earliest day such a difference touches is where the run recosts from.

The run's before and after figures (COGS over the restated days, inventory value at
their end, per company) make the record, so that nothing changes silently: a recost
that changes figures without any document changing (a corrected FX rate) is recorded too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from pipelines.contracts.inputs import COMPANIES, FX_RATES, LANDED_COSTS, MOVEMENTS, SKUS
from pipelines.contracts.restatements import (
    COSTING_DOCUMENTS,
    COSTING_RESTATED_DOCUMENTS,
    COSTING_RESTATEMENTS,
)
from pipelines.contracts.spec import LOAD_DATE, TableContract
from pipelines.contracts.types import MONEY
from runs.dated import day_of
from storage.warehouse import replace_slice, table_exists

SEEN = "__costing_documents_seen"
"""Temporary table: the documents this run can see, hashed (built once per run)."""
DOCUMENTS = COSTING_DOCUMENTS.name
FIGURE_TYPES: dict[str, pl.DataType] = {
    "company": pl.String(),
    "currency": pl.String(),
    "cogs": MONEY,
    "inventory_value": MONEY,
}
FIGURES = pl.Schema(FIGURE_TYPES)

_LINKS = {
    MOVEMENTS.name: "CASE WHEN movement_type = 'RECEIPT' THEN reference END",
    LANDED_COSTS.name: "receipt_reference",
}
_IDS = {MOVEMENTS.name: "movement_id", LANDED_COSTS.name: "landed_cost_id"}


@dataclass(frozen=True)
class DocumentChanges:
    """Documents whose costed version differs from what the run sees, on costed days.

    `documents`: COSTING_RESTATED_DOCUMENTS without run_id. `restated_from`: the earliest
    day they change (None: nothing changed on a costed day)."""

    documents: pl.DataFrame
    restated_from: date | None
    closed_from: date | None = None
    """The earliest day a change touches inside the closed period (None: none does)."""


def _row_hash(contract: TableContract, alias: str = "", *, load_day: bool = True) -> str:
    """md5 over the row as the engine reads it: every contract column and, for documents,
    the load day (late documents and closed periods depend on it), each marked null or not.
    Reference rows are read whatever their load day, so it is not part of their hash."""
    names = [*contract.column_names, *([LOAD_DATE] if load_day else [])]
    prefix = f"{alias}." if alias else ""
    parts = ", ".join(f"coalesce('v' || CAST({prefix}\"{n}\" AS VARCHAR), 'n')" for n in names)
    return f"md5(concat_ws(chr(31), {parts}))"


def _reference_selects(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The reference rows that change costed figures, hashed like documents.

    An FX rate is used from its date until the next one (pipelines/fx.py, as-of), so it
    is dated by its rate_date, or the first costed day when it is earlier, once per
    company whose functional currency it converts to. A company's functional currency
    changes every figure: dated the first costed day. A SKU's weight and dimensions only
    weigh WEIGHT and VOLUME landed-cost allocations: one row per company with such a
    landed cost on a receipt of the SKU, dated at the earliest posting (other SKU rows
    change no figure and are not followed)."""
    found = []
    if table_exists(con, FX_RATES.name) and table_exists(con, COMPANIES.name):
        found.append(
            "SELECT 'fx_rates', f.currency || '>' || f.to_currency || '@' || "
            "CAST(f.rate_date AS VARCHAR), c.company, greatest(f.rate_date, $first_day), "
            f"NULL, {_row_hash(FX_RATES, 'f', load_day=False)} FROM fx_rates f "
            "JOIN companies c ON c.functional_currency = f.to_currency"
        )
    if table_exists(con, COMPANIES.name):
        found.append(
            "SELECT 'companies', company, company, $first_day, NULL, "
            f"{_row_hash(COMPANIES, load_day=False)} FROM companies"
        )
    needed = (SKUS.name, MOVEMENTS.name, LANDED_COSTS.name)
    if all(table_exists(con, t) for t in needed):
        found.append(
            f"SELECT 'skus', s.sku, l.company, min({day_of(LANDED_COSTS, 'l')}), NULL, "
            f"{_row_hash(SKUS, 's', load_day=False)} FROM skus s "
            "JOIN movements m ON m.sku = s.sku AND m.movement_type = 'RECEIPT' "
            "JOIN landed_costs l ON l.receipt_reference = m.reference AND l.company = m.company "
            "AND l.basis IN ('WEIGHT', 'VOLUME') AND l.\"_load_date\" <= $known_by "
            'WHERE m."_load_date" <= $known_by GROUP BY ALL'
        )
    return found


def see_documents(con: duckdb.DuckDBPyConnection, known_by: date, first_day: date) -> None:
    """Hash every document loaded by `known_by`, and the reference rows costing reads
    (dated no earlier than `first_day`, the first costed day), into the run's temporary
    table."""
    selects = [
        f"SELECT '{c.name}' AS source, {_IDS[c.name]} AS document_id, company, "
        f"{day_of(c)} AS day, {_LINKS[c.name]} AS link, {_row_hash(c)} AS content_hash "
        f'FROM "{c.name}" WHERE "{LOAD_DATE}" <= $known_by'
        for c in (MOVEMENTS, LANDED_COSTS)
        if table_exists(con, c.name)
    ]
    if selects:
        selects += _reference_selects(con)
    empty = (
        "SELECT NULL::VARCHAR AS source, NULL::VARCHAR AS document_id, NULL::VARCHAR AS company, "
        "NULL::DATE AS day, NULL::VARCHAR AS link, NULL::VARCHAR AS content_hash WHERE FALSE"
    )
    query = " UNION ALL ".join(selects) if selects else empty
    params = {"known_by": known_by, "first_day": first_day}
    used = {k: v for k, v in params.items() if f"${k}" in query}
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SEEN} AS {query}", used)


_SIDES = f"""
        added AS (
            SELECT source, document_id, company, day, link, content_hash FROM {SEEN}
            EXCEPT SELECT source, document_id, company, day, link, content_hash FROM {DOCUMENTS}),
        removed AS (
            SELECT source, document_id, company, day, link, content_hash FROM {DOCUMENTS}
            EXCEPT SELECT source, document_id, company, day, link, content_hash FROM {SEEN}),
        sides AS (
            SELECT *, TRUE AS is_new FROM added UNION ALL SELECT *, FALSE FROM removed),
        changed AS (
            SELECT source, document_id,
                   coalesce(any_value(company) FILTER (WHERE is_new), any_value(company))
                       AS company,
                   min(day) FILTER (WHERE NOT is_new) AS day_before,
                   min(day) FILTER (WHERE is_new) AS day_after,
                   bool_or(is_new) AS has_new, bool_or(NOT is_new) AS has_old,
                   list(DISTINCT link) FILTER (WHERE link IS NOT NULL) AS links
            FROM sides GROUP BY source, document_id)"""
"""SQL CTEs: the (document, day, hash) rows only seen now (`added`) or only recorded
(`removed`), and per document what differs (`changed`): its days before and after, which
sides it is on, and the purchase documents it links to."""

_EFFECTIVE = f"""
        postings AS (
            SELECT company, link, min(day) AS posted FROM (
                SELECT company, link, day FROM {SEEN} WHERE source = 'landed_costs'
                UNION ALL
                SELECT company, link, day FROM {DOCUMENTS} WHERE source = 'landed_costs')
            GROUP BY company, link),
        effective AS (
            SELECT c.source, c.document_id,
                   least(coalesce(c.day_before, c.day_after), coalesce(c.day_after, c.day_before),
                         coalesce(min(p.posted), DATE '9999-12-31')) AS from_day
            FROM changed c
            LEFT JOIN postings p ON c.source = 'movements' AND p.company = c.company
                 AND list_contains(c.links, p.link)
            GROUP BY c.source, c.document_id, c.day_before, c.day_after)"""
"""SQL CTEs: the day each changed document takes effect from (`effective.from_day`): the
earlier of its days or, for a receipt line, the earliest posting of a landed cost of its
purchase document when that is earlier (`postings`, seen or recorded)."""

_CHANGES = f"""
        WITH {_SIDES},
        {_EFFECTIVE}
        SELECT c.source, c.document_id, c.company,
               CASE WHEN has_new AND has_old THEN 'CHANGED'
                    WHEN has_new THEN 'ADDED' ELSE 'REMOVED' END AS change,
               day_before, day_after,
               greatest(e.from_day, coalesce($closed_before, DATE '0001-01-01')) AS posted_on,
               e.from_day
        FROM changed c JOIN effective e USING (source, document_id)
        WHERE e.from_day <= $last
          AND (c.source IN ('movements', 'landed_costs') OR c.has_old
               OR c.company IN (SELECT company FROM {DOCUMENTS} WHERE source = 'movements'))
        ORDER BY source, document_id
    """
"""SQL: every document change taking effect on a costed day (`$last`: the last one), posted
no earlier than the first open day (`$closed_before`); a reference row seen for the first
time only for a company with costed documents."""


def document_changes(
    con: duckdb.DuckDBPyConnection, last_costed: date | None, closed_before: date | None
) -> DocumentChanges:
    """What differs between the documents seen (`see_documents`) and those costed, on days
    up to `last_costed`.

    A document is ADDED, CHANGED or REMOVED by comparing (document, day, hash) sets, so a
    record left with two days of one document by a killed run still compares right. A
    change to a receipt line or a landed cost moves the allocation of every landed cost
    of that purchase document (DOMAIN.md "Landed cost"), so it takes effect from the
    earliest posting of those landed costs. Days before `closed_before` are never
    rewritten: their changes take effect on the first open day. A reference row seen for
    the first time counts only for a company with costed documents (a new company's
    rates and row restate nothing).
    """
    own = ("run_id", "detected_on")
    columns = {c.name: c.dtype for c in COSTING_RESTATED_DOCUMENTS.columns if c.name not in own}
    if last_costed is None or not table_exists(con, DOCUMENTS):
        return DocumentChanges(pl.DataFrame(schema=columns), None)
    params = {"last": last_costed, "closed_before": closed_before}
    found = con.sql(_CHANGES, params=params).pl()
    first = found["posted_on"].min()
    closed = found.filter(pl.col("from_day") < (closed_before or date.min))["from_day"].min()
    return DocumentChanges(
        found.drop("from_day").cast(pl.Schema(columns)),
        first if isinstance(first, date) else None,
        closed if isinstance(closed, date) else None,
    )


def record_documents(con: duckdb.DuckDBPyConnection, first: date, last: date) -> None:
    """Record the documents of the costed days [first, last] as this run saw them."""
    frame = con.sql(
        f"SELECT source, document_id, company, day, link, content_hash FROM {SEEN} "
        "WHERE day BETWEEN ? AND ?",
        params=[first, last],
    ).pl()
    replace_slice(con, DOCUMENTS, frame, {"day": (first, last)})


def company_figures(con: duckdb.DuckDBPyConnection, first: date, last: date) -> pl.DataFrame:
    """Per company: COGS posted in [first, last] and inventory value at the end of `last`.

    Each valuation change row's opening is its pool's previous closing and history starts
    empty, so a company's stock value is the sum of closing - opening over its rows."""
    if not all(table_exists(con, t) for t in ("costing_cogs", "costing_valuation", "companies")):
        return pl.DataFrame(schema=FIGURES)
    query = """
        WITH cogs AS (
            SELECT company, sum(amount) AS cogs FROM costing_cogs
            WHERE posting_date BETWEEN $first AND $last GROUP BY company),
        stock AS (
            SELECT company, sum(closing_value - opening_value) AS inventory_value
            FROM costing_valuation WHERE day <= $last GROUP BY company)
        SELECT c.company, c.functional_currency AS currency,
               CAST(coalesce(cogs.cogs, 0) AS DECIMAL(18, 2)) AS cogs,
               CAST(coalesce(stock.inventory_value, 0) AS DECIMAL(18, 2)) AS inventory_value
        FROM companies c LEFT JOIN cogs USING (company) LEFT JOIN stock USING (company)
        ORDER BY c.company
    """
    frame = con.sql(query, params={"first": first, "last": last}).pl()
    return frame.cast(FIGURES)


def restatement_record(
    run_id: str,
    detected_on: date,
    window: tuple[date, date],
    changes: DocumentChanges,
    before: pl.DataFrame,
    after: pl.DataFrame,
) -> pl.DataFrame:
    """COSTING_RESTATEMENTS rows of a run that recosted the costed days `window`: one per
    company with a changed document or a changed figure; empty when nothing changed."""
    restated_from, restated_to = window
    docs = changes.documents
    counts = docs.group_by("company").agg(
        (pl.col("change") == change).sum().cast(pl.Int64).alias(f"documents_{change.lower()}")
        for change in ("ADDED", "CHANGED", "REMOVED")
    )
    posted = docs.group_by("company").agg(pl.col("posted_on").min())
    joined = (
        after.join(before, on=["company", "currency"], how="full", coalesce=True, suffix="_before")
        .join(counts, on="company", how="left")
        .join(posted, on="company", how="left")
        .with_columns(
            pl.col(f"documents_{c}").fill_null(0) for c in ("added", "changed", "removed")
        )
    )
    zero = pl.lit(0).cast(MONEY)
    rows = joined.select(
        pl.lit(run_id).alias("run_id"),
        pl.lit(detected_on).alias("detected_on"),
        "company",
        "currency",
        pl.lit(restated_from).alias("restated_from"),
        pl.lit(restated_to).alias("restated_to"),
        pl.col("posted_on").fill_null(restated_from),
        "documents_added",
        "documents_changed",
        "documents_removed",
        pl.col("cogs_before").fill_null(zero),
        pl.col("cogs").fill_null(zero).alias("cogs_after"),
        pl.col("inventory_value_before").fill_null(zero),
        pl.col("inventory_value").fill_null(zero).alias("inventory_value_after"),
    ).with_columns(
        (pl.col("cogs_after") - pl.col("cogs_before")).cast(MONEY).alias("cogs_difference"),
        (pl.col("inventory_value_after") - pl.col("inventory_value_before"))
        .cast(MONEY)
        .alias("inventory_value_difference"),
    )
    touched = (
        (pl.sum_horizontal("documents_added", "documents_changed", "documents_removed") > 0)
        | (pl.col("cogs_difference") != 0)
        | (pl.col("inventory_value_difference") != 0)
    )
    columns = [c.name for c in COSTING_RESTATEMENTS.columns]
    return rows.filter(touched).select(columns).sort("company")


def store_restatement(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    detected_on: date,
    record: pl.DataFrame,
    documents: pl.DataFrame,
) -> None:
    """Replace this run's restatement record and its documents (both empty: nothing restated)."""
    replace_slice(con, COSTING_RESTATEMENTS.name, record, {"run_id": run_id})
    listed = documents.with_columns(
        pl.lit(run_id).alias("run_id"), pl.lit(detected_on).alias("detected_on")
    ).select([c.name for c in COSTING_RESTATED_DOCUMENTS.columns])
    replace_slice(con, COSTING_RESTATED_DOCUMENTS.name, listed, {"run_id": run_id})
