"""Turn results into what an analyst reads on an asset's page."""

from __future__ import annotations

from typing import TypeAlias

import dagster as dg
import polars as pl

Metadata: TypeAlias = dict[str, dg.MetadataValue | str | int | float | None]
"""An asset's (or a check's) metadata: Dagster's own values, or the plain ones it shows as
text and numbers (a Decimal is not one of them: pass it as text)."""


def markdown_table(frame: pl.DataFrame, limit: int = 20) -> dg.MetadataValue:
    """A small Markdown preview; the full data is in the warehouse and the exports."""
    if frame.is_empty():
        return dg.MetadataValue.md("_no rows_")
    shown = frame.head(limit)
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    rows = [
        "| " + " | ".join("" if v is None else str(v).replace("|", "\\|") for v in row) + " |"
        for row in shown.iter_rows()
    ]
    more = [f"\n_{frame.height - limit} more rows_"] if frame.height > limit else []
    return dg.MetadataValue.md("\n".join([header, rule, *rows, *more]))
