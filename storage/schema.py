"""Warehouse tables from their contracts, and the checks every write passes.

Every table in the warehouse is created from its contract (pipelines/contracts):
the contract's column types, NOT NULL on its required columns. Its key is checked
on every write rather than declared as a PRIMARY KEY or UNIQUE constraint: DuckDB
backs those with an ART index, and replacing a 1M-row slice of a 10M-row table went
from ~1 s to ~12 s with one (the file 5x larger), while the check, one semi join of
the incoming keys against the table, adds ~0.6 s. A frame or file whose columns or
types do not fit the contract is refused before anything is written, with the table
and the column named, so a wrong type is never cast silently (a decimal rounded, a
date parsed from text).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import polars as pl

from pipelines.contracts import contract
from pipelines.contracts.spec import TableContract

if TYPE_CHECKING:
    from polars._typing import PolarsDataType


class ContractViolation(ValueError):
    """A write that does not fit its table's contract."""


def duckdb_type(dtype: PolarsDataType) -> str:
    """DuckDB column type for a Polars type (money stays DECIMAL)."""
    if isinstance(dtype, pl.Decimal):
        return f"DECIMAL({dtype.precision},{dtype.scale})"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMP"
    simple = {
        pl.String: "VARCHAR",
        pl.Int64: "BIGINT",
        pl.Int32: "INTEGER",
        pl.Int16: "SMALLINT",
        pl.Int8: "TINYINT",
        pl.UInt64: "UBIGINT",
        pl.UInt32: "UINTEGER",
        pl.UInt16: "USMALLINT",
        pl.UInt8: "UTINYINT",
        pl.Boolean: "BOOLEAN",
        pl.Date: "DATE",
        pl.Float64: "DOUBLE",
        pl.Float32: "FLOAT",
    }
    for polars_type, sql in simple.items():
        if dtype == polars_type:
            return sql
    raise TypeError(f"no DuckDB type for {dtype}")


def stored_contract(table: str) -> TableContract:
    """The contract the warehouse table `table` is created from: every table has one."""
    try:
        spec = contract(table)
    except KeyError as exc:
        raise ContractViolation(f"no warehouse table {table!r}: {exc.args[0]}") from None
    if not spec.stored:
        raise ContractViolation(f"{table} is not a warehouse table (its contract: stored=False)")
    return spec


def table_ddl(spec: TableContract) -> str:
    columns = ", ".join(
        f'"{c.name}" {duckdb_type(c.dtype)}{" NOT NULL" if c.required else ""}'
        for c in spec.stored_columns
    )
    return f'CREATE TABLE IF NOT EXISTS "{spec.name}" ({columns})'


def create_table(con: duckdb.DuckDBPyConnection, spec: TableContract) -> None:
    """Create the table from its contract; an existing one must have the contract's columns
    and types, in order (one created before NOT NULL came from contracts is accepted)."""
    found = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE table_name = ? AND database_name = current_database() ORDER BY column_index",
        [spec.name],
    ).fetchall()
    if not found:
        con.execute(table_ddl(spec))
        return
    wanted = [(c.name, duckdb_type(c.dtype)) for c in spec.stored_columns]
    if found != wanted:
        differ = next(
            (f"{w} (found {f})" for w, f in zip(wanted, found, strict=False) if w != f),
            f"{len(wanted)} columns (found {len(found)})",
        )
        raise ContractViolation(
            f"warehouse table {spec.name} does not match its contract: expected column {differ}; "
            "rebuild the warehouse (rerun the load and the runs) after a contract change"
        )


def check_columns(spec: TableContract, found: dict[str, str]) -> None:
    """`found` (column -> DuckDB type) must be exactly the contract's stored columns."""
    wanted = {c.name: duckdb_type(c.dtype) for c in spec.stored_columns}
    missing = [c for c in wanted if c not in found]
    if missing:
        raise ContractViolation(f"{spec.name}: missing column(s) {', '.join(missing)}")
    extra = [c for c in found if c not in wanted]
    if extra:
        raise ContractViolation(f"{spec.name}: column(s) not in its contract: {', '.join(extra)}")
    for name, sql in wanted.items():
        if found[name] != sql:
            raise ContractViolation(
                f"{spec.name}.{name}: type {found[name]}, its contract says {sql}"
            )


def check_frame(spec: TableContract, frame: pl.DataFrame) -> None:
    """A frame fits the contract: its columns and types, and a value in every required column."""
    found: dict[str, str] = {}
    for name, dtype in frame.schema.items():
        try:
            found[name] = duckdb_type(dtype)
        except TypeError:
            found[name] = str(dtype)
    check_columns(spec, found)
    required = [c.name for c in spec.stored_columns if c.required]
    if frame.height and required:
        nulls = frame.select(pl.col(required).null_count()).row(0, named=True)
        missing = {name: n for name, n in nulls.items() if n}
        if missing:
            name, n = next(iter(missing.items()))
            raise ContractViolation(f"{spec.name}.{name}: required, but {n} row(s) have no value")


def check_key(con: duckdb.DuckDBPyConnection, spec: TableContract, incoming: str, params) -> None:
    """After a write, inside its transaction: no key of the incoming rows (`incoming`, a
    query giving at least the key columns) occurs twice in the table, whether twice among
    them or once among them and once in the rows the write kept."""
    if not spec.key:
        return
    keys = ", ".join(f'"{k}"' for k in spec.key)
    # a key column that may be empty (costing_cogs.landed_cost_id) counts empty as one value,
    # as GROUP BY does: `=` (and USING) would let two rows with an empty key part through
    required = {c.name for c in spec.columns if c.required}
    same = " AND ".join(
        f'stored."{k}" {"=" if k in required else "IS NOT DISTINCT FROM"} incoming."{k}"'
        for k in spec.key
    )
    found = con.execute(
        f'SELECT {keys}, count(*) FROM "{spec.name}" AS stored SEMI JOIN ({incoming}) AS incoming '
        f"ON {same} GROUP BY ALL HAVING count(*) > 1 LIMIT 1",
        params,
    ).fetchall()
    if found:
        *values, count = found[0]
        shown = ", ".join(f"{k}={v!r}" for k, v in zip(spec.key, values, strict=True))
        raise ContractViolation(f"{spec.name}: key ({shown}) would occur {count} times")
