"""A small hand-computed world for reconciliation tests (cards: tests/rating/builders.py).

Expected charges (EXPR v1, January, fuel 10%):
- S1 US 12345 zone A, 1.2 kg -> 1.5 kg: FREIGHT 15.00, FUEL 1.50, OTHER 1.00 (total 17.50)
- S2 US 99123 zone B remote, 0.3 kg, 40x30x20 -> 5.0 kg: FREIGHT 39.00, FUEL 3.90,
  REMOTE_AREA 15.00, OTHER 1.00 (total 58.90)
- S3 GB zone C, 0.4 kg -> 0.5 kg: FREIGHT 20.00, FUEL 2.00, OTHER 1.00 (total 23.00)
- S4 GB, shipped 2026-02-03 (v2, fuel 12.5%): FREIGHT 20.00, FUEL 2.50, OTHER 1.00 (23.50)
- SB BR: no zone, cannot be priced
- P1 (carrier POST) shares tracking number TRKX1 with nobody in EXPR
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl

from pipelines.rating import RatingResult, build_tables, rate_shipments
from pipelines.reconciliation import (
    BillingPeriod,
    CarrierSettings,
    PeriodInputs,
    ReconciliationResult,
    reconcile,
)
from storage.parts import ParquetFindingsSink
from tests.rating import builders as b

TABLES = build_tables(b.cards())
CARRIERS = b.carriers()
JAN = BillingPeriod("EXPR", date(2026, 1, 1), date(2026, 1, 31))
FEB = BillingPeriod("EXPR", date(2026, 2, 1), date(2026, 2, 28))


def world() -> RatingResult:
    return rate_shipments(
        b.shipments(
            b.shipment("S1", "EXPR", datetime(2026, 1, 5, 9), "US", "12345", "1.2", order_id="O1"),
            b.shipment(
                "S2",
                "EXPR",
                datetime(2026, 1, 6, 9),
                "US",
                "99123",
                "0.3",
                ("40", "30", "20"),
                order_id="O1",
            ),
            b.shipment("S3", "EXPR", datetime(2026, 1, 7, 9), "GB", "EC1A 1BB", "0.4"),
            b.shipment("S4", "EXPR", datetime(2026, 2, 3, 9), "GB", "EC1A 1BB", "0.4"),
            b.shipment("SB", "EXPR", datetime(2026, 1, 8, 9), "BR", "01000", "0.4"),
            b.shipment(
                "P1",
                "POST",
                datetime(2026, 1, 8, 9),
                "DE",
                None,
                "0.4",
                tracking="TRKX1",
                company="CN01",
            ),
        ),
        TABLES,
        b.fx_rates(),
        b.companies(),
    )


RATING = world()


SETTINGS = CarrierSettings(TABLES, CARRIERS)


def run(
    *lines: dict,
    period: BillingPeriod = JAN,
    stated: dict[str, str] | None = None,
    sink: Path | None = None,
    bucket_lines: int = 500_000,
    quarantined_count: int = 0,
) -> ReconciliationResult:
    """Reconcile `lines` in `period`; with `sink`, findings go to Parquet parts there."""
    frame = b.bill_lines(*lines)
    inputs = PeriodInputs(
        frame, b.headers_for(frame, stated), RATING, period, quarantined_count=quarantined_count
    )
    parts = ParquetFindingsSink(sink) if sink is not None else None
    return reconcile(inputs, SETTINGS, parts, bucket_lines=bucket_lines)


def by_line(result: ReconciliationResult) -> dict[tuple[str, int], dict]:
    return {(r["bill_number"], r["line_number"]): r for r in result.findings.iter_rows(named=True)}


def finding_of(result: ReconciliationResult, bill: str, n: int) -> str:
    return by_line(result)[(bill, n)]["finding"]


def findings_frame(result: ReconciliationResult) -> pl.DataFrame:
    return result.findings.select("bill_number", "line_number", "charge_type", "finding")
