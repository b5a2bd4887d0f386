"""Input rows and files the loader refused, kept with the reason (DOMAIN.md: "never lose a
row, explain every exclusion").

Both tables are replaced per (table, partition), the slice a rerun of a load replaces;
a partition is a load day (`YYYY-MM-DD`) or `reference` for a reference table.
"""

from __future__ import annotations

from pipelines.contracts import types as t
from pipelines.contracts.spec import Column, TableContract

QUARANTINE_ROWS = TableContract(
    name="quarantine_rows",
    description=(
        "Every input row that broke its contract, with all its reasons and its original values "
        "(also written as `quarantine/inputs/<table>/<partition>.csv`)."
    ),
    columns=(
        Column("table", t.CODE, description="The input table."),
        Column("load_date", t.DATE, required=False, description="None for reference tables."),
        Column("file", t.TEXT),
        Column("row", t.QUANTITY, description="As a spreadsheet shows it (header is row 1)."),
        Column("reasons", t.TEXT, description="`column: reason`, one per broken rule."),
        Column("record", t.TEXT, description="The row's original values, as JSON."),
        Column("partition", t.CODE, description="Load day, or `reference`."),
    ),
    key=("table", "partition", "file", "row"),
)

QUARANTINE_FILES = TableContract(
    name="quarantine_files",
    description="Input files rejected whole: unreadable, not UTF-8, or lacking a required column.",
    columns=(
        Column("table", t.CODE),
        Column("partition", t.CODE, description="Load day, or `reference`."),
        Column("file", t.TEXT),
        Column("reason", t.TEXT),
    ),
    key=("table", "partition", "file"),
)

QUARANTINE_TABLES: tuple[TableContract, ...] = (QUARANTINE_ROWS, QUARANTINE_FILES)
