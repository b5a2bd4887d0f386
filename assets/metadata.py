"""Turn results into what an analyst reads on an asset's page."""

from __future__ import annotations

from typing import TypeAlias

import dagster as dg
import polars as pl

from pipelines.contracts.spec import TableContract

Metadata: TypeAlias = dict[str, dg.MetadataValue | str | int | float | None]
"""An asset's (or a check's) metadata: Dagster's own values, or the plain ones it shows as
text and numbers (a Decimal is not one of them: pass it as text)."""


OWNERS = ["team:finance"]
"""Who answers for every asset: the finance team (shown on each asset's page)."""


def asset_tags(domain: str) -> dict[str, str]:
    """Tags an analyst filters the asset catalogue by."""
    return {"domain": domain}


def column_schema(contract: TableContract) -> dict[str, dg.TableSchema]:
    """`dagster/column_schema` from a data contract: the UI's column list is the contract's
    (pipelines/contracts, the warehouse schema), with each column's type and description."""
    columns = [
        dg.TableColumn(
            name=c.name,
            type=str(c.dtype),
            description=c.description or None,
            constraints=dg.TableColumnConstraints(nullable=not c.required),
        )
        for c in contract.columns
    ]
    return {"dagster/column_schema": dg.TableSchema(columns=columns)}


def preview_table(frame: pl.DataFrame, limit: int = 20) -> dg.MetadataValue:
    """The first `limit` rows as a Dagster table (sortable columns in the UI). Money and dates
    are shown as their exact text (a Decimal is never turned into a float here)."""
    shown = frame.head(limit)
    exact = shown.with_columns(
        pl.col(name).cast(pl.String)
        for name, dtype in shown.schema.items()
        if not (dtype.is_integer() or dtype.is_float() or dtype == pl.Boolean)
    )
    schema = dg.TableSchema(
        columns=[dg.TableColumn(name, str(dtype)) for name, dtype in shown.schema.items()]
    )
    records = [dg.TableRecord(row) for row in exact.iter_rows(named=True)]
    return dg.MetadataValue.table(records=records, schema=schema)


def money_by_company(
    frame: pl.DataFrame, name: str, amount: str = "amount", *, exact_text: bool = True
) -> dict[str, dg.MetadataValue]:
    """One number per company in its functional currency (`<name> CN01 (CNY)`), never a sum
    across currencies: `frame` holds company, currency and `amount` (Decimal) per company.
    Each is a float so the UI plots it over partitions, with the exact Decimal text beside
    it (`exact_text`; off where a table on the same page already shows the exact figure)."""
    meta: dict[str, dg.MetadataValue] = {}
    for company, currency, value in frame.select("company", "currency", amount).iter_rows():
        label = f"{name} {company} ({currency})"
        meta[label] = dg.MetadataValue.float(float(value))
        if exact_text:
            meta[f"{label} exact"] = dg.MetadataValue.text(str(value))
    return meta
