"""Step 4 of the FIFO overlay: the value of every origin layer.

Receipts and priced movements have their value from the ledger; carried slices bring
theirs. The others depend on other origins: a return on its issue's cost (the issue may
have been costed in this very range), a gain, an unknown return or a transfer's
shortfall on the reference unit cost of a layer that may itself be such an origin. They
resolve in rounds, each valuing whatever now has a known source, until none is left (or
a cycle is reported).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.costing.errors import CostingInputError
from pipelines.costing.reference_cost import reference_value
from pipelines.costing.returns import RangeReturns, state_return_values
from pipelines.costing.shortfalls import with_provisional_cost
from pipelines.costing.state import CostingState

ORIGINS = ["origin_id", "origin_qty", "origin_value_cents", "receipt_date", "origin_kind"]


@dataclass(frozen=True)
class ReferencePoints:
    """Where a reference unit cost is needed (pipelines.costing.reference_cost)."""

    outs: pl.DataFrame
    """This range's outbound items with a shortfall (their provisional cost P)."""
    ins: pl.DataFrame
    """Inbound items valued at the reference unit cost (kind REF)."""


def _fill(origins: pl.DataFrame, values: pl.DataFrame) -> pl.DataFrame:
    """Set origin_value_cents from `values` (origin_id, value_cents) where still unknown."""
    return (
        origins.join(values, on="origin_id", how="left")
        .with_columns(pl.coalesce("origin_value_cents", "value_cents").alias("origin_value_cents"))
        .drop("value_cents")
    )


def _transfer_shortfall_id() -> pl.Expr:
    return pl.concat_str(pl.lit("SHORT:"), pl.col("movement_id")).alias("origin_id")


def _origin_table(direct: pl.DataFrame, state: CostingState, outb: pl.DataFrame) -> pl.DataFrame:
    """Every origin layer (ORIGINS), its value null where it depends on another origin."""
    carried = state.open_layers.group_by("origin_id").agg(
        pl.col("origin_qty").first(),
        pl.col("origin_value_cents").first(),
        pl.col("receipt_date").first(),
        pl.col("origin_kind").first(),
    )
    transfer_shortfalls = outb.filter(
        (pl.col("movement_type") == "TRANSFER_OUT") & ~pl.col("carried") & (pl.col("unmet_qty") > 0)
    )
    return pl.concat(
        [
            carried.select(ORIGINS),
            direct.select(
                "origin_id",
                pl.col("qty").alias("origin_qty"),
                pl.col("priced_cents").alias("origin_value_cents"),
                pl.col("day").alias("receipt_date"),
                pl.col("movement_type").alias("origin_kind"),
            ),
            transfer_shortfalls.select(
                _transfer_shortfall_id(),
                pl.col("unmet_qty").alias("origin_qty"),
                pl.lit(None, pl.Int64).alias("origin_value_cents"),
                pl.col("day").alias("receipt_date"),
                pl.lit("TRANSFER_SHORTFALL").alias("origin_kind"),
            ),
        ]
    )


def _pending_references(
    inb: pl.DataFrame, outb: pl.DataFrame, refs: ReferencePoints
) -> pl.DataFrame:
    """Origins valued at a reference unit cost: origin_id, `need` units, the reference."""
    departures = outb.filter(pl.col("movement_type") == "TRANSFER_OUT").get_column("seq").implode()
    return pl.concat(
        [
            refs.ins.join(inb.select("seq", "origin_id"), on="seq").rename({"qty": "need"}),
            refs.outs.join(outb.select("seq", "movement_id"), on="seq")
            .filter(pl.col("seq").is_in(departures))
            .with_columns(_transfer_shortfall_id())
            .drop("movement_id", "ref_warehouse")
            .rename({"unmet_qty": "need"}),
        ]
    )


