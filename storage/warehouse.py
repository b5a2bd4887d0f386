"""The embedded DuckDB warehouse: tables from contracts, idempotent partition writes.

Every write replaces exactly one slice (a load day, a carrier period, or the
whole table) inside a transaction, so a rerun gives the same rows with no
duplicates and a failed write leaves the previous state untouched. Every table
is created from its contract and every write is checked against it
(storage/schema.py): a frame or file that does not fit is refused, naming the
table and the column, and a key written twice fails the write.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from storage.schema import (
    check_columns,
    check_frame,
    check_key,
    create_table,
    stored_contract,
)
from storage.warehouse_lock import hold_warehouse


@contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse file; a writing one holds the warehouse lock while
    open (storage/warehouse_lock.py), so a second writing process is refused by name
    instead of failing on DuckDB's own file lock."""
    with ExitStack() as stack:
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(hold_warehouse(path))
        con = duckdb.connect(str(path), read_only=read_only)
        try:
            yield con
        finally:
            con.close()


_IN_TRANSACTION: set[int] = set()
"""Connections (by id) inside `transaction`: their slice writes join it."""


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Every write inside is one transaction: all of them are stored, or none.

    A run's parts (a costing chunk's tables and its checkpoint, a period's outputs) are
    loaded through this, so a failure half-way, or a process killed, leaves the warehouse
    as it was before the first of them, never some tables new and others old."""
    if id(con) in _IN_TRANSACTION:
        yield
        return
    _IN_TRANSACTION.add(id(con))
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        _IN_TRANSACTION.discard(id(con))


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
    ).fetchall()
    return bool(found[0][0])


def replace_slice(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    where: Mapping[str, Any] | None = None,
) -> int:
    """Replace the rows matching `where` (all rows when None) by `frame`, atomically.

    Returns the number of rows written. `where` values may be scalars,
    (low, high) tuples for an inclusive range (a multi-day run), or lists of
    values (a batch of files). `frame` must fit the table's contract (an all-null
    column takes the contract's type); its keys are checked against the table's
    (a check, not a PRIMARY KEY: storage/schema.py says why).
    """
    spec = stored_contract(table)
    untyped = {c.name: c.dtype for c in spec.stored_columns if frame.schema.get(c.name) == pl.Null}
    frame = frame.cast(pl.Schema(untyped)) if untyped else frame
    check_frame(spec, frame)
    create_table(con, spec)
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (where or {}).items():
        if isinstance(value, tuple):
            clauses.append(f'"{column}" BETWEEN ? AND ?')
            params.extend(value)
        elif isinstance(value, list):
            clauses.append(f'"{column}" IN (SELECT unnest(?))')
            params.append(value)
        else:
            clauses.append(f'"{column}" = ?')
            params.append(value)
    condition = " AND ".join(clauses) if clauses else "TRUE"
    with transaction(con):
        con.execute(f'DELETE FROM "{table}" WHERE {condition}', params)
        if frame.height:
            con.register("__incoming", frame.to_arrow())
            try:
                con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM __incoming')
                check_key(con, spec, "SELECT * FROM __incoming", [])
            finally:
                con.unregister("__incoming")
    return frame.height


def replace_slice_from_parquet(
    con: duckdb.DuckDBPyConnection,
    table: str,
    paths: Sequence[Path],
    where: Mapping[str, Any] | None = None,
    order_by: Sequence[str] = (),
    memory_limit: str | None = None,
) -> int:
    """As `replace_slice`, the new rows read by DuckDB straight from Parquet files
    (`read_parquet`, streamed, never a Polars frame), in `order_by` order when given.

    Same semantics: one transaction deletes the slice and inserts the files' rows, so
    a rerun gives the same rows once and a failure (a missing or unreadable file
    included) leaves the previous rows. The files' columns and types must be the
    table's contract's (matched by name); NOT NULL and the key are checked by the
    write, in DuckDB, so the rows never pass through Polars. `where` takes scalars
    only. `memory_limit` (DuckDB syntax, e.g. "1GB"): when the connection runs
    with DuckDB's default limit (80% of RAM), the limit for this write, reset to the
    default afterwards; a limit the deployment configured is left alone. DuckDB holds
    an uncommitted insert in memory up to its limit: 6M findings took 3.4 GB
    unbounded and 1.1 GB under "1GB" (spilling to its temp directory, ~40% slower).
    Returns the number of rows written.
    """
    spec = stored_contract(table)
    files = [str(p) for p in paths]
    if files:
        described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [files]).fetchall()
        check_columns(spec, {row[0]: row[1] for row in described})
    create_table(con, spec)
    clauses = [f'"{column}" = ?' for column in where or {}]
    params = list((where or {}).values())
    condition = " AND ".join(clauses) if clauses else "TRUE"
    quoted = ", ".join(f'"{column}"' for column in order_by)
    order = f" ORDER BY {quoted}" if order_by else ""
    capped = memory_limit is not None and _memory_limit(con) == _default_memory_limit()
    if capped:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    try:
        with transaction(con):
            con.execute(f'DELETE FROM "{table}" WHERE {condition}', params)
            written = 0
            if files:
                found = con.execute(
                    f'INSERT INTO "{table}" BY NAME SELECT * FROM read_parquet(?){order}', [files]
                ).fetchall()
                written = int(found[0][0])
                check_key(con, spec, "SELECT * FROM read_parquet(?)", [files])
    finally:
        if capped:
            con.execute("RESET memory_limit")
    return written


def _memory_limit(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0])


def _default_memory_limit() -> str:
    """DuckDB's default limit on this machine, as it reports it (a fresh in-memory
    database has it)."""
    fresh = duckdb.connect()
    try:
        return _memory_limit(fresh)
    finally:
        fresh.close()


def read_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    where: str = "TRUE",
    params: list[Any] | None = None,
    schema: pl.Schema | None = None,
) -> pl.DataFrame:
    """Rows of `table` (an empty frame of `schema` when the table does not exist yet)."""
    if not table_exists(con, table):
        return pl.DataFrame(schema=schema or {})
    return con.sql(f'SELECT * FROM "{table}" WHERE {where}', params=params or None).pl()
