"""The carriers' bills: billed as contracted, then anomalies injected at known rates.

Per carrier and billing period (pipelines/reconciliation/periods.py), the
period's shipments are priced by the row-by-row reference pricer
(oracles/rating.py), not by the rating engine that reconciliation checks them
with, so the correct lines are what the contract says even where the engine is
wrong (a rating bug then shows as findings the ground truth lacks). Then, on
disjoint sets of shipments (one anomaly per affected shipment, so reconciliation can
reach 100% precision and recall against ground_truth/bill_anomalies.parquet):

- UNBILLED: left off the bill (ground_truth/unbilled.parquet, reason INJECTED);
- WEIGHT_DISCREPANCY: billed at a weight at least max(50%, 0.5 kg) above our
  chargeable weight and priced at that weight; the FREIGHT line, and the FUEL
  line computed on that freight, carry the finding (reconciliation derives the
  fuel finding from the freight it rests on); other lines stay as contracted;
- RATE_MISMATCH: FREIGHT overcharged by max(6-25%, 1.00); always upwards, so
  the fuel on the approved freight stays right;
- FUEL_MISMATCH: FUEL overcharged by max(25%, 0.50) on a correct freight;
- UNCONTRACTED_CHARGE: an extra line of a charge type the contract does not allow;
- DUPLICATE: the FREIGHT line billed again at the end of the same bill or of
  the carrier's next bill; the copy is the anomaly, the first occurrence is OK;
- UNKNOWN_SHIPMENT: extra lines for tracking numbers never shipped (valid
  format of the carrier), or shipped by another carrier in the same period.

A bill is issued a few days after its period ends; a period whose bill date
falls after the generated range is still open and naturally unbilled
(ground_truth/unbilled.parquet, reason OPEN_PERIOD).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from demo.bill_lines import CarrierState, bill_lines
from demo.bills import write_bills
from demo.quota import Quota
from demo.reference import scaled_decimal
from demo.world import CARRIERS, AnomalyRates
from pipelines.contracts import inputs as contracts
from pipelines.contracts import types as t
from pipelines.rating import build_tables
from pipelines.reconciliation.periods import billing_periods
from storage.config import load_carriers, load_rate_cards
from storage.layout import DataLayout

BILL_DELAY_DAYS = {"DHL": 4, "UPS": 2, "FOURPX": 3, "YUNEXPRESS": 5, "YANWEN": 3}
ACCOUNTS = {
    "DHL": "952184710",
    "UPS": "A8R476",
    "FOURPX": "SZ-88310",
    "YUNEXPRESS": "YT-C10872",
    "YANWEN": "YW440317",
}
BILL_PREFIX = {
    "DHL": "MYB",
    "UPS": "UPSINV",
    "FOURPX": "4PXB",
    "YUNEXPRESS": "YTB",
    "YANWEN": "YWB",
}
ANOMALIES = (
    "DUPLICATE",
    "WEIGHT_DISCREPANCY",
    "RATE_MISMATCH",
    "FUEL_MISMATCH",
    "UNKNOWN_SHIPMENT",
    "UNCONTRACTED_CHARGE",
)
TRUTH_SCHEMA = {
    "carrier": pl.String,
    "bill_number": pl.String,
    "line_number": pl.Int64,
    "tracking_number": pl.String,
    "charge_type": pl.String,
    "anomaly": pl.String,
}
UNBILLED_SCHEMA = {
    "shipment_id": pl.String,
    "carrier": pl.String,
    "period": pl.Date,
    "period_end": pl.Date,
    "reason": pl.String,
}


@dataclass
class BillingResult:
    files: list[Path] = field(default_factory=list)
    bill_count: int = 0
    line_count: int = 0
    anomaly_counts: dict[str, int] = field(default_factory=dict)
    eligible: dict[str, int] = field(default_factory=dict)


def write_carrier_bills(
    layout: DataLayout,
    start: date,
    end: date,
    rates: AnomalyRates,
    rng: np.random.Generator,
    tracking_offsets: dict[str, int],
) -> BillingResult:
    """Write every issued bill of [start, end] and ground_truth/{bill_anomalies,unbilled}."""
    cards = load_rate_cards(layout.rate_cards_dir)
    tables = build_tables(cards)
    config = load_carriers(layout.carriers_file)
    result = BillingResult()
    truth: list[pl.DataFrame] = []
    unbilled: list[pl.DataFrame] = []
    for carrier in CARRIERS:
        state = CarrierState(
            {name: Quota(getattr(rates, name.lower())) for name in (*ANOMALIES, "UNBILLED")}
        )
        periods = billing_periods(config.get(carrier), start, end)
        for index, period in enumerate(periods):
            shipped = _period_shipments(layout, max(period.start, start), min(period.end, end))
            ships = shipped.filter(pl.col("carrier") == carrier)
            bill_date = period.end + timedelta(days=BILL_DELAY_DAYS[carrier])
            if bill_date > end or period.end > end:
                unbilled.append(_unbilled(ships, carrier, period.start, period.end, "OPEN_PERIOD"))
                continue
            following = periods[index + 1] if index + 1 < len(periods) else None
            next_issued = (
                following is not None
                and following.end + timedelta(days=BILL_DELAY_DAYS[carrier]) <= end
            )
            others = shipped.filter(pl.col("carrier") != carrier)
            bill_number = f"{BILL_PREFIX[carrier]}-{ACCOUNTS[carrier]}-{period.start:%Y%m%d}"
            lines, skipped = bill_lines(
                ships,
                others,
                carrier,
                cards,
                tables,
                state,
                rng,
                next_issued,
                tracking_offsets[carrier],
            )
            unbilled.append(_unbilled(skipped, carrier, period.start, period.end, "INJECTED"))
            if not lines.height:
                continue  # nothing shipped: no bill
            lines = lines.with_columns(
                pl.lit(bill_number).alias("bill_number"),
                pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("line_number"),
            )
            truth.append(
                lines.filter(pl.col("anomaly").is_not_null()).select(
                    "carrier",
                    "bill_number",
                    "line_number",
                    "tracking_number",
                    "charge_type",
                    "anomaly",
                )
            )
            header = pl.DataFrame(
                {
                    "carrier": [carrier],
                    "account": [ACCOUNTS[carrier]],
                    "bill_number": [bill_number],
                    "bill_date": [bill_date],
                    "period_start": [period.start],
                    "period_end": [period.end],
                    "currency": [config.get(carrier).currency],
                    "cents": [int(lines["cents"].sum())],
                }
            ).select(
                pl.exclude("cents"),
                scaled_decimal(pl.col("cents"), 2, t.MONEY).alias("stated_total"),
            )
            canonical = lines.select(
                "carrier",
                "bill_number",
                "line_number",
                "tracking_number",
                "shipment_date",
                "billed_weight_kg",
                "zone",
                "destination_country",
                "charge_type",
                scaled_decimal(pl.col("cents"), 2, t.MONEY).alias("amount"),
            )
            result.files.extend(write_bills(carrier, header, canonical, layout))
            result.bill_count += 1
            result.line_count += canonical.height
        for name, quota in state.quotas.items():
            result.eligible[name] = result.eligible.get(name, 0) + quota.eligible
    truth_frame = pl.concat(truth) if truth else pl.DataFrame(schema=TRUTH_SCHEMA)
    unbilled_frame = pl.concat(unbilled).sort("carrier", "shipment_id")
    ground = layout.ground_truth_dir
    ground.mkdir(parents=True, exist_ok=True)
    for frame, name in ((truth_frame, "bill_anomalies"), (unbilled_frame, "unbilled")):
        path = ground / f"{name}.parquet"
        frame.write_parquet(path, compression="zstd")
        result.files.append(path)
    # Rates are per shipment, so the summary counts affected shipments (ground truth has lines).
    counts = truth_frame.group_by("anomaly").agg(pl.struct("carrier", "tracking_number").n_unique())
    result.anomaly_counts = {a: 0 for a in ANOMALIES} | dict(counts.iter_rows())
    result.anomaly_counts["bill_anomaly_lines"] = truth_frame.height
    result.anomaly_counts["UNBILLED"] = unbilled_frame.filter(pl.col("reason") == "INJECTED").height
    result.anomaly_counts["UNBILLED_OPEN_PERIOD"] = unbilled_frame.filter(
        pl.col("reason") == "OPEN_PERIOD"
    ).height
    return result


def _period_shipments(layout: DataLayout, first: date, last: date) -> pl.DataFrame:
    """Shipments of the days [first, last], read back from the day files already written."""
    folder = layout.input_dir("shipments")
    days = (first + timedelta(days=offset) for offset in range((last - first).days + 1))
    files = [folder / f"{day}.csv" for day in days]
    parts = [pl.read_csv(p, schema=contracts.SHIPMENTS.schema) for p in files if p.is_file()]
    return pl.concat(parts) if parts else pl.DataFrame(schema=contracts.SHIPMENTS.schema)


def _unbilled(
    ships: pl.DataFrame, carrier: str, first: date, last: date, reason: str
) -> pl.DataFrame:
    return ships.select(
        "shipment_id",
        pl.lit(carrier).alias("carrier"),
        pl.lit(first).alias("period"),
        pl.lit(last).alias("period_end"),
        pl.lit(reason).alias("reason"),
    ).cast(UNBILLED_SCHEMA)
