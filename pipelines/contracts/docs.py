"""Render docs/data-contracts.md from the contracts, so the document cannot drift from the code.

`uv run python -m pipelines.contracts.docs > docs/data-contracts.md` rewrites it;
a test fails when the committed file differs from what this renders.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.contracts import ALL_TABLES, DAILY_TABLES, REFERENCE_TABLES
from pipelines.contracts.spec import Column, TableContract

INTRO = (Path(__file__).parent / "data-contracts-intro.md").read_text(encoding="utf-8")


def _type_name(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Decimal):
        return f"decimal({dtype.precision},{dtype.scale})"
    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    names = {pl.String: "text", pl.Int64: "whole number", pl.Date: "date", pl.Boolean: "true/false"}
    for polars_type, name in names.items():
        if dtype == polars_type:
            return name
    return str(dtype)


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
    lines = [f"### `{contract.name}`", "", contract.description, ""]
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
    lines.append("")
    return "\n".join(lines)


def render() -> str:
    intro = INTRO.format(
        reference=", ".join(f"`{t.name}`" for t in REFERENCE_TABLES),
        daily=", ".join(f"`{t.name}`" for t in DAILY_TABLES),
    )
    inputs = {t.name for t in REFERENCE_TABLES + DAILY_TABLES}
    sections = [intro, "## Inputs\n"]
    sections += [render_table(t) for t in ALL_TABLES if t.name in inputs]
    sections.append("## Produced by reckon\n")
    sections += [render_table(t) for t in ALL_TABLES if t.name not in inputs]
    return "\n".join(sections).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
