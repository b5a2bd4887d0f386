"""The inventory postings: the single ledger of value movements per pool.

Every other figure (valuation, journals, roll-forward) is a sum of it, so they cannot
disagree. Signed: +qty/+value enters the pool, -qty/-value leaves it. A negative position
(units issued before they were received) carries minus its unserved provisional cost, so
closing value = open layers - open shortfalls (DOMAIN.md "Negative stock").
"""

from __future__ import annotations

import polars as pl

from pipelines.pools import POOL, transit_warehouse

POSTING_COLUMNS = [
    *POOL,
    "posting_date",
    "movement_id",
    "movement_type",
    "category",
    "qty",
    "value_cents",
]
ARRIVING = ["TRANSFER", "INTERCOMPANY"]
"""Transfer kinds whose TRANSFER_IN brings the content of a TRANSFER_OUT."""


def _own_value(ins: pl.DataFrame, origins: pl.DataFrame) -> pl.DataFrame:
    """Inbounds that are their own origin layer, at its value (receipts, returns, gains,
    intercompany and unmatched transfers in)."""
    valued = ins.filter(pl.col("kind") != "TRANSFER").join(
        origins.select("origin_id", "origin_value_cents"),
        left_on="movement_id",
        right_on="origin_id",
    )
    transfer_in = (
        pl.when(pl.col("transfer_kind") == "INTERCOMPANY")
        .then(pl.lit("TRANSFER_IN_INTERCOMPANY"))
        .otherwise(pl.lit("TRANSFER_IN_UNMATCHED"))
    )
    return valued.select(
        *POOL,
        pl.col("day").alias("posting_date"),
        "movement_id",
        "movement_type",
        pl.when(pl.col("movement_type") == "TRANSFER_IN")
        .then(transfer_in)
        .otherwise(pl.col("movement_type"))
        .alias("category"),
        pl.col("quantity").alias("qty"),
        pl.col("origin_value_cents").alias("value_cents"),
    )


def _arrivals(ins: pl.DataFrame, content: pl.DataFrame) -> list[pl.DataFrame]:
    """A transfer's arrival: into the pool (a transfer within the company; an intercompany
    one is valued as its own layer) and out of the source's in-transit location."""
    carried = content.group_by("transfer_id").agg(
        pl.col("value_cents").sum().alias("content_cents")
    )
    arrivals = ins.filter(pl.col("transfer_kind").is_in(ARRIVING)).join(
        carried, left_on="reference", right_on="transfer_id"
    )
    into_pool = arrivals.filter(pl.col("kind") == "TRANSFER").select(
        *POOL,
        pl.col("day").alias("posting_date"),
        "movement_id",
        "movement_type",
        pl.lit("TRANSFER_IN").alias("category"),
        pl.col("quantity").alias("qty"),
        pl.col("content_cents").alias("value_cents"),
    )
    out_of_transit = arrivals.select(
        pl.col("src_company").alias("company"),
        transit_warehouse(pl.col("src_company")).alias("warehouse"),
        "sku",
        pl.col("day").alias("posting_date"),
        "movement_id",
        "movement_type",
        pl.when(pl.col("transfer_kind") == "INTERCOMPANY")
        .then(pl.lit("TRANSFER_OUT_INTERCOMPANY"))
        .otherwise(pl.lit("TRANSIT_OUT"))
        .alias("category"),
        (-pl.col("quantity")).alias("qty"),
        (-pl.col("content_cents")).alias("value_cents"),
    )
    return [into_pool, out_of_transit]


def _departures(outs: pl.DataFrame) -> list[pl.DataFrame]:
    """Outbounds leave their pool at cost; a TRANSFER_OUT enters its company's transit."""
    out_of_pool = outs.select(
        *POOL,
        pl.col("day").alias("posting_date"),
        "movement_id",
        "movement_type",
        pl.col("movement_type").alias("category"),
        (-pl.col("qty")).alias("qty"),
        (-pl.col("cost_cents")).alias("value_cents"),
    )
    into_transit = outs.filter(pl.col("movement_type") == "TRANSFER_OUT").select(
        "company",
        transit_warehouse(pl.col("company")).alias("warehouse"),
        "sku",
        pl.col("day").alias("posting_date"),
        "movement_id",
        "movement_type",
        pl.lit("TRANSIT_IN").alias("category"),
        "qty",
        pl.col("cost_cents").alias("value_cents"),
    )
    return [out_of_pool, into_transit]


def _true_ups(pieces: pl.DataFrame) -> pl.DataFrame:
    return (
        pieces.filter(pl.col("category") == "SERVED")
        .group_by([*POOL, "posting_date", "out_movement_id", "out_type"])
        .agg(pl.col("true_up_cents").sum())
        .select(
            *POOL,
            "posting_date",
            pl.col("out_movement_id").alias("movement_id"),
            pl.col("out_type").alias("movement_type"),
            pl.lit("TRUE_UP").alias("category"),
            pl.lit(0, pl.Int64).alias("qty"),
            (-pl.col("true_up_cents")).alias("value_cents"),
        )
    )


def inventory_postings(
    moves: pl.DataFrame,
    origins: pl.DataFrame,
    content: pl.DataFrame,
    outs: pl.DataFrame,
    pieces: pl.DataFrame,
) -> pl.DataFrame:
    """POSTING_COLUMNS for every movement of the range (landed cost aside: see
    pipelines.costing.landed). `content`: valued transfer content; `outs`: outbound costs."""
    ins = moves.filter(pl.col("is_in"))
    frames = [
        _own_value(ins, origins),
        *_arrivals(ins, content),
        *_departures(outs),
        _true_ups(pieces),
    ]
    return pl.concat([f.select(POSTING_COLUMNS) for f in frames]).sort(
        [*POOL, "posting_date", "movement_id", "category"]
    )
