"""A small hand-built data directory for the restatement tests: real extract files per
load day, a WMS snapshot per day, and helpers to change one day's extract.

CN01 (CNY) stocks 25 filler SKUs and MUG-01 at SZ-DOM, US01 (USD) LAMP-02 at LA-3PL.
The filler SKUs keep the snapshot accuracy of SZ-DOM above 95% when MUG-01's computed
stock disagrees with the WMS (a 1-in-26 discrepancy), so the blocking check lets the
exports through and the discrepancy itself shows in the exports.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from assets.defs.costing import INVENTORY_CHECK_OUTPUTS
from runs.costing import CHANGE_ROW_TABLES, DAILY_OUTPUTS

FIRST = date(2026, 1, 5)
DAYS = [FIRST + timedelta(days=i) for i in range(6)]  # Jan 5 .. Jan 10
FILLERS = [f"F-{i:02d}" for i in range(25)]
HEADER = (
    "movement_id,occurred_at,company,warehouse,sku,movement_type,quantity,unit_cost,currency,"
    "reference"
)

MUG = {
    # day -> movements of MUG-01 at SZ-DOM (CN01, CNY) loaded that day
    DAYS[0]: ["R1,{d} 08:00:00,CN01,SZ-DOM,MUG-01,RECEIPT,100,10.00,CNY,PO-1/1",
              "I1,{d} 12:00:00,CN01,SZ-DOM,MUG-01,ISSUE,30,,,SO-1"],
    DAYS[1]: ["I2,{d} 12:00:00,CN01,SZ-DOM,MUG-01,ISSUE,20,,,SO-2"],
    DAYS[2]: ["R3,{d} 08:00:00,CN01,SZ-DOM,MUG-01,RECEIPT,50,12.00,CNY,PO-3/1",
              "I4,{d} 12:00:00,CN01,SZ-DOM,MUG-01,ISSUE,60,,,SO-4"],
    DAYS[3]: ["I5,{d} 12:00:00,CN01,SZ-DOM,MUG-01,ISSUE,30,,,SO-5"],
    DAYS[4]: ["I7,{d} 12:00:00,CN01,SZ-DOM,MUG-01,ISSUE,20,,,SO-7"],
    DAYS[5]: ["R8,{d} 08:00:00,CN01,SZ-DOM,MUG-01,RECEIPT,40,11.00,CNY,PO-8/1"],
}  # fmt: skip
"""Stock: 100 - 30 = 70; 50; +50 - 60 = 40; 10; 10 - 20 = -10 (short, provisional at R3's
12.00); +40 serves the shortfall (true-up) and leaves 30."""
MUG_STOCK = dict(zip(DAYS, [70, 50, 40, 10, -10, 30], strict=True))
LAMP = {
    DAYS[0]: ["L1,{d} 09:00:00,US01,LA-3PL,LAMP-02,RECEIPT,10,4.50,USD,PO-2/1"],
    DAYS[1]: ["L2,{d} 15:00:00,US01,LA-3PL,LAMP-02,ISSUE,4,,,SO-12"],
    DAYS[3]: ["L3,{d} 15:00:00,US01,LA-3PL,LAMP-02,ISSUE,3,,,SO-13"],
}
LAMP_STOCK = dict(zip(DAYS, [10, 6, 6, 3, 3, 3], strict=True))

BACKDATED_RECEIPT = "RB,2026-01-06 07:00:00,CN01,SZ-DOM,MUG-01,RECEIPT,25,9.00,CNY,PO-B/1"
"""A receipt of Jan 6 that reaches the ledger late (in a later day's extract)."""


def _filler_rows(day: date) -> list[str]:
    """Each filler SKU: 10 received on the first day, 1 issued every later day."""
    if day == FIRST:
        return [
            f"FR-{s},{day} 07:00:00,CN01,SZ-DOM,{s},RECEIPT,10,{1 + i}.25,CNY,PO-F/{i}"
            for i, s in enumerate(FILLERS)
        ]
    return [f"FI-{s}-{day},{day} 16:00:00,CN01,SZ-DOM,{s},ISSUE,1,,,SO-F" for s in FILLERS]


def movements(day: date, extra: tuple[str, ...] = ()) -> str:
    rows = [r.format(d=day) for r in (*MUG.get(day, []), *LAMP.get(day, []))]
    return "\n".join([HEADER, *rows, *_filler_rows(day), *extra]) + "\n"


def snapshot(day: date) -> str:
    """The WMS count: the stock of the original ledger (negative stock counts 0)."""
    lines = ["snapshot_date,warehouse,sku,quantity"]
    lines.append(f"{day},SZ-DOM,MUG-01,{max(MUG_STOCK[day], 0)}")
    lines.append(f"{day},LA-3PL,LAMP-02,{LAMP_STOCK[day]}")
    filler = 10 - (day - FIRST).days
    lines += [f"{day},SZ-DOM,{s},{filler}" for s in FILLERS]
    return "\n".join(lines) + "\n"


def write_data(root: Path, days: list[date] = DAYS) -> Path:
    """Reference files, and the extracts and snapshots of `days`."""
    skus = ["sku,weight_kg,length_cm,width_cm,height_cm", "MUG-01,0.450,12.0,10.0,10.0"]
    skus += ["LAMP-02,1.250,30.0,20.0,20.0", *(f"{s},0.100,5.0,5.0,5.0" for s in FILLERS)]
    rates = ["rate_date,currency,to_currency,rate"]
    rates += [f"{d},USD,CNY,7.10000000" for d in DAYS]
    files = {
        "companies/companies.csv": "company,functional_currency\nCN01,CNY\nUS01,USD\n",
        "warehouses/warehouses.csv": "warehouse,company,country,kind\n"
        "SZ-DOM,CN01,CN,DOMESTIC\nLA-3PL,US01,US,THIRD_PARTY\n",
        "skus/skus.csv": "\n".join(skus) + "\n",
        "fx_rates/fx_rates.csv": "\n".join(rates) + "\n",
    }
    for day in days:
        files[f"movements/{day}.csv"] = movements(day)
        files[f"snapshots/{day}.csv"] = snapshot(day)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def write_extract(root: Path, day: date, text: str) -> None:
    (root / "movements" / f"{day}.csv").write_text(text, encoding="utf-8")


RECORD_EXPORTS = ("costing_restatements", "costing_restated_documents")
"""Exports only a restating run writes (a clean run has nothing to restate)."""
DAILY_EXPORTS = sorted(
    {*DAILY_OUTPUTS, *INVENTORY_CHECK_OUTPUTS, "inventory_valuation", "stock_ageing"}
    - set(CHANGE_ROW_TABLES)
)
"""Every per-day export `costing_exports` writes (costing and the inventory check)."""


def export_digests(data: Path) -> dict[str, str]:
    """sha256 of every per-day costing export file, by path under exports/."""
    folder = data / "exports"
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for name in DAILY_EXPORTS
        for p in sorted((folder / name).glob("*"))
    }


def warehouse_query(data: Path, query: str) -> pl.DataFrame:
    """`query` over the data directory's warehouse, read-only."""
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(query).pl()


def rewritten_partitions(result: dg.ExecuteInProcessResult, asset: str) -> list[str]:
    """The partitions of `asset` a run materialised (asked for, or rewritten by a restatement)."""
    return sorted(
        str(e.partition)
        for e in result.get_asset_materialization_events()
        if e.asset_key.path == [asset]
    )
