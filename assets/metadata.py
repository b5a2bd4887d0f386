"""Turn results into what an analyst reads on an asset's page."""

from __future__ import annotations

from collections.abc import Mapping
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


def log_partition_materializations(
    context: dg.AssetExecutionContext, by_partition: Mapping[str, Metadata]
) -> None:
    """One materialization of the asset per partition, each with its own figures, logged after
    the run's own (a single-run backfill puts that one, with the whole range's metadata, on
    every partition it covers: dagster-io/dagster#18123, #21072). The latest materialization
    of a day or period inside a range then shows what a run of it alone shows, and its numbers
    plot over the partitions. Each carries the run's data and code version tags (read back
    from the run's own materialization), so downstream provenance and staleness stay as
    Dagster recorded them."""
    if not by_partition:
        return
    latest = context.instance.get_latest_materialization_event(context.asset_key)
    materialization = latest.asset_materialization if latest is not None else None
    ours = latest is not None and latest.run_id == context.run.run_id
    tags = materialization.tags if ours and materialization is not None else None
    versions = {k: v for k, v in (tags or {}).items() if k.startswith("dagster/")}
    for partition, metadata in by_partition.items():
        context.log_event(
            dg.AssetMaterialization(
                asset_key=context.asset_key,
                partition=partition,
                metadata=metadata,
                tags=versions or None,
            )
        )
