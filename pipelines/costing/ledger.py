"""Validate and order the movement ledger for one costing range.

Everything the FIFO overlay needs is fixed here: the pool of each movement, its place
in the pool (DOMAIN.md order: occurred_at, inbound before outbound, movement_id), the
functional-currency value of priced inbound movements (pipelines.costing.pricing), late
documents (pipelines.costing.late), and how each TRANSFER_IN and RETURN finds the
movement it depends on (transfer_legs, returns). Bad rows raise a CostingInputError
naming the movements and the reason; nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from pipelines.contracts.inputs import INBOUND_TYPES, MOVEMENT_TYPES
from pipelines.costing.errors import CostingInputError, fail_if
from pipelines.costing.late import late_documents, redate
from pipelines.costing.policy import ALL_WAREHOUSES, POOL_BY_COMPANY, CostingPolicy
from pipelines.costing.pricing import priced_cents, rates_by_day, with_rate
from pipelines.costing.returns import classify_returns
from pipelines.costing.state import CostingState
from pipelines.costing.transfer_legs import drop_internal_transfers, pair_transfers
from pipelines.pools import POOL

REQUIRED = [
    "movement_id",
    "occurred_at",
    "company",
    "warehouse",
    "sku",
    "movement_type",
    "quantity",
    "unit_cost",
    "currency",
    "reference",
]


@dataclass(frozen=True)
class Ledger:
    moves: pl.DataFrame
    """In-range movements with pool, `seq`, `is_in`, `day`, `priced_cents`, `kind`."""
    late: pl.DataFrame
    """Late documents: movement_id, occurred_at (original), posted_at, load_date, redated."""
    flags: pl.DataFrame
    """movement_id, flag, detail: rows costed by a fallback rule."""


def _in_range(movements: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """The range's movements with `day`, refused if any row is unusable."""
    day = pl.col("occurred_at").dt.date()
    mv = movements.filter((day >= start) & (day <= end)).with_columns(day.alias("day"))
    fail_if(mv.filter(~pl.col("movement_type").is_in(MOVEMENT_TYPES)), "unknown movement_type")
    fail_if(
        mv.filter(pl.col("quantity").is_null() | (pl.col("quantity") <= 0)), "quantity must be > 0"
    )
    fail_if(mv.filter(pl.col("movement_id").is_duplicated()), "duplicate movement_id")
    fail_if(mv.filter(pl.col("occurred_at").is_null()), "occurred_at missing")
    return mv


def prepare_ledger(
    movements: pl.DataFrame,
    fx_rates: pl.DataFrame,
    companies: pl.DataFrame,
    state: CostingState,
    window: tuple[date, date],
    policy: CostingPolicy,
) -> Ledger:
    """The movements of `window` (start, end) ordered, classified and priced."""
    missing = [c for c in REQUIRED if c not in movements.columns]
    if missing:
        raise CostingInputError(f"movements: missing columns {missing}")
    start, end = window
    mv = _in_range(redate(movements, start, policy), start, end)
    mv = mv.join(companies.select("company", "functional_currency"), on="company", how="left")
    fail_if(
        mv.filter(pl.col("functional_currency").is_null()),
        "company not in companies",
        ["movement_id", "company"],
    )
    late = late_documents(mv)
    if policy.pool == POOL_BY_COMPANY:
        mv = drop_internal_transfers(movements, mv).with_columns(
            pl.lit(ALL_WAREHOUSES).alias("warehouse")
        )
    mv = mv.with_columns(pl.col("movement_type").is_in(INBOUND_TYPES).alias("is_in"))
    mv = mv.sort([*POOL, "occurred_at", pl.col("is_in").not_(), "movement_id"]).with_row_index(
        "seq"
    )
    mv = mv.with_columns(pl.col("seq").cast(pl.Int64))
    mv, transfer_flags = pair_transfers(mv, state)
    mv, return_flags = classify_returns(mv, state)
    mv = _price(mv.with_columns(_inbound_kind().alias("kind")), fx_rates)
    return Ledger(mv, late, pl.concat([transfer_flags, return_flags, _reference_cost_flags(mv)]))


def _inbound_kind() -> pl.Expr:
    """How each inbound is valued: PRICED (its own cost), RETURN (its issue's), TRANSFER
    (the slices it carries) or REF (the pool's reference unit cost); OUT for outbounds."""
    t = pl.col("movement_type")
    has_cost = pl.col("unit_cost").is_not_null()
    return (
        pl.when(~pl.col("is_in"))
        .then(pl.lit("OUT"))
        .when(t == "RECEIPT")
        .then(pl.lit("PRICED"))
        .when((t == "RETURN") & pl.col("return_source").is_not_null())
        .then(pl.lit("RETURN"))
        .when((t == "TRANSFER_IN") & (pl.col("transfer_kind") == "TRANSFER"))
        .then(pl.lit("TRANSFER"))
        .when((t == "TRANSFER_IN") & (pl.col("transfer_kind") == "INTERCOMPANY") & has_cost)
        .then(pl.lit("PRICED"))
        .when((t == "ADJUST_GAIN") & has_cost)
        .then(pl.lit("PRICED"))
        .otherwise(pl.lit("REF"))
    )


def _price(mv: pl.DataFrame, fx_rates: pl.DataFrame) -> pl.DataFrame:
    """`mv` + priced_cents: priced inbound movements in functional currency."""
    fail_if(
        mv.filter((pl.col("movement_type") == "RECEIPT") & pl.col("unit_cost").is_null()),
        "RECEIPT without unit_cost",
    )
    priced = mv.filter(pl.col("kind") == "PRICED")
    fail_if(priced.filter(pl.col("currency").is_null()), "priced movement without currency")
    priced = with_rate(priced, rates_by_day(fx_rates))
    fail_if(
        priced.filter(pl.col("rate").is_null()),
        "no fx rate for the document date",
        ["movement_id", "day", "currency", "functional_currency"],
    )
    priced = priced.select(
        "movement_id",
        priced_cents(pl.col("quantity"), pl.col("unit_cost"), pl.col("rate")).alias("priced_cents"),
    )
    return mv.join(priced, on="movement_id", how="left")


def _reference_cost_flags(mv: pl.DataFrame) -> pl.DataFrame:
    """Gains without a stated cost, and intercompany transfer-ins without a transfer price,
    valued at the pool's reference unit cost (docs/costing.md, "Transfers")."""
    ref = mv.filter(pl.col("kind") == "REF")
    gains = ref.filter(pl.col("movement_type") == "ADJUST_GAIN").select(
        "movement_id",
        pl.lit("GAIN_AT_REFERENCE_COST").alias("flag"),
        pl.lit("valued at the pool's reference unit cost").alias("detail"),
    )
    unpriced = ref.filter(pl.col("transfer_kind") == "INTERCOMPANY").select(
        "movement_id",
        pl.lit("INTERCOMPANY_WITHOUT_PRICE").alias("flag"),
        pl.format(
            "intercompany transfer-in from {} without a transfer price (unit_cost); "
            "valued at the pool's reference unit cost",
            pl.col("src_company"),
        ).alias("detail"),
    )
    return pl.concat([gains, unpriced])
