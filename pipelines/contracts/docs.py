"""Render docs/data-contracts.md from the contracts, so the document cannot drift from the code.

`uv run python -m pipelines.contracts.docs > docs/data-contracts.md` rewrites it;
a test fails when the committed file differs from what this renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from pipelines.contracts import ALL_TABLES, CHECKPOINT_TABLES, DAILY_TABLES, REFERENCE_TABLES
from pipelines.contracts.spec import Column, TableContract

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

INTRO = (Path(__file__).parent / "data-contracts-intro.md").read_text(encoding="utf-8")
CHECKPOINTS_INTRO = """## Costing checkpoints (internal)

The state one costing day hands to the next, kept per checkpoint day so a run (or a recost
after a late document) starts from the latest one before its first day. Nobody outside reckon
reads these; they are listed so that every warehouse table has its contract here.
"""


def _type_name(dtype: PolarsDataType) -> str:
    if isinstance(dtype, pl.Decimal):
        return f"decimal({dtype.precision},{dtype.scale})"
    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    names = {
        pl.String: "text",
        pl.Int64: "whole number",
        pl.Int32: "whole number",
        pl.UInt32: "whole number",
        pl.Float64: "ratio (binary float, never money)",
        pl.Date: "date",
        pl.Boolean: "true/false",
    }
    for polars_type, name in names.items():
        if dtype == polars_type:
            return name
    return str(dtype)


def _where(contract: TableContract) -> str:
    """Where the table lives, under its one name."""
    places = []
    if contract.stored:
        places.append(f"warehouse table `{contract.name}`")
    if contract.exported:
        places.append(f"exported as `exports/{contract.name}/<partition>.csv|parquet`")
    text = "; ".join(places)
    return text[:1].upper() + text[1:] + "."


def _constraints(column: Column) -> str:
    parts = []
    if column.enum:
        parts.append("one of " + ", ".join(f"`{v}`" for v in column.enum))
    if column.positive:
        parts.append("> 0")
    if column.non_negative:
        parts.append(">= 0")
    return "; ".join(parts)


def render_table(contract: TableContract) -> str:
    lines = [f"### `{contract.name}`", "", contract.description, "", _where(contract), ""]
    if contract.daily:
        lines += [f"Daily: `{contract.name}/<YYYY-MM-DD>*.csv|parquet`.", ""]
    lines += [
        "| column | type | required | constraints | meaning |",
        "|---|---|---|---|---|",
    ]
    for c in contract.columns:
        required = "yes" if c.required else "no"
        lines.append(
            f"| `{c.name}` | {_type_name(c.dtype)} | {required} | {_constraints(c)} "
            f"| {c.description} |"
        )
    lines.append("")
    if contract.key:
        lines.append("- Unique key: " + ", ".join(f"`{k}`" for k in contract.key))
    for fk in contract.foreign_keys:
        cols = ", ".join(f"`{c}`" for c in fk.columns)
        lines.append(f"- {cols} must exist in `{fk.table}`")
    for rule in contract.rules:
        lines.append(f"- Rule on `{rule.column}`: {rule.reason}")
    for note in contract.notes:
        lines.append(f"- {note}")
    if contract.provenance:
        added = ", ".join(f"`{c.name}`" for c in contract.stored_columns[len(contract.columns) :])
        lines.append(f"- The warehouse table adds {added}: where each row came from, and when.")
    lines.append("")
    return "\n".join(lines)


def render() -> str:
    intro = INTRO.format(
        reference=", ".join(f"`{t.name}`" for t in REFERENCE_TABLES),
        daily=", ".join(f"`{t.name}`" for t in DAILY_TABLES),
    )
    inputs = REFERENCE_TABLES + DAILY_TABLES
    apart = {t.name for t in inputs + CHECKPOINT_TABLES}
    sections = [intro, "## Inputs\n"]
    sections += [render_table(t) for t in inputs]
    sections.append("## Produced by reckon\n")
    sections += [render_table(t) for t in ALL_TABLES if t.name not in apart]
    sections.append(CHECKPOINTS_INTRO)
    sections += [render_table(t) for t in CHECKPOINT_TABLES]
    return "\n".join(sections).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
