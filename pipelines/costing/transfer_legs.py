"""Pair each TRANSFER_IN with its TRANSFER_OUT, in range or still in transit.

DOMAIN.md "Transfer": the two legs share a transfer id (`reference`). A leg in the same
company moves its slices at their cost; one into another company is an intercompany
receipt; an arrival with no departure is valued at the reference unit cost and flagged.
Pooling per (company, sku), a transfer within one company moves no cost at all.
"""

from __future__ import annotations

import polars as pl

from pipelines.costing.errors import fail_if
from pipelines.costing.state import CostingState

LEGS = ["TRANSFER_OUT", "TRANSFER_IN"]


def drop_internal_transfers(ledger: pl.DataFrame, mv: pl.DataFrame) -> pl.DataFrame:
    """Pool per (company, sku): a transfer whose two legs are in one company moves no cost."""
    legs = ledger.filter(pl.col("movement_type").is_in(LEGS))
    internal = (
        legs.group_by("reference")
        .agg(
            pl.col("company").n_unique().alias("companies"),
            pl.col("movement_type").n_unique().alias("leg_types"),
        )
        .filter((pl.col("companies") == 1) & (pl.col("leg_types") == 2))
        .get_column("reference")
    )
    is_leg = pl.col("movement_type").is_in(LEGS)
    return mv.filter(~(is_leg & pl.col("reference").is_in(internal.implode())))


def _check_transfer_ids(outs: pl.DataFrame, ins: pl.DataFrame) -> None:
    for frame, leg in ((outs, "TRANSFER_OUT"), (ins, "TRANSFER_IN")):
        fail_if(
            frame.filter(pl.col("reference").is_null()), f"{leg} without a transfer id (reference)"
        )
    for frame, leg in ((outs, "TRANSFER_OUT"), (ins, "TRANSFER_IN")):
        fail_if(
            frame.filter(pl.col("reference").is_duplicated()),
            f"two {leg} legs share a transfer id",
            ["movement_id", "reference"],
        )


def _departures(outs: pl.DataFrame, state: CostingState) -> pl.DataFrame:
    """Every transfer that left: this range's TRANSFER_OUTs and those still in transit."""
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
    fail_if(
        sources.filter(pl.col("transfer_id").is_duplicated()),
        "transfer id already in transit",
        ["transfer_id"],
    )
    return sources


def pair_transfers(mv: pl.DataFrame, state: CostingState) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`mv` + transfer_kind, src_company, src_seq, src_movement_id on TRANSFER_INs; flags."""
    outs = mv.filter(pl.col("movement_type") == "TRANSFER_OUT")
    ins = mv.filter(pl.col("movement_type") == "TRANSFER_IN")
    _check_transfer_ids(outs, ins)
    matched = ins.select("movement_id", "reference", "company", "quantity", "occurred_at").join(
        _departures(outs, state), left_on="reference", right_on="transfer_id", how="left"
    )
    fail_if(
        matched.filter(pl.col("src_qty").is_not_null() & (pl.col("src_qty") != pl.col("quantity"))),
        "TRANSFER_IN quantity differs from its TRANSFER_OUT",
        ["movement_id", "reference", "quantity", "src_qty"],
    )
    fail_if(
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
