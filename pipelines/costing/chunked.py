"""Cost a large range in SKU chunks to bound peak memory (the 10M-movement initialisation).

Pools never mix SKUs: a transfer moves one SKU, and FIFO, negative stock, the reference
unit cost and ageing are per pool. So the ledger splits by SKU into independent chunks,
each costed by the same `cost_range`, and the results concatenate. Two things cross SKUs
and are handled here: landed costs (allocated once over all their receipt lines, then each
chunk takes its lines' shares), and a RETURN pointing at an ISSUE of another SKU, which
needs nothing here: a return takes its cost only from an issue of its own company and SKU
(pipelines.costing.returns), so in one call as in chunks such a return is valued at the
reference unit cost and flagged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


def _chunk_of(chunks: int) -> pl.Expr:
    return (pl.col("sku").hash(seed=17) % chunks).cast(pl.Int32)


@dataclass(frozen=True)
class Chunking:
    """How `cost_range_chunked` splits a range: into `chunks` SKU chunks, costed one after
    another. With `sink`, each chunk's result is handed to it (e.g. to write its frames to
    Parquet) and its large per-movement frames are not kept."""

    chunks: int = 8
    sink: Callable[[int, CostingResult], None] | None = None


def cost_range_chunked(
    inputs: Mapping[str, pl.DataFrame],
    state: CostingState | None,
    start: date,
    end: date,
    policy: CostingPolicy | None = None,
    chunking: Chunking = Chunking(),
) -> CostingResult:
    """`cost_range` over SKU chunks, one after another; same figures, lower peak memory.

    With a sink (`Chunking.sink`) the returned result carries the journals, flags, late
    documents, opening and end state, and empty detail frames. That keeps a three-year
    initialisation's memory to one chunk's work.
    """
    policy = policy or CostingPolicy()
    state = state or CostingState.empty()
    chunks = chunking.chunks
    inputs, refused = refuse_uncostable(inputs, state, start, end, policy)
    mv = inputs["movements"].with_columns(_chunk_of(chunks).alias("_chunk"))
    alloc = allocate(inputs, start, end, policy)
    parts: list[CostingResult] = []
    for k in range(chunks):
        mine = _chunk_of(chunks) == k
        sub_inputs = {**inputs, "movements": mv.filter(pl.col("_chunk") == k).drop("_chunk")}
        sub_alloc, sub_state = _chunk_allocation(alloc, mine), _chunk_state(state, mine)
        part = cost_range(sub_inputs, sub_state, start, end, policy, allocation=sub_alloc)
        if chunking.sink is not None:
            chunking.sink(k, part)
            part = _slim(part)
        parts.append(part)
    return _merge(parts, state, alloc, (start, end), refused)


def _chunk_allocation(alloc: Allocation, mine: pl.Expr) -> Allocation:
    """The chunk's receipt lines' shares of the one allocation over all lines (its flags
    are reported once, by the merge)."""
    lines = alloc.allocations.filter(mine)
    components = alloc.components.filter(
        pl.col("origin_id").is_in(lines.get_column("movement_id").implode())
    )
    return Allocation(lines, components, alloc.flags.clear())


def _chunk_state(state: CostingState, mine: pl.Expr) -> CostingState:
    """The chunk's pools of the carried state; issue costs and landed components are looked
    up by movement, so every chunk carries them whole."""
    return CostingState(
        open_layers=state.open_layers.filter(mine),
        open_shortfalls=state.open_shortfalls.filter(mine),
        pool_refs=state.pool_refs.filter(mine),
        issue_costs=state.issue_costs,
        landed_components=state.landed_components,
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
