"""Double-entry journals from the inventory postings, per day and company.

Each inventory posting moves value in or out of an inventory account (INVENTORY, or
INVENTORY_IN_TRANSIT for the company's in-transit location); its counterpart is the
account the DOMAIN.md rule names: receipts against goods received not invoiced, issues
and their true-ups to COGS, stocktake losses and gains to their own accounts, landed cost
to the landed-cost accrual. A transfer's two inventory postings are each other's
counterpart. Every posting yields lines summing to zero, so each day and company balances
by construction; `journal_balance_violations` checks it anyway.
"""

from __future__ import annotations

import polars as pl

from pipelines.money import cents_to_money
from pipelines.pools import is_transit

ACCOUNTS = {
    "RECEIPT": "GOODS_RECEIVED_NOT_INVOICED",
    "RETURN": "COGS",
    "ADJUST_GAIN": "INVENTORY_GAIN",
    "TRANSFER_IN_UNMATCHED": "INVENTORY_GAIN",
    "TRANSFER_IN_INTERCOMPANY": "INTERCOMPANY_PAYABLE",
    "TRANSFER_OUT_INTERCOMPANY": "INTERCOMPANY_COST_OF_TRANSFERS",
    "ISSUE": "COGS",
    "ADJUST_LOSS": "INVENTORY_LOSS",
    "LANDED_COST_CAPITALISED": "LANDED_COST_ACCRUAL",
}
"""Counter account per posting category; transfer legs have none (they pair up)."""

TRUE_UP_ACCOUNTS = {
    "ISSUE": "COGS",
    "ADJUST_LOSS": "INVENTORY_LOSS",
    "TRANSFER_OUT": "INVENTORY_VARIANCE",
}
"""Where a true-up of a provisional shortfall cost lands, by the outbound's type."""

LINE_COLUMNS = ["posting_date", "company", "account", "category", "movement_id", "amount_cents"]


def journal_lines(
    postings: pl.DataFrame, expensed_landed_cost: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One signed line per posting side (+ debit, - credit), in cents.

    `expensed_landed_cost`: posting_date, company, movement_id, amount_cents: landed cost
    on units already gone, a COGS adjustment against the landed-cost accrual.
    """
    inv_account = (
        pl.when(is_transit(pl.col("warehouse")))
        .then(pl.lit("INVENTORY_IN_TRANSIT"))
        .otherwise(pl.lit("INVENTORY"))
    )
    inventory = postings.select(
        "posting_date",
        "company",
        inv_account.alias("account"),
        "category",
        "movement_id",
        pl.col("value_cents").alias("amount_cents"),
    )
    counter_account = (
        pl.when(pl.col("category") == "TRUE_UP")
        .then(pl.col("movement_type").replace_strict(TRUE_UP_ACCOUNTS, default=None))
        .otherwise(pl.col("category").replace_strict(ACCOUNTS, default=None))
    )
    counter = postings.with_columns(counter_account.alias("account")).filter(
        pl.col("account").is_not_null()
    )
    counter = counter.select(
        "posting_date",
        "company",
        "account",
        "category",
        "movement_id",
        (-pl.col("value_cents")).alias("amount_cents"),
    )
    frames = [inventory, counter]
    if expensed_landed_cost is not None and expensed_landed_cost.height:
        e = expensed_landed_cost
        frames += [
            e.select(
                "posting_date",
                "company",
                pl.lit("COGS").alias("account"),
                pl.lit("LANDED_COST_EXPENSED").alias("category"),
                "movement_id",
                "amount_cents",
            ),
            e.select(
                "posting_date",
                "company",
                pl.lit("LANDED_COST_ACCRUAL").alias("account"),
                pl.lit("LANDED_COST_EXPENSED").alias("category"),
                "movement_id",
                (-pl.col("amount_cents")).alias("amount_cents"),
            ),
        ]
    return pl.concat([f.select(LINE_COLUMNS) for f in frames]).filter(pl.col("amount_cents") != 0)


def journals(lines: pl.DataFrame) -> pl.DataFrame:
    """posting_date, company, account, category, debit, credit (Decimal), for the ERP."""
    agg = lines.group_by("posting_date", "company", "account", "category").agg(
        pl.col("amount_cents").clip(lower_bound=0).sum().alias("debit_cents"),
        (-pl.col("amount_cents")).clip(lower_bound=0).sum().alias("credit_cents"),
    )
    return agg.sort("posting_date", "company", "category", "account").select(
        "posting_date",
        "company",
        "account",
        "category",
        cents_to_money("debit_cents").alias("debit"),
        cents_to_money("credit_cents").alias("credit"),
    )
