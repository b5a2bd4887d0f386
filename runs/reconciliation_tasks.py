"""Carrier billing periods reconciled as tasks of a Dask cluster (runs/distributed.py).

A period's reconciliation needs only its carrier's bills, the carrier's rated shipments and
every carrier's tracking numbers: nothing of another period. So on a cluster the run writes
those frames once per carrier as Parquet under `<storage URL>/reconciliation/<token>/in`,
each period becomes a task that reconciles it on a worker (`reconcile_period_task`) and
writes its outputs to its own folder, and the run reads them back, checks the period's
invariants and stores it in the warehouse, in one transaction, as it does in process.

Bad input met in a task (the errors of `INPUT_ERRORS`) fails that period alone, as in
process: the task returns the reason instead of raising, so the other periods' results
are still gathered.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import polars as pl

from pipelines.fx import MissingFxRate
from pipelines.rating import RatingResult
from pipelines.reconciliation import (
    BillingPeriod,
    CarrierSettings,
    PeriodInputs,
    ReconciliationResult,
    reconcile,
)
from pipelines.reconciliation.bills import BillInputError
from pipelines.reconciliation.matching import AmbiguousShipment
from runs.distributed import Executor
from storage.schema import ContractViolation
from storage.task_frames import join_url, read_frames, remove_folder, write_frames

INPUT_ERRORS = (BillInputError, AmbiguousShipment, MissingFxRate, ContractViolation)
"""Bad input that fails the carrier or period it is met in, never the others."""

CARRIER_FRAMES = (
    "bill_lines",
    "bill_headers",
    "shipment_ratings",
    "expected_charges",
    "other_shipments",
)
RESULT_FRAMES = (
    "findings",
    "period_summary",
    "payable_vouchers",
    "disputes",
    "accruals",
    "accrual_rollforward",
)


def reconcile_on_workers(
    executor: Executor,
    storage_url: str,
    inputs: PeriodInputs,
    periods: Sequence[BillingPeriod],
    settings: CarrierSettings,
) -> list[ReconciliationResult | str]:
    """Reconcile one carrier's `periods` as tasks (`inputs.period` is not used): per period,
    its result, or why bad input failed it."""
    run_url = join_url(storage_url, "reconciliation", secrets.token_hex(8))
    try:
        carrier_url = join_url(run_url, "in")
        write_frames(carrier_url, _carrier_frames(inputs))
        calls = [
            (carrier_url, period, settings, join_url(run_url, f"{period.carrier}_{period.start}"))
            for period in periods
        ]
        done = executor.map(reconcile_period_task, calls)
        return [_read_result(url) if failure is None else failure for url, failure in done]
    finally:
        remove_folder(run_url)


def reconcile_period_task(
    carrier_url: str, period: BillingPeriod, settings: CarrierSettings, out_url: str
) -> tuple[str, str | None]:
    """A worker's task: reconcile `period` from the carrier's frames under `carrier_url`,
    write its outputs to `out_url`; returns (out_url, None), or (out_url, why) when bad
    input fails the period. Reads and writes nothing else (never the warehouse)."""
    frames = read_frames(carrier_url, CARRIER_FRAMES)
    rating = RatingResult(frames["shipment_ratings"], frames["expected_charges"])
    inputs = PeriodInputs(
        frames["bill_lines"],
        frames["bill_headers"],
        rating,
        period,
        other_shipments=frames["other_shipments"],
    )
    try:
        result = reconcile(inputs, settings)
    except INPUT_ERRORS as exc:
        return out_url, str(exc)
    write_frames(out_url, {name: getattr(result, name) for name in RESULT_FRAMES})
    return out_url, None


def _carrier_frames(inputs: PeriodInputs) -> dict[str, pl.DataFrame]:
    others = inputs.other_shipments
    if others is None:
        raise ValueError("a period reconciled as a task needs every carrier's tracking numbers")
    return {
        "bill_lines": inputs.bill_lines,
        "bill_headers": inputs.bill_headers,
        "shipment_ratings": inputs.rating.shipment_ratings,
        "expected_charges": inputs.rating.expected_charges,
        "other_shipments": others,
    }


def _read_result(url: str) -> ReconciliationResult:
    frames = read_frames(url, RESULT_FRAMES)
    return ReconciliationResult(
        period_summary=frames["period_summary"],
        payable_vouchers=frames["payable_vouchers"],
        disputes=frames["disputes"],
        accruals=frames["accruals"],
        accrual_rollforward=frames["accrual_rollforward"],
        findings_in_memory=frames["findings"],
    )
