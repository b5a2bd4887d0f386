"""Output tables of the costing engine (issue 3) and the T-1 inventory check, declared once
like the inputs.

Money is Decimal(18, 2) in the company's functional currency; quantities Int64. Per-day
figures that would be huge as daily snapshots (valuation, ageing) are stored as change rows:
a pool's row holds from its `day` until the pool's next row; the exports
`inventory_valuation` and `stock_ageing` are the full reports of a day, built from them
(`CostingResult.valuation_on(day)` and `ageing_on(day)` give the same in memory).
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts import types as t
from pipelines.contracts.spec import Column, TableContract

POOL_COLUMNS = (
    Column("company", t.ID),
    Column(
        "warehouse", t.ID, description="Warehouse, `IN_TRANSIT:<company>`, or `*` (company pool)."
    ),
    Column("sku", t.ID),
)
COGS_KINDS = ("COST", "TRUE_UP", "LANDED_COST", "CLOSED_PERIOD_ADJUSTMENT")

COSTING_COGS = TableContract(
    name="costing_cogs",
    description=(
        "Cost per outbound movement (kind COST, on its day), true-ups of provisional "
        "shortfall cost (TRUE_UP, on the day of the inbound that served it), landed cost "
        "on units already gone (LANDED_COST, per receipt line, on the posting day) and the "
        "change of a movement's COGS over a corrected closed period "
        "(CLOSED_PERIOD_ADJUSTMENT, on the first open day)."
    ),
    columns=(
        Column("posting_date", t.DATE),
        *POOL_COLUMNS,
        Column("movement_id", t.ID, description="Outbound movement; receipt line for LANDED_COST."),
        Column("movement_type", t.CODE),
        Column("kind", t.CODE, enum=COGS_KINDS),
        Column(
            "landed_cost_id",
            t.ID,
            required=False,
            description="LANDED_COST: the landed cost expensed (one row per landed cost and "
            "receipt line); empty on COST and TRUE_UP rows.",
        ),
        Column("quantity", t.QUANTITY),
        Column(
            "provisional_qty", t.QUANTITY, description="Units short (negative stock) on COST rows."
        ),
        Column("is_provisional", pl.Boolean),
        Column("is_true_up", pl.Boolean),
        Column("consumed", t.MONEY, description="Cost of the layer slices consumed."),
        Column(
            "provisional", t.MONEY, description="COST: provisional cost P; TRUE_UP: share of P."
        ),
        Column("amount", t.MONEY, description="COST: consumed + P; TRUE_UP: consumed - share."),
    ),
    key=("posting_date", "movement_id", "kind", "landed_cost_id"),
    partition_column="posting_date",
    exported=True,
    notes=(
        "COST rows are one per outbound movement, TRUE_UP rows one per outbound movement and "
        "serving day, LANDED_COST rows one per landed cost and receipt line: two landed costs "
        "expensed on one receipt line on one day are two rows told apart by landed_cost_id.",
    ),
)


COSTING_CONSUMPTION = TableContract(
    name="costing_consumption",
    description=(
        "Traceability: which slice [origin_a, origin_b) of which origin layer each "
        "outbound consumed."
    ),
    columns=(
        Column("posting_date", t.DATE),
        *POOL_COLUMNS,
        Column("movement_id", t.ID),
        Column("movement_type", t.CODE),
        Column(
            "origin_id", t.ID, description="Receipt/return/gain movement, or SHORT:<transfer_out>."
        ),
        Column("origin_kind", t.CODE),
        Column("receipt_date", t.DATE),
        Column("origin_a", t.QUANTITY),
        Column("origin_b", t.QUANTITY),
        Column("quantity", t.QUANTITY),
        Column("served_shortfall", pl.Boolean),
        Column("served_by", t.ID, required=False),
        Column("amount", t.MONEY),
        Column("provisional_share", t.MONEY, required=False),
        Column("true_up", t.MONEY, required=False),
    ),
    key=("posting_date", "movement_id", "origin_id", "origin_a"),
    partition_column="posting_date",
    exported=True,
)

COSTING_OPEN_LAYERS = TableContract(
    name="costing_open_layers",
    description=(
        "Open layer slices at the end of the range, FIFO order per pool (transit: per transfer). "
        "The engine's result in money; the warehouse keeps it in cents as the checkpoint "
        "costing_state_open_layers, so it is no boundary table (not in COSTING_TABLES)."
    ),
    columns=(
        *POOL_COLUMNS,
        Column("position", t.QUANTITY),
        Column("transfer_id", t.ID, required=False),
        Column("transfer_out_id", t.ID, required=False),
        Column("origin_id", t.ID),
        Column("origin_kind", t.CODE),
        Column("receipt_date", t.DATE),
        Column("origin_qty", t.QUANTITY),
        Column("origin_a", t.QUANTITY),
        Column("origin_b", t.QUANTITY),
        Column("quantity", t.QUANTITY, positive=True),
        Column("origin_value", t.MONEY),
        Column("value", t.MONEY, non_negative=True),
    ),
    stored=False,
)

COSTING_VALUATION = TableContract(
    name="costing_valuation",
    description=(
        "Per pool and day with movements: opening + adjustment + in - out = closing (qty and "
        "value)."
    ),
    columns=(
        *POOL_COLUMNS,
        Column("day", t.DATE),
        Column("opening_qty", t.QUANTITY),
        Column("in_qty", t.QUANTITY),
        Column("out_qty", t.QUANTITY),
        Column("closing_qty", t.QUANTITY),
        Column(
            "adjustment_qty",
            t.QUANTITY,
            description="On the first open day of a closed period: the change of the pool's "
            "stock at the close that a correction to the closed days posts; 0 elsewhere.",
        ),
        Column("opening_value", t.MONEY),
        Column("in_value", t.MONEY),
        Column("out_value", t.MONEY),
        Column("closing_value", t.MONEY),
        Column("adjustment_value", t.MONEY, description="The same, in value."),
    ),
    key=("company", "warehouse", "sku", "day"),
    partition_column="day",
)

COSTING_AGEING_CHANGES = TableContract(
    name="costing_ageing_changes",
    description=(
        "Stock ageing as change rows: a (pool, bucket) row holds from its `day` until the next "
        "row of that pool and bucket (a zero row when the bucket empties)."
    ),
    columns=(
        *POOL_COLUMNS,
        Column("bucket", t.CODE, description='"0-30", ..., ">365" (policy.age_buckets).'),
        Column("bucket_no", pl.Int32),
        Column("day", t.DATE),
        Column("quantity", t.QUANTITY),
        Column("value", t.MONEY),
    ),
    key=("company", "warehouse", "sku", "bucket", "day"),
    partition_column="day",
)

INVENTORY_VALUATION = TableContract(
    name="inventory_valuation",
    description=(
        "Full inventory valuation of a day: closing quantity and value of every pool with "
        "stock (from the costing_valuation change rows)."
    ),
    columns=(
        Column("day", t.DATE),
        *POOL_COLUMNS,
        Column("closing_qty", t.QUANTITY),
        Column("closing_value", t.MONEY),
    ),
    key=("day", "company", "warehouse", "sku"),
    partition_column="day",
    stored=False,
    exported=True,
)

STOCK_AGEING = TableContract(
    name="stock_ageing",
    description=(
        "Stock ageing of a day: open quantity and value per pool and age bucket (from the "
        "costing_ageing_changes rows)."
    ),
    columns=(
        Column("day", t.DATE),
        *POOL_COLUMNS,
        Column("bucket_no", pl.Int32),
        Column("bucket", t.CODE, description='"0-30", ..., ">365" (policy.age_buckets).'),
        Column("quantity", t.QUANTITY),
        Column("value", t.MONEY),
    ),
    key=("day", "company", "warehouse", "sku", "bucket"),
    partition_column="day",
    stored=False,
    exported=True,
)

COSTING_JOURNALS = TableContract(
    name="costing_journals",
    description="ERP journal per day and company; debits equal credits per day and company.",
    columns=(
        Column("posting_date", t.DATE),
        Column("company", t.ID),
        Column("account", t.CODE),
        Column("category", t.CODE),
        Column("debit", t.MONEY, non_negative=True),
        Column("credit", t.MONEY, non_negative=True),
    ),
    key=("posting_date", "company", "account", "category"),
    partition_column="posting_date",
    exported=True,
)

COSTING_JOURNAL_LINES = TableContract(
    name="costing_journal_lines",
    description=(
        "The journal's lines per movement, signed (+ debit, - credit); summed per day, company, "
        "account and category they are costing_journals."
    ),
    columns=(
        Column("posting_date", t.DATE),
        Column("company", t.ID),
        Column("account", t.CODE),
        Column("category", t.CODE),
        Column("movement_id", t.ID, description="Movement, or receipt line for landed cost."),
        Column("amount", t.MONEY, description="Debit > 0, credit < 0; never 0."),
    ),
    partition_column="posting_date",
    exported=True,
    notes=("No unique key: a line list, its totals are costing_journals.",),
)

COSTING_LANDED_COST_ALLOCATIONS = TableContract(
    name="costing_landed_cost_allocations",
    description="Each landed cost's share per receipt line (cumulative rounding by movement_id).",
    columns=(
        Column("landed_cost_id", t.ID),
        Column("movement_id", t.ID),
        Column("basis", t.CODE),
        Column("posting_date", t.DATE),
        *POOL_COLUMNS,
        Column("amount", t.MONEY),
    ),
    key=("landed_cost_id", "movement_id"),
    partition_column="posting_date",
    exported=True,
)

COSTING_FLAGS = TableContract(
    name="costing_flags",
    description="Movements costed by a fallback rule or worth a look (provisional, late...).",
    columns=(
        Column("movement_id", t.ID),
        Column("flag", t.CODE),
        Column("detail", t.TEXT),
        Column("day", t.DATE, description="The movement's day (the run adds it to the engine's)."),
    ),
    key=("day", "movement_id", "flag"),
    partition_column="day",
    exported=True,
)

COSTING_LATE_DOCUMENTS = TableContract(
    name="costing_late_documents",
    description=(
        "Documents loaded after their own day (DOMAIN.md, late documents): recosted from "
        "their day, or re-dated into the first open day of a closed period."
    ),
    columns=(
        Column("movement_id", t.ID, description="Movement or landed cost."),
        Column("occurred_at", t.TIMESTAMP, description="Its own (original) time."),
        Column("posted_at", t.TIMESTAMP, description="When it was costed (re-dated or not)."),
        Column("load_date", t.DATE, required=False, description="The load day that brought it."),
        Column("redated", pl.Boolean, description="Moved into the first open day."),
        Column("day", t.DATE, description="posted_at's day."),
    ),
    key=("day", "movement_id"),
    partition_column="day",
    exported=True,
)

COSTING_RUNS = TableContract(
    name="costing_runs",
    description=(
        "One row per costing run: the days asked for, and the days computed (earlier when a "
        "late document made it recost); the exports rewrite the recosted days too."
    ),
    columns=(
        Column("run_id", t.ID, description="The Dagster run."),
        Column("requested_start", t.DATE),
        Column("requested_end", t.DATE),
        Column("computed_start", t.DATE),
        Column("computed_end", t.DATE),
        Column("late_from", t.DATE, required=False, description="Earliest late document's day."),
    ),
    key=("run_id",),
)

COSTING_QUARANTINE = TableContract(
    name="costing_quarantine",
    description=(
        "Documents the costing could not cost (no FX rate for their date, transfer legs that "
        "disagree...), left out of their day with the reason; the rest of the day is costed. "
        "Once the input is fixed, recosting from the day brings them in."
    ),
    columns=(
        Column("day", t.DATE, description="The document's day (posting day of a landed cost)."),
        Column("table", t.CODE, description="The input table: movements or landed_costs."),
        Column("document_id", t.ID, description="movement_id or landed_cost_id."),
        Column("reason", t.TEXT, description="`<code>: <detail>` (pipelines.costing.refusals)."),
        Column("file", t.TEXT, required=False, description="The extract the row came from."),
        Column("row", t.QUANTITY, required=False, description="Its row there (header is 1)."),
    ),
    key=("day", "table", "document_id"),
    partition_column="day",
)

INVENTORY_DISCREPANCIES = TableContract(
    name="inventory_discrepancies",
    description="Computed end-of-day quantity vs the WMS snapshot, every row that differs.",
    columns=(
        Column("snapshot_date", t.DATE),
        Column("warehouse", t.ID),
        Column("sku", t.ID),
        Column("computed_qty", t.QUANTITY),
        Column("snapshot_qty", t.QUANTITY),
        Column("difference", t.QUANTITY),
    ),
    key=("snapshot_date", "warehouse", "sku"),
    partition_column="snapshot_date",
    exported=True,
)

INVENTORY_ACCURACY = TableContract(
    name="inventory_accuracy",
    description=(
        "Share of (warehouse, sku) rows whose computed quantity matches the WMS snapshot, per "
        "day and warehouse (the `snapshot_accuracy` check compares it with its threshold)."
    ),
    columns=(
        Column("snapshot_date", t.DATE),
        Column("warehouse", t.ID),
        Column("rows", pl.UInt32, description="Rows compared (stock on either side)."),
        Column("matching", pl.UInt32),
        Column("accuracy", pl.Float64, description="matching / rows, a ratio (not money)."),
    ),
    key=("snapshot_date", "warehouse"),
    partition_column="snapshot_date",
    exported=True,
)

COSTING_TABLES = (
    COSTING_COGS,
    COSTING_CONSUMPTION,
    COSTING_VALUATION,
    COSTING_AGEING_CHANGES,
    INVENTORY_VALUATION,
    STOCK_AGEING,
    COSTING_JOURNALS,
    COSTING_JOURNAL_LINES,
    COSTING_LANDED_COST_ALLOCATIONS,
    COSTING_FLAGS,
    COSTING_LATE_DOCUMENTS,
    COSTING_RUNS,
    COSTING_QUARANTINE,
    INVENTORY_DISCREPANCIES,
    INVENTORY_ACCURACY,
)
