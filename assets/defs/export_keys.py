"""One asset check per exported table: its contract's unique key holds across every file.

The ERP and the carriers read the exports, not the warehouse, so the check reads the
exported Parquet files themselves (storage.exports.export_key_duplicates), all partitions
of the table at once: a row sent twice, in two files or twice in one, fails it. The checks
are made from the contracts (`EXPORTED_TABLES`, each table's `key`) by one factory and
attached to the asset that writes the table's files; a failed check is an ERROR, which
`reckon run` reports with exit code 3 (reckon/exit_codes.py).
"""

from __future__ import annotations

import dagster as dg

from assets.defs.costing import INVENTORY_CHECK_OUTPUTS, RESTATEMENT_EXPORTS
from assets.defs.profit import EXPORTED as PROFIT_EXPORTED
from assets.metadata import preview_table
from assets.resources import ReckonResource
from pipelines.contracts import EXPORTED_TABLES
from pipelines.contracts.spec import TableContract
from runs.costing import CHANGE_ROW_TABLES, DAILY_OUTPUTS
from runs.reconciliation import PERIOD_OUTPUTS
from storage.exports import export_key_duplicates

WRITTEN_BY: dict[str, tuple[str, ...]] = {
    "costing_exports": (
        *(t for t in DAILY_OUTPUTS if t not in CHANGE_ROW_TABLES),
        *INVENTORY_CHECK_OUTPUTS,
        "inventory_valuation",
        "stock_ageing",
        *RESTATEMENT_EXPORTS,
    ),
    "reconciliation_exports": tuple(PERIOD_OUTPUTS),
    "order_logistics_cost": ("order_logistics_cost", "unpriceable_shipments"),
    "profit_exports": PROFIT_EXPORTED,
}
"""The asset writing each exported table's files (tests/assets checks it covers them all)."""


def check_name(table: str) -> str:
    return f"{table}_unique_key"


def export_key_check(asset: str, table: TableContract) -> dg.AssetChecksDefinition:
    """The check that `table`'s exported files hold its key once per row."""
    key = table.key
    shown = ", ".join(key)

    @dg.asset_check(
        asset=asset,
        name=check_name(table.name),
        description=f"exports/{table.name}/: no ({shown}) occurs twice across its files.",
    )
    def _check(reckon: ReckonResource) -> dg.AssetCheckResult:
        found = export_key_duplicates(reckon.layout.exports_dir, table.name, key)
        return dg.AssetCheckResult(
            passed=found.duplicated_keys == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "key": shown,
                "files": found.files,
                "rows": found.rows,
                "duplicated_keys": found.duplicated_keys,
                "first_duplicates": preview_table(found.duplicates, 20),
            },
        )

    return _check


def export_key_checks() -> list[dg.AssetChecksDefinition]:
    """A key check for every exported table that declares a key (costing_journal_lines is a
    line list and declares none: its totals, costing_journals, have one)."""
    tables = {t.name: t for t in EXPORTED_TABLES}
    return [
        export_key_check(asset, tables[name])
        for asset, names in WRITTEN_BY.items()
        for name in names
        if tables[name].key
    ]


key_checks = export_key_checks()
