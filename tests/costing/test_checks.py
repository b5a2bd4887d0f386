"""Invariant checks (future Dagster asset checks), ageing buckets and the T-1 snapshot check."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import polars as pl
from hypothesis import HealthCheck, given, settings

from pipelines.contracts.inputs import SNAPSHOTS
from pipelines.costing import CostingPolicy, cost_range
from pipelines.costing.invariants import (
    journal_balance_violations,
    negative_layer_violations,
    open_layers_vs_balance_violations,
    roll_forward_violations,
)
from pipelines.inventory_check import check_snapshot
from tests.costing.helpers import inputs, move
from tests.costing.ledgers import END, START, frames, ledgers


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_invariants_hold_on_random_ledgers(rows: list[dict]) -> None:
    r = cost_range(frames(rows), None, START, END)
    assert roll_forward_violations(r.valuation).is_empty()
    assert open_layers_vs_balance_violations(r).is_empty()
    assert negative_layer_violations(r.open_layers).is_empty()
    assert journal_balance_violations(r.journals).is_empty()


def _small():
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 3, cost="1"),
        move("i1", "2026-01-02T09:00", "ISSUE", 1),
    ]
    return cost_range(inputs(rows), None, date(2026, 1, 1), date(2026, 1, 3))


def test_checks_report_broken_figures() -> None:
    r = _small()
    broken = r.valuation.with_columns(pl.col("closing_value") + D("0.01"))
    assert roll_forward_violations(broken).height == 2
    layers = r.open_layers.with_columns(pl.lit(-1, pl.Int64).alias("quantity"))
    assert negative_layer_violations(layers).height == 1
    journals = r.journals.with_columns(pl.col("debit") + D("1"))
    assert journal_balance_violations(journals).height == 2
    tampered = type(r)(
        **{**r.__dict__, "open_layers": r.open_layers.with_columns(pl.col("value") * 2)}
    )
    bad = open_layers_vs_balance_violations(tampered)
    assert bad.select("closing_value", "layers_net_value").rows() == [(D("2.00"), D("4.00"))]


def test_ageing_buckets_follow_the_receipt_date_and_are_configurable() -> None:
    rows = [
        move("r1", "2025-01-01T09:00", "RECEIPT", 2, cost="1"),
        move("r2", "2025-12-01T09:00", "RECEIPT", 1, cost="2"),
        move("r3", "2026-01-01T09:00", "RECEIPT", 1, cost="3"),
    ]
    r = cost_range(inputs(rows), None, date(2025, 1, 1), date(2026, 1, 1))
    got = r.ageing_on(date(2026, 1, 1)).select("bucket", "quantity", "value").rows()
    # ages: 365 days -> 181-365, 31 days -> 31-60, 0 days -> 0-30.
    assert got == [("0-30", 1, D("3.00")), ("31-60", 1, D("2.00")), ("181-365", 2, D("2.00"))]
    assert r.ageing_on(date(2025, 1, 31)).select("bucket", "quantity").rows() == [("0-30", 2)]
    assert r.ageing_on(date(2025, 2, 1)).select("bucket", "quantity").rows() == [("31-60", 2)]
    custom = cost_range(
        inputs(rows), None, date(2025, 1, 1), date(2026, 1, 1), CostingPolicy(age_buckets=(100,))
    )
    got = custom.ageing_on(date(2026, 1, 1)).select("bucket", "quantity").rows()
    assert got == [("0-100", 2), (">100", 2)]


def test_snapshot_check_lists_discrepancies_and_accuracy_per_warehouse() -> None:
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 3, cost="1"),
        move("r2", "2026-01-01T09:00", "RECEIPT", 2, cost="1", sku="S2"),
        move("r3", "2026-01-01T09:00", "RECEIPT", 1, cost="1", wh="W2"),
    ]
    r = cost_range(inputs(rows), None, date(2026, 1, 1), date(2026, 1, 1))
    day = date(2026, 1, 1)
    snaps = pl.DataFrame(
        [
            {"snapshot_date": day, "warehouse": "W1", "sku": "S1", "quantity": 3},
            {"snapshot_date": day, "warehouse": "W1", "sku": "S2", "quantity": 1},
            {"snapshot_date": day, "warehouse": "W1", "sku": "S3", "quantity": 4},
            {"snapshot_date": day, "warehouse": "W2", "sku": "S1", "quantity": 1},
        ],
        schema=SNAPSHOTS.schema,
    )
    check = check_snapshot(r.valuation_on(day), snaps, day)
    assert check.discrepancies.select(
        "warehouse", "sku", "computed_qty", "snapshot_qty"
    ).rows() == [
        ("W1", "S2", 2, 1),
        ("W1", "S3", 0, 4),
    ]
    assert check.accuracy.select("warehouse", "rows", "matching", "accuracy").rows() == [
        ("W1", 3, 1, 1 / 3),
        ("W2", 1, 1, 1.0),
    ]
