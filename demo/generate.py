"""`reckon demo-data`: a deterministic, scalable demo data directory with its ground truth.

Writes the DataLayout (storage/layout.py): reference tables as one CSV each,
daily tables as one file per load day (movements and snapshots as Parquet,
landed costs and shipments as CSV, so both readers are exercised), the demo
rate cards and carriers.yaml, the carriers' bills in their own styles, and
`ground_truth/*.parquet` naming every injected anomaly (docs/demo-data.md).

Memory stays bounded by one day of movements plus the pending future events
(arrivals, returns, late documents): days are simulated and written one at a
time, and bills are built one carrier billing period at a time from the
shipment files already written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from demo.billing import BillingResult, write_carrier_bills
from demo.ledger import Simulation
from demo.orders import OrderMaker
from demo.quota import Quota
from demo.rate_cards import write_demo_rate_cards
from demo.reference import (
    build_catalogue,
    build_fx_path,
    companies_frame,
    fx_frame,
    skus_frame,
    warehouses_frame,
)
from demo.shipments import ShipmentMaker, tracking_offsets
from demo.tables import LOAD_INDEX, LandedCostMaker, movement_frame, snapshot_frames
from demo.world import CARRIERS, AnomalyRates, Volume
from storage.layout import DataLayout

GENERATED_TABLES = ("companies", "warehouses", "skus", "fx_rates", "movements", "landed_costs")
GENERATED_TABLES += ("snapshots", "shipments", "ground_truth", "orders", "order_lines")
GENERATED_TABLES += ("order_refunds",)

BILL_AND_TABLE_SUFFIXES = (".csv", ".parquet", ".json", ".xml", ".xlsx", ".pdf")
NEGATIVE_SCHEMA = {
    "movement_id": pl.String,
    "occurred_at": pl.Datetime("us"),
    "warehouse": pl.String,
    "sku": pl.String,
    "movement_type": pl.String,
}


@dataclass
class GenerationSummary:
    """What one run wrote: rows per table, anomalies per kind, files, time."""

    out: Path
    scale: int
    seed: int
    start: date
    end: date
    rows: dict[str, int] = field(default_factory=dict)
    anomalies: dict[str, int] = field(default_factory=dict)
    eligible: dict[str, int] = field(default_factory=dict)
    """How many items each anomaly rate was applied to (anomalies / eligible ~ rate)."""
    files: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        width = max(len(k) for k in (*self.rows, *self.anomalies, "x"))
        lines = [
            f"demo data in {self.out}",
            f"  scale {self.scale}, seed {self.seed}, {self.start} .. {self.end} "
            f"({(self.end - self.start).days + 1} days), {self.files} files, {self.seconds:.1f}s",
            "  rows:",
            *(f"    {k:<{width}} {v:>12,}" for k, v in self.rows.items()),
            "  injected anomalies (ground_truth/):",
            *(
                f"    {k:<{width}} {v:>12,}"
                + (f"  of {self.eligible[k]:,}" if k in self.eligible else "")
                for k, v in self.anomalies.items()
            ),
        ]
        return "\n".join(lines)


def generate(
    out: Path,
    scale: int = 1,
    seed: int = 7,
    start: date = date(2026, 1, 1),
    end: date = date(2026, 3, 31),
    *,
    snapshot_every: int = 1,
    bills: bool = True,
    rates: AnomalyRates | None = None,
) -> GenerationSummary:
    """Generate the demo data directory `out` (see docs/demo-data.md).

    `scale` multiplies the business (world.Volume: orders/day = 25 x (scale + 5),
    SKUs = 2000 x sqrt(scale)); the same arguments always give byte-identical
    files. `snapshot_every` writes the WMS snapshot every N days only (large
    scales: snapshots are the biggest table). `bills=False` skips rate cards and
    bills (ledger-only data for costing benchmarks).
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if snapshot_every < 1:
        raise ValueError(f"snapshot_every must be >= 1, got {snapshot_every}")
    began = time.perf_counter()
    rates = rates or AnomalyRates()
    volume = Volume(scale)
    layout = DataLayout(Path(out))
    _clear_previous_output(layout)
    n_days = (end - start).days + 1
    summary = GenerationSummary(Path(out), scale, seed, start, end)
    written: list[Path] = []

    catalogue = build_catalogue(np.random.default_rng([seed, 1]), volume.skus)
    fx = build_fx_path(np.random.default_rng([seed, 2]), start, n_days)
    reference = {
        "companies": companies_frame(),
        "warehouses": warehouses_frame(),
        "skus": skus_frame(catalogue),
        "fx_rates": fx_frame(fx),
    }
    for name, frame in reference.items():
        written.append(_write(frame, layout.input_dir(name) / f"{name}.csv"))
        summary.rows[name] = frame.height

    sim = Simulation(
        np.random.default_rng([seed, 3]),
        catalogue,
        fx,
        volume.orders_per_day,
        n_days,
        start.weekday(),
        rates,
    )
    offsets = tracking_offsets(np.random.default_rng([seed, 5]))
    orders = OrderMaker(sim, np.random.default_rng([seed, 6]))
    written.extend(_write_days(sim, layout, start, snapshot_every, rates, offsets, summary, orders))

    if bills:
        write_demo_rate_cards(layout.root, start, end)
        written.extend(sorted(layout.rate_cards_dir.glob("*.yaml")))
        written.append(layout.carriers_file)
        result: BillingResult = write_carrier_bills(
            layout, start, end, rates, np.random.default_rng([seed, 4]), offsets
        )
        written.extend(result.files)
        summary.rows.update(bills=result.bill_count, bill_lines=result.line_count)
        summary.anomalies.update(result.anomaly_counts)
        summary.eligible.update(result.eligible)
    summary.files = len(written)
    summary.seconds = time.perf_counter() - began
    return summary


