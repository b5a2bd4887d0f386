"""Landed cost (DOMAIN.md "Landed cost"). Placeholder: applied once implemented."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from pipelines.costing.fifo import Fifo
from pipelines.costing.policy import CostingPolicy
from pipelines.costing.state import POOL, CostingState

EXPENSED_SCHEMA = pl.Schema(
    {
        "posting_date": pl.Date,
        "company": pl.String,
        "warehouse": pl.String,
        "sku": pl.String,
        "movement_id": pl.String,
        "movement_type": pl.String,
        "landed_cost_id": pl.String,
        "amount_cents": pl.Int64,
    }
)


@dataclass(frozen=True)
class LandedCost:
    fifo: Fifo
    allocations: pl.DataFrame
    expensed: pl.DataFrame
    postings: pl.DataFrame
    add_to_residencies: Callable[[pl.DataFrame], pl.DataFrame]


def landed_cost(
    inputs: Mapping[str, pl.DataFrame],
    fifo: Fifo,
    moves: pl.DataFrame,
    state: CostingState,
    start: date,
    end: date,
    policy: CostingPolicy,
) -> LandedCost:
    empty_post = pl.DataFrame(
        schema={
            **{c: pl.String for c in POOL},
            "posting_date": pl.Date,
            "movement_id": pl.String,
            "movement_type": pl.String,
            "category": pl.String,
            "qty": pl.Int64,
            "value_cents": pl.Int64,
        }
    )
    return LandedCost(
        fifo=fifo,
        allocations=pl.DataFrame(
            schema={
                "landed_cost_id": pl.String,
                "movement_id": pl.String,
                "amount_cents": pl.Int64,
            }
        ),
        expensed=pl.DataFrame(schema=EXPENSED_SCHEMA),
        postings=empty_post,
        add_to_residencies=lambda r: r,
    )