def _resolve(origins: pl.DataFrame, pending: pl.DataFrame, returns: RangeReturns) -> pl.DataFrame:
    """Value the dependent origins round by round until every one is known."""
    while True:
        known = origins.filter(pl.col("origin_value_cents").is_not_null())
        todo = origins.filter(pl.col("origin_value_cents").is_null()).get_column("origin_id")
        if not todo.len():
            return origins
        by_reference = reference_value(
            pending.filter(pl.col("origin_id").is_in(todo.implode())), known, "need"
        )
        new = pl.concat(
            [
                by_reference.filter(pl.col("ref_cents").is_not_null()).select(
                    "origin_id", pl.col("ref_cents").alias("value_cents")
                ),
                returns.values(todo, known),
            ]
        )
        if not new.height:
            raise CostingInputError(
                f"movements: values depend on each other in a cycle: {todo.head(10).to_list()}"
            )
        origins = _fill(origins, new)


def _no_reference_flags(ins: pl.DataFrame, outs: pl.DataFrame) -> pl.DataFrame:
    """NO_REFERENCE_COST for inbounds and shortfalls in a pool no layer ever entered."""
    return pl.concat(
        [
            ins.select(
                "movement_id",
                pl.lit("NO_REFERENCE_COST").alias("flag"),
                pl.lit("no layer ever entered the pool; valued at zero").alias("detail"),
            ),
            outs.select(
                "movement_id",
                pl.lit("NO_REFERENCE_COST").alias("flag"),
                pl.lit(
                    "shortfall with no layer ever in the pool or in another warehouse of the "
                    "company; provisional cost zero"
                ).alias("detail"),
            ),
        ]
    )


def value_origins(
    moves: pl.DataFrame,
    state: CostingState,
    inb: pl.DataFrame,
    outb: pl.DataFrame,
    pieces: pl.DataFrame,
    refs: ReferencePoints,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Value every origin; returns origins, outbound items with P (provisional cost), flags."""
    direct = inb.filter(pl.col("kind").is_in(["PRICED", "REF", "RETURN"])).join(
        moves.select("movement_id", "priced_cents", "reference", "return_source"),
        on="movement_id",
        how="left",
    )
    returns = direct.filter(pl.col("kind") == "RETURN")
    origins = _fill(
        _origin_table(direct, state, outb),
        state_return_values(
            returns.filter(pl.col("return_source") == "STATE").select(
                "origin_id", "qty", "reference"
            ),
            state,
        ),
    )
    in_range = returns.filter(pl.col("return_source") == "RANGE").select(
        "origin_id", "qty", "reference"
    )
    origins = _resolve(
        origins,
        _pending_references(inb, outb, refs),
        RangeReturns.of(in_range, outb, pieces, refs.outs),
    )
    provisional = reference_value(refs.outs, origins, "unmet_qty").select(
        "seq", pl.col("ref_cents").alias("ref_provisional_cents"), "no_ref"
    )
    outb = with_provisional_cost(outb, provisional.select("seq", "ref_provisional_cents"))
    no_ref_in = (
        reference_value(refs.ins, origins, "qty")
        .filter(pl.col("no_ref"))
        .join(inb.select("seq", "movement_id"), on="seq")
    )
    no_ref_out = provisional.filter(pl.col("no_ref")).join(
        outb.select("seq", "movement_id"), on="seq"
    )
    elsewhere = refs.outs.filter(pl.col("ref_warehouse").is_not_null()).join(
        outb.select("seq", "movement_id"), on="seq"
    )
    flags = pl.concat([_no_reference_flags(no_ref_in, no_ref_out), _elsewhere_flags(elsewhere)])
    return origins, outb, flags


def _elsewhere_flags(points: pl.DataFrame) -> pl.DataFrame:
    """REFERENCE_COST_FROM_WAREHOUSE: a shortfall in a pool with no history, provisionally
    costed at the reference unit cost of another warehouse's pool (DOMAIN.md)."""
    return points.select(
        "movement_id",
        pl.lit("REFERENCE_COST_FROM_WAREHOUSE").alias("flag"),
        pl.format(
            "no layer ever in the pool; provisional cost at the reference unit cost of {}",
            pl.col("ref_warehouse"),
        ).alias("detail"),
    )
