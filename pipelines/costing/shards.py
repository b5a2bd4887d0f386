"""Cost a range in SKU shards: independent pieces of one ledger, run one after another in
this process or side by side as tasks of a distributed engine (runs/distributed.py).

Pools never mix SKUs: a transfer moves one SKU, and FIFO, negative stock, the reference
unit cost and ageing are per pool. So the ledger splits by SKU into shards, each costed by
the same `cost_range`, and the results concatenate to the unsharded figures to the cent
(tests/costing/test_shards.py, hypothesis included). Two things cross SKUs and are handled
here: landed costs (allocated once over all their receipt lines, then each shard takes its
lines' shares), and a RETURN pointing at an ISSUE of another SKU, which needs nothing here:
a return takes its cost only from an issue of its own company and SKU
(pipelines.costing.returns), so in one call as in shards such a return is valued at the
reference unit cost and flagged.

A SKU's shard is a stable hash of its code (CRC-32 of the UTF-8 bytes modulo the shard
count): the same on every machine and Python or Polars version, so a worker, a rerun and a
later release draw the same shards. It is computed once per distinct SKU, then joined.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from pipelines.costing.engine import CostingResult, cost_range
from pipelines.costing.landed_allocation import Allocation, allocate
from pipelines.costing.policy import CostingPolicy
from pipelines.costing.refusals import refuse_uncostable
from pipelines.costing.state import CostingState
from pipelines.journals.journals import journals
from pipelines.money import money_to_cents
from pipelines.pools import POOL

SHARD = "_shard"


def shard_of_sku(sku: str, shards: int) -> int:
    """The shard of one SKU code (stable across machines and versions)."""
    return zlib.crc32(sku.encode("utf-8")) % shards


def with_shard(frame: pl.DataFrame, shards: int) -> pl.DataFrame:
    """`frame` with a `_shard` column drawn from its `sku`."""
    skus = frame.get_column("sku").unique()
    table = pl.DataFrame(
        {"sku": skus, SHARD: [shard_of_sku(s, shards) for s in skus.to_list()]},
        schema={"sku": frame.schema["sku"], SHARD: pl.Int32},
    )
    return frame.join(table, on="sku", how="left")


def shard_rows(frame: pl.DataFrame, shards: int, k: int) -> pl.DataFrame:
    """The rows of `frame` whose SKU is in shard `k` of `shards`."""
    return with_shard(frame, shards).filter(pl.col(SHARD) == k).drop(SHARD)


@dataclass(frozen=True)
class ShardWork:
    """Everything one shard's costing needs: what a task sends to a worker."""

    shard: int
    inputs: Mapping[str, pl.DataFrame]
    state: CostingState
    start: date
    end: date
    policy: CostingPolicy
    allocation: Allocation


def cost_shard(work: ShardWork) -> CostingResult:
    """Cost one shard (the same `cost_range`, its part of the landed-cost allocation given)."""
    return cost_range(
        work.inputs, work.state, work.start, work.end, work.policy, allocation=work.allocation
    )


def cost_in_process(works: Sequence[ShardWork]) -> list[CostingResult]:
    """The embedded runner: the shards one after another in this process."""
    return [cost_shard(w) for w in works]


ShardRunner = Callable[[Sequence[ShardWork]], Sequence[CostingResult]]
"""Costs a list of shards and returns their results in the same order."""


@dataclass(frozen=True)
class Sharding:
    """How `cost_range_sharded` splits a range: into `shards` SKU shards, costed by `run`
    (in this process by default). With `sink`, each shard's result is handed to it (e.g. to
    write its frames to Parquet) and its large per-movement frames are not kept."""

    shards: int = 8
    sink: Callable[[int, CostingResult], None] | None = None
    run: ShardRunner = cost_in_process


def shard_works(
    inputs: Mapping[str, pl.DataFrame],
    state: CostingState,
    window: tuple[date, date],
    policy: CostingPolicy,
    shards: int,
) -> tuple[list[ShardWork], Allocation, pl.DataFrame]:
    """The shards' work, the one landed-cost allocation over all lines, and the rows refused
    before sharding (refusals look across SKUs: the two legs of a transfer)."""
    start, end = window
    inputs, refused = refuse_uncostable(inputs, state, start, end, policy)
    alloc = allocate(inputs, start, end, policy)
    moves = with_shard(inputs["movements"], shards)
    works = []
    for k in range(shards):
        mine = _in_shard(shards, k)
        sub_inputs = {**inputs, "movements": moves.filter(pl.col(SHARD) == k).drop(SHARD)}
        sub_alloc, sub_state = _shard_allocation(alloc, mine), _shard_state(state, mine)
        works.append(ShardWork(k, sub_inputs, sub_state, start, end, policy, sub_alloc))
    return works, alloc, refused


