"""Small canonical bills: the writer tests' data, and sample files for parser authors.

`python -m demo.bills.samples DIR` writes one small bill per carrier format under DIR
(UPS as its API source file), so template authors have real files to work against
without running the whole demo generator.
"""

from __future__ import annotations

import random
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl

from pipelines.contracts import types as t
from storage.layout import DataLayout

HEADER_SCHEMA = {
    "carrier": pl.String,
    "account": pl.String,
    "bill_number": pl.String,
    "bill_date": pl.Date,
    "period_start": pl.Date,
    "period_end": pl.Date,
    "currency": pl.String,
    "stated_total": t.MONEY,
}
LINE_SCHEMA = {
    "carrier": pl.String,
    "bill_number": pl.String,
    "line_number": pl.Int64,
    "tracking_number": pl.String,
    "shipment_date": pl.Date,
    "billed_weight_kg": t.WEIGHT_KG,
    "zone": pl.String,
    "destination_country": pl.String,
    "charge_type": pl.String,
    "amount": t.MONEY,
}
TRACKING = {
    "DHL": lambda r: f"{r.randrange(10**10):010d}",
    "UPS": lambda r: (
        "1Z" + "".join(r.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16))
    ),
    "FOURPX": lambda r: f"4PX{r.randrange(10**13):013d}CN",
    "YUNEXPRESS": lambda r: f"YT{r.randrange(10**16):016d}",
    "YANWEN": lambda r: f"UG{r.randrange(10**9):09d}CN",
}
CURRENCY = {"DHL": "USD", "UPS": "USD", "FOURPX": "CNY", "YUNEXPRESS": "CNY", "YANWEN": "CNY"}
EXTRAS = ("FUEL", "REMOTE_AREA", "REGISTRATION", "RESIDENTIAL", "OVERSIZE", "CUSTOMS_DUTY")


def sample_bills(
    carrier: str, shipments_per_bill: tuple[int, ...] = (7, 3), seed: int = 1
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Bills with 1-4 charges per shipment, some null zones/weights, a repeated shipment and
    one bill whose stated total differs from its lines (as the generator may inject)."""
    rng = random.Random(seed)
    headers, lines = [], []
    start = date(2026, 1, 1)
    for b, n_shipments in enumerate(shipments_per_bill):
        bill_number = f"{carrier[:3]}-2026-{b + 1:04d}"
        bill_lines = []
        for s in range(n_shipments):
            tracking = TRACKING[carrier](rng)
            ship_day = start + timedelta(days=rng.randrange(28))
            weight = Decimal(rng.randrange(100, 30000)) / 1000 if s % 5 != 4 else None
            zone = str(rng.randrange(1, 9)) if s % 3 else None
            country = rng.choice(["US", "DE", "GB", "FR", "AU"])
            types = ["FREIGHT", *rng.sample(EXTRAS, rng.randrange(0, 4))]
            for charge_type in types:
                amount = Decimal(rng.randrange(-500, 90000)) / 100
                bill_lines.append([tracking, ship_day, weight, zone, country, charge_type, amount])
        if bill_lines:
            bill_lines.append(bill_lines[0][:])  # the same charge billed twice
        for i, row in enumerate(bill_lines, start=1):
            lines.append([carrier, bill_number, i, *row])
        total = sum((row[-1] for row in bill_lines), Decimal("0.00"))
        if b == 1:
            total += Decimal("10.01")
        headers.append(
            [
                carrier,
                f"ACC{b}" if b != 2 else None,
                bill_number,
                date(2026, 2, 1 + b),
                start,
                start + timedelta(days=30),
                CURRENCY[carrier],
                total,
            ]
        )
    return (
        pl.DataFrame(headers, schema=HEADER_SCHEMA, orient="row"),
        pl.DataFrame(lines, schema=LINE_SCHEMA, orient="row"),
    )


def write_samples(root: Path) -> list[Path]:
    """One data directory under `root` with two small bills of every demo carrier."""
    from demo.bills import WRITERS, write_bills

    layout = DataLayout(root)
    paths = []
    for carrier in WRITERS:
        headers, lines = sample_bills(carrier, shipments_per_bill=(12, 4))
        paths += write_bills(carrier, headers, lines, layout)
    return paths


if __name__ == "__main__":
    for path in write_samples(Path(sys.argv[1] if len(sys.argv) > 1 else "bill_samples")):
        print(path)
