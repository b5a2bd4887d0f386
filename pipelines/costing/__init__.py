"""Set-based FIFO costing of the inventory movement ledger (issue 3; docs/costing.md)."""

from pipelines.costing.engine import CostingResult, cost_range
from pipelines.costing.errors import CostingInputError
from pipelines.costing.invariants import (
    journal_balance_violations,
    negative_layer_violations,
    open_layers_vs_balance_violations,
    roll_forward_violations,
)
from pipelines.costing.policy import POOL_BY_COMPANY, POOL_BY_WAREHOUSE, CostingPolicy
from pipelines.costing.shards import Sharding, cost_range_sharded
from pipelines.costing.state import CostingState

__all__ = [
    "POOL_BY_COMPANY",
    "POOL_BY_WAREHOUSE",
    "CostingInputError",
    "CostingPolicy",
    "CostingResult",
    "CostingState",
    "Sharding",
    "cost_range",
    "cost_range_sharded",
    "journal_balance_violations",
    "negative_layer_violations",
    "open_layers_vs_balance_violations",
    "roll_forward_violations",
]
