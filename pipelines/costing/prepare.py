"""Validate and order the movement ledger for one costing range.

Everything the FIFO overlay needs is fixed here: the pool of each movement, its place
in the pool (DOMAIN.md order: occurred_at, inbound before outbound, movement_id), the
functional-currency value of priced inbound movements (quantity x unit cost x fx of
the document date, rounded half-up to the cent once), late documents, and how each
TRANSFER_IN and RETURN finds the movement it depends on. Bad rows raise a ValueError
naming the movements and the reason; nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

import polars as pl

from pipelines.contracts.inputs import INBOUND_TYPES, MOVEMENT_TYPES
from pipelines.costing.policy import ALL_WAREHOUSES, POOL_BY_COMPANY, CostingPolicy
from pipelines.costing.state import POOL, CostingState

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
FX_SCALE = 10**8
UNIT_COST_SCALE = 10**6


class CostingInputError(ValueError):
    """A costing input row is unusable; the message names the rows and the reason."""


def _fail_if(frame: pl.DataFrame, reason: str, cols: list[str] | None = None) -> None:
    if frame.height:
        cols = cols or ["movement_id"]
        shown = frame.select(cols).head(10).rows()
        more = f" (and {frame.height - 10} more)" if frame.height > 10 else ""
        raise CostingInputError(f"movements: {reason}: {shown}{more}")


@dataclass(frozen=True)
class Prepared:
    moves: pl.DataFrame
    """In-range movements with pool, `seq`, `is_in`, `day`, `priced_cents`, `kind`."""
    late: pl.DataFrame
    """Late documents: movement_id, occurred_at (original), posted_at, load_date, redated."""
    flags: pl.DataFrame
    """movement_id, flag, detail: rows costed by a fallback rule."""


def priced_cents(quantity: pl.Expr, unit_cost: pl.Expr, rate: pl.Expr) -> pl.Expr:
    """round_half_up(quantity x unit_cost x rate, 2) exactly, in integer cents (Int128)."""
    uc = (unit_cost.cast(pl.Decimal(38, 6)) * UNIT_COST_SCALE).cast(pl.Int128)
    fx = (rate.cast(pl.Decimal(38, 8)) * FX_SCALE).cast(pl.Int128)
    scaled = quantity.cast(pl.Int128) * uc * fx
    half = UNIT_COST_SCALE * FX_SCALE // 100
    return ((scaled + half // 2) // half).cast(pl.Int64)


def _redate(movements: pl.DataFrame, start: date, policy: CostingPolicy) -> pl.DataFrame:
    """Apply DOMAIN.md "Late documents": report them, and in a closed period re-date them."""
    has_load = "load_date" in movements.columns
    day = pl.col("occurred_at").dt.date()
    mv = movements.with_columns(
        pl.col("occurred_at").alias("original_occurred_at"),
        (pl.col("load_date") if has_load else pl.lit(None, pl.Date)).alias("load_date"),
    )
    mv = mv.with_columns(
        (pl.col("load_date") > day).fill_null(False).alias("is_late"),
        pl.lit(False).alias("redated"),
    )
    if policy.closed_before is not None:
        first_open = datetime.combine(policy.closed_before, time())
        unprocessed = pl.col("load_date").is_null() | (pl.col("load_date") >= start)
        move = (day < policy.closed_before) & unprocessed
        mv = mv.with_columns(
            pl.when(move)
            .then(pl.lit(first_open))
            .otherwise(pl.col("occurred_at"))
            .alias("occurred_at"),
            move.alias("redated"),
            (pl.col("is_late") | move).alias("is_late"),
        )
    return mv


def prepare(
    movements: pl.DataFrame,
    fx_rates: pl.DataFrame,
    companies: pl.DataFrame,
    state: CostingState,
    start: date,
    end: date,
    policy: CostingPolicy,
) -> Prepared:
    missing = [c for c in REQUIRED if c not in movements.columns]
    if missing:
        raise CostingInputError(f"movements: missing columns {missing}")
    mv = _redate(movements, start, policy)
    day = pl.col("occurred_at").dt.date()
    mv = mv.filter((day >= start) & (day <= end)).with_columns(day.alias("day"))
    _fail_if(mv.filter(~pl.col("movement_type").is_in(MOVEMENT_TYPES)), "unknown movement_type")
    _fail_if(
        mv.filter(pl.col("quantity").is_null() | (pl.col("quantity") <= 0)), "quantity must be > 0"
    )
    _fail_if(mv.filter(pl.col("movement_id").is_duplicated()), "duplicate movement_id")
    _fail_if(mv.filter(pl.col("occurred_at").is_null()), "occurred_at missing")
    known = companies.select("company", "functional_currency")
    mv = mv.join(known, on="company", how="left")
    _fail_if(
        mv.filter(pl.col("functional_currency").is_null()),
        "company not in companies",
        ["movement_id", "company"],
    )
    late = mv.filter(pl.col("is_late")).select(
        "movement_id",
        pl.col("original_occurred_at").alias("occurred_at"),
        pl.col("occurred_at").alias("posted_at"),
        "load_date",
        "redated",
    )

    if policy.pool == POOL_BY_COMPANY:
        mv = _drop_internal_transfers(movements, mv).with_columns(
            pl.lit(ALL_WAREHOUSES).alias("warehouse")
        )

    mv = mv.with_columns(pl.col("movement_type").is_in(INBOUND_TYPES).alias("is_in"))
    mv = mv.sort([*POOL, "occurred_at", pl.col("is_in").not_(), "movement_id"]).with_row_index(
        "seq"
    )
    mv = mv.with_columns(pl.col("seq").cast(pl.Int64))
    mv, transfer_flags = _classify_transfers(mv, state)
    mv, return_flags = _classify_returns(mv, state)
    mv = _price(mv, fx_rates)
    gain_flags = (
        mv.filter(pl.col("kind") == "REF")
        .select(
            "movement_id",
            pl.when(pl.col("movement_type") == "ADJUST_GAIN")
            .then(pl.lit("GAIN_AT_REFERENCE_COST"))
            .otherwise(pl.lit(None))
            .alias("flag"),
            pl.lit("valued at the pool's reference unit cost").alias("detail"),
        )
        .drop_nulls("flag")
    )
    flags = pl.concat([transfer_flags, return_flags, gain_flags])
    return Prepared(mv, late, flags)


def _drop_internal_transfers(ledger: pl.DataFrame, mv: pl.DataFrame) -> pl.DataFrame:
    """Pool per (company, sku): a transfer whose two legs are in one company moves no cost."""
    legs = ledger.filter(pl.col("movement_type").is_in(["TRANSFER_OUT", "TRANSFER_IN"]))
    internal = (
        legs.group_by("reference")
        .agg(pl.col("company").n_unique().alias("n"), pl.col("movement_type").n_unique().alias("t"))
        .filter((pl.col("n") == 1) & (pl.col("t") == 2))
        .get_column("reference")
    )
    is_leg = pl.col("movement_type").is_in(["TRANSFER_OUT", "TRANSFER_IN"])
    return mv.filter(~(is_leg & pl.col("reference").is_in(internal.implode())))


def _classify_transfers(mv: pl.DataFrame, state: CostingState) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pair each TRANSFER_IN with its TRANSFER_OUT (in range, or still in transit in `state`)."""
    outs = mv.filter(pl.col("movement_type") == "TRANSFER_OUT")
    ins = mv.filter(pl.col("movement_type") == "TRANSFER_IN")
    _fail_if(
        outs.filter(pl.col("reference").is_null()), "TRANSFER_OUT without a transfer id (reference)"
    )
    _fail_if(
        ins.filter(pl.col("reference").is_null()), "TRANSFER_IN without a transfer id (reference)"
    )
    _fail_if(
        outs.filter(pl.col("reference").is_duplicated()),
        "two TRANSFER_OUT legs share a transfer id",
        ["movement_id", "reference"],
    )
    _fail_if(
        ins.filter(pl.col("reference").is_duplicated()),
        "two TRANSFER_IN legs share a transfer id",
        ["movement_id", "reference"],
    )
    transit = (
        state.open_layers.filter(pl.col("transfer_id").is_not_null())
        .group_by("transfer_id")
        .agg(
            pl.col("company").first().alias("src_company"),
            pl.col("quantity").sum().alias("src_qty"),
            pl.col("transfer_out_id").first().alias("src_movement_id"),
        )
        .with_columns(
            pl.lit(None, pl.Int64).alias("src_seq"), pl.lit(None, pl.Datetime("us")).alias("src_at")
        )
    )
    in_range = outs.select(
        pl.col("reference").alias("transfer_id"),
        pl.col("company").alias("src_company"),
        pl.col("quantity").alias("src_qty"),
        pl.col("movement_id").alias("src_movement_id"),
        pl.col("seq").alias("src_seq"),
        pl.col("occurred_at").alias("src_at"),
    )
    sources = pl.concat([in_range, transit.select(in_range.columns)])
    _fail_if(
        sources.filter(pl.col("transfer_id").is_duplicated()),
        "transfer id already in transit",
        ["transfer_id"],
    )
    matched = ins.select("movement_id", "reference", "company", "quantity", "occurred_at").join(
        sources, left_on="reference", right_on="transfer_id", how="left"
    )
    _fail_if(
        matched.filter(pl.col("src_qty").is_not_null() & (pl.col("src_qty") != pl.col("quantity"))),
        "TRANSFER_IN quantity differs from its TRANSFER_OUT",
        ["movement_id", "reference", "quantity", "src_qty"],
    )
    _fail_if(
        matched.filter(pl.col("src_at") > pl.col("occurred_at")),
        "TRANSFER_IN occurs before its TRANSFER_OUT",
        ["movement_id", "reference"],
    )
    matched = matched.with_columns(
        pl.when(pl.col("src_qty").is_null())
        .then(pl.lit("UNMATCHED"))
        .when(pl.col("src_company") == pl.col("company"))
        .then(pl.lit("TRANSFER"))
        .otherwise(pl.lit("INTERCOMPANY"))
        .alias("transfer_kind")
    )
    mv = mv.join(
        matched.select("movement_id", "transfer_kind", "src_company", "src_seq", "src_movement_id"),
        on="movement_id",
        how="left",
    )
    flags = matched.filter(pl.col("transfer_kind") == "UNMATCHED").select(
        "movement_id",
        pl.lit("TRANSFER_IN_WITHOUT_OUT").alias("flag"),
        pl.lit("no TRANSFER_OUT with this transfer id; valued at the reference unit cost").alias(
            "detail"
        ),
    )
    return mv, flags


