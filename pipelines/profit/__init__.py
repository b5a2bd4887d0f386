"""Order profitability: contribution margin per order line (DOMAIN.md "Order profitability").

Pure engine: frames in, frames out, no I/O. docs/profit.md gives the rules and worked
examples; runs/profit.py runs it against the warehouse.
"""

from pipelines.profit.engine import POSTINGS_SCHEMA, ProfitInputs, ProfitResult, order_profit
from pipelines.profit.freight import SHIPMENT_FREIGHT_SCHEMA, shipment_freight
from pipelines.profit.policy import ProfitPolicy

__all__ = [
    "POSTINGS_SCHEMA",
    "SHIPMENT_FREIGHT_SCHEMA",
    "ProfitInputs",
    "ProfitPolicy",
    "ProfitResult",
    "order_profit",
    "shipment_freight",
]
