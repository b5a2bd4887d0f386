"""The shape of a table contract: columns, types, required columns, keys, enums.

A contract is data, not code, so the loader, the warehouse (which creates every
table from its contract), the docs and the tests all read the same declaration
(docs/data-contracts.md is checked against it by a test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
"""1-based record number as a spreadsheet shows it (CSV header is row 1) or Parquet row index."""
LOAD_DATE = "_load_date"


@dataclass(frozen=True)
class Column:
    name: str
    dtype: PolarsDataType
    required: bool = True
    description: str = ""
    enum: tuple[str, ...] | None = None
    positive: bool = False
    """Values must be > 0 (quantities of a movement, parcels)."""
    non_negative: bool = False


@dataclass(frozen=True)
class ForeignKey:
    """Rows must find a match in another table (a warehouse that exists, and is the company's)."""

    columns: tuple[str, ...]
    table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class RowRule:
    """A rule across columns of one row, as a Polars expression that is True where it is broken.

    Kept as data beside the contract so the docs can list it and the loader can
    apply every rule in one set-based pass.
    """

    column: str
    broken_when: pl.Expr
    reason: str


@dataclass(frozen=True)
class TableContract:
    """One table crossing a boundary: an input extract, a warehouse table, an export.

    The name is the table's one name: of the warehouse table (`stored`), of the export
    folder `exports/<name>/` (`exported`), and of its section in docs/data-contracts.md.
    """

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    """Columns whose combination must be unique (an id, or a natural key)."""
    partition_column: str | None = None
    """Date or timestamp column that places a row on a daily partition."""
    daily: bool = False
    """Daily inputs arrive as one file per day, named with the date (YYYY-MM-DD)."""
    foreign_keys: tuple[ForeignKey, ...] = ()
    rules: tuple[RowRule, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    stored: bool = True
    """A warehouse table of this name exists, created from this contract."""
    exported: bool = False
    """Written for the ERP as `exports/<name>/<partition>.csv|parquet`, with these columns."""
    provenance: bool = False
    """Loaded from extracts: the warehouse table adds where each row came from and when
    (DOMAIN.md: "keep provenance of every number")."""

    @property
    def schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.dtype for c in self.columns})

    @property
    def stored_columns(self) -> tuple[Column, ...]:
        """The warehouse table's columns: the contract's, then the provenance ones."""
        if not self.provenance:
            return self.columns
        return (
            *self.columns,
            Column(SOURCE_FILE, pl.String, description="The extract file the row came from."),
            Column(SOURCE_ROW, pl.Int64, description="Its row, as a spreadsheet shows it."),
            Column(
                LOAD_DATE,
                pl.Date,
                required=self.daily,
                description="The load day (the day in the file name); none for reference tables.",
            ),
        )

    @property
    def stored_schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.dtype for c in self.stored_columns})

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def day_column(self) -> str:
        """`partition_column`, for a table that must have one (a daily table, a dated output)."""
        if self.partition_column is None:
            raise ValueError(f"{self.name} has no partition column")
        return self.partition_column

    def day(self) -> pl.Expr:
        """The calendar day of a row (`partition_column` as a Date): what places it on a
        daily partition, and what a late document is dated."""
        return pl.col(self.day_column).cast(pl.Date)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")
