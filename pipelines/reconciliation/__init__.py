"""Carrier-bill reconciliation per carrier billing period (issue 5). No Dagster imports."""

from pipelines.reconciliation.bills import BillInputError
from pipelines.reconciliation.config import CarriersFile
from pipelines.reconciliation.engine import CarrierSettings, PeriodInputs, reconcile
from pipelines.reconciliation.invariants import (
    billed_not_split,
    lines_without_one_finding,
    rollforward_breaks,
    rollforward_chain_breaks,
)
from pipelines.reconciliation.order_cost import order_logistics_cost, unpriceable_shipments
from pipelines.reconciliation.periods import BillingPeriod, bill_periods, billing_periods
from pipelines.reconciliation.result import ReconciliationResult
from pipelines.reconciliation.sink import FindingsSink

__all__ = [
    "BillInputError",
    "BillingPeriod",
    "CarrierSettings",
    "CarriersFile",
    "FindingsSink",
    "PeriodInputs",
    "ReconciliationResult",
    "bill_periods",
    "billed_not_split",
    "billing_periods",
    "lines_without_one_finding",
    "order_logistics_cost",
    "reconcile",
    "rollforward_breaks",
    "rollforward_chain_breaks",
    "unpriceable_shipments",
]
