"""Set-based FIFO costing of the inventory movement ledger (issue 3)."""

from pipelines.costing.engine import CostingResult, cost_range
from pipelines.costing.policy import POOL_BY_COMPANY, POOL_BY_WAREHOUSE, CostingPolicy
from pipelines.costing.prepare import CostingInputError
from pipelines.costing.state import CostingState

__all__ = [
    "POOL_BY_COMPANY",
    "POOL_BY_WAREHOUSE",
    "CostingInputError",
    "CostingPolicy",
    "CostingResult",
    "CostingState",
    "cost_range",
]