def _write_days(
    sim: Simulation,
    layout: DataLayout,
    start: date,
    snapshot_every: int,
    rates: AnomalyRates,
    offsets: dict[str, int],
    summary: GenerationSummary,
    orders: OrderMaker,
) -> list[Path]:
    """Simulate and write every day (movements by load day, shipments, landed costs,
    snapshots, the order centre's extracts), then the ledger's ground truth; fills
    `summary`, returns the files."""
    written: list[Path] = []
    shipment_maker = ShipmentMaker(sim, offsets)
    landed = LandedCostMaker(sim)
    snapshot_quota = Quota(rates.snapshot_discrepancy)
    late_pending: dict[int, list[pl.DataFrame]] = {}
    truth: dict[str, list[pl.DataFrame]] = {"late": [], "negative": [], "snapshot": []}
    counts = dict.fromkeys(("movements", "landed_costs", "snapshots", "shipments"), 0)
    counts.update(dict.fromkeys(("orders", "order_lines", "order_refunds"), 0))
    injected_receipts = 0
    for i in range(sim.n_days):
        day_date = start + timedelta(days=i)
        first_order = sim.counters["order"] + 1
        day = sim.step(i)
        moves = movement_frame(sim, day)
        extracts = orders.day(i, moves, range(first_order, sim.counters["order"] + 1))
        for name, frame in zip(("orders", "order_lines", "order_refunds"), extracts, strict=True):
            written.append(_write(frame, layout.input_dir(name) / f"{day_date}.csv"))
            counts[name] += frame.height
        late = moves.filter(pl.col(LOAD_INDEX) > i)
        for (load,), part in late.partition_by(LOAD_INDEX, as_dict=True).items():
            late_pending.setdefault(int(load), []).append(part)
        truth["late"].append(
            late.select(
                "movement_id",
                "occurred_at",
                (pl.lit(start) + pl.duration(days=pl.col(LOAD_INDEX)))
                .cast(pl.Date)
                .alias("load_date"),
            )
        )
        negative_ids = "MV" + pl.Series(day.negative_seq).cast(pl.String).str.zfill(10)
        truth["negative"].append(
            moves.filter(pl.col("movement_id").is_in(negative_ids.implode())).select(
                list(NEGATIVE_SCHEMA)
            )
        )
        injected_receipts += len(day.injected_receipt_seq)
        today = pl.concat([moves.filter(pl.col(LOAD_INDEX) == i), *late_pending.pop(i, [])])
        today = today.drop(LOAD_INDEX)
        written.append(_write(today, layout.input_dir("movements") / f"{day_date}.parquet"))
        counts["movements"] += today.height

        shipments = shipment_maker.day(day)
        written.append(_write(shipments, layout.input_dir("shipments") / f"{day_date}.csv"))
        counts["shipments"] += shipments.height

        landed.day(day)
        posted = landed.posted_on(i)
        written.append(_write(posted, layout.input_dir("landed_costs") / f"{day_date}.csv"))
        counts["landed_costs"] += posted.height

        if i % snapshot_every == 0 or i == sim.n_days - 1:
            snapshot, wrong = snapshot_frames(sim, day, snapshot_quota)
            written.append(_write(snapshot, layout.input_dir("snapshots") / f"{day_date}.parquet"))
            counts["snapshots"] += snapshot.height
            truth["snapshot"].append(wrong)

    ground = layout.ground_truth_dir
    late_frame = pl.concat(truth["late"]).sort("movement_id")
    negative_frame = pl.concat(truth["negative"]).sort("movement_id")
    snapshot_frame = pl.concat(truth["snapshot"]).sort("snapshot_date", "warehouse", "sku")
    written.append(_write(late_frame, ground / "late_documents.parquet"))
    written.append(_write(negative_frame, ground / "negative_stock.parquet"))
    written.append(_write(snapshot_frame, ground / "snapshot_discrepancies.parquet"))
    summary.rows.update(counts)
    summary.anomalies.update(
        late_documents=late_frame.height,
        negative_stock_receipts=injected_receipts,
        negative_stock_movements=negative_frame.height,
        snapshot_discrepancies=snapshot_frame.height,
    )
    summary.eligible.update(
        late_documents=sim.late_quota.eligible,
        negative_stock_receipts=sim.negative_quota.eligible,
        snapshot_discrepancies=snapshot_quota.eligible,
    )
    return written


def _write(frame: pl.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path, compression="zstd", statistics=True)
    return path


def _clear_previous_output(layout: DataLayout) -> None:
    """Remove what an earlier run wrote (the generator's own tables and the demo carriers'
    bills), so a rerun with another range leaves no stale day files or bills behind."""
    folders = [layout.input_dir(table) for table in GENERATED_TABLES]
    folders += [
        root / carrier
        for root in (layout.bills_inbox, layout.bills_api_dir)
        for carrier in CARRIERS
    ]
    for folder in folders:
        if folder.is_dir():
            for path in folder.iterdir():
                if path.is_file() and path.suffix in BILL_AND_TABLE_SUFFIXES:
                    path.unlink()


__all__ = ["GenerationSummary", "generate"]