def _classify_returns(mv: pl.DataFrame, state: CostingState) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A RETURN is valued from its issue when the issue is known, earlier, and an ISSUE of
    the same company and SKU (DOMAIN.md "Customer return": a layer at the unit cost of the
    issue it returns). An issue of another SKU or company is not the issue of these units
    (and its cost is in another functional currency): such a reference counts as unknown,
    valued at the reference unit cost and flagged, whichever way the range is run."""
    issues = mv.filter(pl.col("movement_type") == "ISSUE").select(
        pl.col("movement_id").alias("reference"),
        pl.col("occurred_at").alias("issue_at"),
        pl.col("company").alias("issue_company"),
        pl.col("sku").alias("issue_sku"),
    )
    old = state.issue_costs.select(
        pl.col("movement_id").alias("reference"),
        pl.col("company").alias("state_company"),
        pl.col("sku").alias("state_sku"),
    )
    rets = (
        mv.filter(pl.col("movement_type") == "RETURN")
        .select("movement_id", "reference", "occurred_at", "company", "sku")
        .join(issues, on="reference", how="left")
        .join(old, on="reference", how="left")
    )
    same_in_state = (pl.col("state_company") == pl.col("company")) & (
        pl.col("state_sku") == pl.col("sku")
    )
    same_in_range = (pl.col("issue_company") == pl.col("company")) & (
        pl.col("issue_sku") == pl.col("sku")
    )
    rets = rets.with_columns(
        pl.when(same_in_state.fill_null(False))
        .then(pl.lit("STATE"))
        .when(same_in_range.fill_null(False) & (pl.col("issue_at") < pl.col("occurred_at")))
        .then(pl.lit("RANGE"))
        .otherwise(pl.lit(None))
        .alias("return_source"),
    )
    mv = mv.join(rets.select("movement_id", "return_source"), on="movement_id", how="left")
    flags = rets.filter(pl.col("return_source").is_null()).select(
        "movement_id",
        pl.lit("RETURN_OF_UNKNOWN_ISSUE").alias("flag"),
        pl.concat_str(
            pl.lit("issue "),
            pl.col("reference").fill_null("(none)"),
            pl.lit(" is not an earlier ISSUE of this company and SKU; valued at the reference"),
            pl.lit(" unit cost"),
        ).alias("detail"),
    )
    return mv, flags


def _price(mv: pl.DataFrame, fx_rates: pl.DataFrame) -> pl.DataFrame:
    """Value priced inbound movements in functional currency; decide every inbound's kind."""
    t = pl.col("movement_type")
    has_cost = pl.col("unit_cost").is_not_null()
    kind = (
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
    mv = mv.with_columns(kind.alias("kind"))
    _fail_if(mv.filter((t == "RECEIPT") & ~has_cost), "RECEIPT without unit_cost")
    priced = mv.filter(pl.col("kind") == "PRICED")
    _fail_if(priced.filter(pl.col("currency").is_null()), "priced movement without currency")
    rates = fx_rates.select(
        pl.col("rate_date").alias("day"),
        "currency",
        pl.col("to_currency").alias("functional_currency"),
        pl.col("rate"),
    ).unique(["day", "currency", "functional_currency"])
    priced = priced.join(
        rates, on=["day", "currency", "functional_currency"], how="left"
    ).with_columns(
        pl.when(pl.col("currency") == pl.col("functional_currency"))
        .then(pl.lit(1, pl.Decimal(18, 8)))
        .otherwise(pl.col("rate"))
        .alias("rate")
    )
    _fail_if(
        priced.filter(pl.col("rate").is_null()),
        "no fx rate for the document date",
        ["movement_id", "day", "currency", "functional_currency"],
    )
    priced = priced.select(
        "movement_id",
        priced_cents(pl.col("quantity"), pl.col("unit_cost"), pl.col("rate")).alias("priced_cents"),
    )
    return mv.join(priced, on="movement_id", how="left")