def cost_range_sharded(
    inputs: Mapping[str, pl.DataFrame],
    state: CostingState | None,
    start: date,
    end: date,
    policy: CostingPolicy | None = None,
    sharding: Sharding = Sharding(),
) -> CostingResult:
    """`cost_range` over SKU shards; the same figures, to the cent.

    With a sink (`Sharding.sink`) the returned result carries the journals, flags, late
    documents, opening and end state, and empty detail frames. That keeps a three-year
    initialisation's memory to one shard's work.
    """
    policy = policy or CostingPolicy()
    state = state or CostingState.empty()
    works, alloc, refused = shard_works(inputs, state, (start, end), policy, sharding.shards)
    parts: list[CostingResult] = []
    for work, part in zip(works, sharding.run(works), strict=True):
        if sharding.sink is not None:
            sharding.sink(work.shard, part)
            part = _slim(part)
        parts.append(part)
    return _merge(parts, state, alloc, (start, end), refused)


def _in_shard(shards: int, k: int) -> Callable[[pl.DataFrame], pl.DataFrame]:
    return lambda frame: shard_rows(frame, shards, k)


def _shard_allocation(
    alloc: Allocation, mine: Callable[[pl.DataFrame], pl.DataFrame]
) -> Allocation:
    """The shard's receipt lines' shares of the one allocation over all lines (its flags
    are reported once, by the merge)."""
    lines = mine(alloc.allocations)
    components = alloc.components.filter(
        pl.col("origin_id").is_in(lines.get_column("movement_id").implode())
    )
    return Allocation(lines, components, alloc.flags.clear())


def _shard_state(state: CostingState, mine: Callable[[pl.DataFrame], pl.DataFrame]) -> CostingState:
    """The shard's part of the carried state and nothing else, so a shard's task carries
    only its own SKUs: its pools; the issues of its SKUs (a RETURN takes its cost only from
    an issue of its own SKU); the landed cost of the receipt lines whose units it holds."""
    open_layers = mine(state.open_layers)
    held = open_layers.get_column("origin_id").unique().implode()
    return CostingState(
        open_layers=open_layers,
        open_shortfalls=mine(state.open_shortfalls),
        pool_refs=mine(state.pool_refs),
        issue_costs=mine(state.issue_costs),
        landed_components=state.landed_components.filter(pl.col("origin_id").is_in(held)),
    )


BIG = ("cogs", "consumption", "open_layers", "open_shortfalls", "postings", "valuation", "ageing")


def _slim(part: CostingResult) -> CostingResult:
    """Keep what the merged result needs; detail frames go to the sink, not memory."""
    lines = part.journal_lines.group_by("posting_date", "company", "account", "category").agg(
        pl.col("amount").filter(pl.col("amount") > 0).sum().alias("debit"),
        pl.col("amount").filter(pl.col("amount") < 0).sum().alias("credit"),
    )
    lines = pl.concat(
        [
            lines.select(
                pl.exclude("debit", "credit"),
                pl.lit(None, pl.String).alias("movement_id"),
                pl.col("debit").alias("amount"),
            ),
            lines.select(
                pl.exclude("debit", "credit"),
                pl.lit(None, pl.String).alias("movement_id"),
                pl.col("credit").alias("amount"),
            ),
        ]
    ).select(part.journal_lines.columns)
    small = {name: getattr(part, name).clear() for name in BIG}
    return CostingResult(
        **{**part.__dict__, **small, "journal_lines": lines.filter(pl.col("amount") != 0)}
    )


def _merge(
    parts: list[CostingResult],
    state: CostingState,
    alloc: Allocation,
    window: tuple[date, date],
    refused: pl.DataFrame,
) -> CostingResult:
    start, end = window

    def cat(name: str) -> pl.DataFrame:
        return pl.concat([getattr(p, name) for p in parts])

    lines = cat("journal_lines")
    new_issues = pl.concat(
        [
            p.end_state.issue_costs.join(state.issue_costs, on="movement_id", how="anti")
            for p in parts
        ]
    )
    end_state = CostingState(
        open_layers=pl.concat([p.end_state.open_layers for p in parts]).sort([*POOL, "position"]),
        open_shortfalls=pl.concat([p.end_state.open_shortfalls for p in parts]).sort(
            [*POOL, "position"]
        ),
        pool_refs=pl.concat([p.end_state.pool_refs for p in parts]).sort(POOL),
        issue_costs=pl.concat([state.issue_costs, new_issues]),
        landed_components=pl.concat([p.end_state.landed_components for p in parts]),
    )
    flags = pl.concat([cat("flags"), alloc.flags]).sort("movement_id", "flag")
    return CostingResult(
        start=start,
        end=end,
        cogs=cat("cogs"),
        consumption=cat("consumption"),
        open_layers=cat("open_layers"),
        open_shortfalls=cat("open_shortfalls"),
        postings=cat("postings"),
        valuation=cat("valuation"),
        opening=cat("opening"),
        ageing=cat("ageing"),
        landed_cost_allocations=cat("landed_cost_allocations"),
        landed_cost_expensed=cat("landed_cost_expensed"),
        journal_lines=lines,
        journals=journals(lines.with_columns(money_to_cents("amount").alias("amount_cents"))),
        flags=flags,
        late=cat("late"),
        end_state=end_state,
        refused=refused,
    )
