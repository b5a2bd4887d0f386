"""Generated movement ledgers for the costing benchmark (vectorised numpy, no row loop).

Tens of thousands of SKUs over three years in 2 companies (EUR, USD) and 4 warehouses:
receipts (some in CNY), sales issues, customer returns of earlier issues, transfers
(intra-company, and a few intercompany at a transfer price), stocktake gains and losses,
and landed costs on some purchase lines. Receipts outweigh issues, so most pools carry
stock, with some negative stock where issues outrun receipts.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import polars as pl

from pipelines.contracts.inputs import COMPANIES, FX_RATES, LANDED_COSTS, MOVEMENTS, SKUS

START = date(2023, 1, 1)
DAYS = 3 * 365
WAREHOUSES = [("C1", "W1"), ("C1", "W2"), ("C2", "W3"), ("C2", "W4")]
DAY_US = 86_400_000_000


def _money(values: np.ndarray, scale: int, dtype: pl.Decimal) -> pl.Series:
    return (pl.Series(values).cast(pl.Decimal(38, 0)) * Decimal(1) / Decimal(scale)).cast(dtype)


def generate(n: int, n_skus: int, seed: int = 7) -> dict[str, pl.DataFrame]:
    """About `n` movements (every transfer is two of them), plus one opening receipt per pool."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(
        ["RECEIPT", "ISSUE", "RETURN", "TRANSFER", "ADJUST_GAIN", "ADJUST_LOSS"],
        size=n,
        p=[0.12, 0.77, 0.04, 0.03, 0.01, 0.03],
    )
    sku = rng.integers(0, n_skus, n)
    wh = rng.integers(0, len(WAREHOUSES), n)
    t = rng.integers(0, DAYS * DAY_US, n)
    qty = np.where(kinds == "RECEIPT", rng.integers(5, 25, n), rng.integers(1, 4, n))
    ids = np.char.add("M", np.arange(n).astype(str))
    company = np.array([c for c, _ in WAREHOUSES])[wh]
    warehouse = np.array([w for _, w in WAREHOUSES])[wh]
    currency = np.where(company == "C1", "EUR", "USD")
    currency = np.where((kinds == "RECEIPT") & (rng.random(n) < 0.3), "CNY", currency)
    priced = (kinds == "RECEIPT") | ((kinds == "ADJUST_GAIN") & (rng.random(n) < 0.5))
    unit_cost = np.where(priced, rng.integers(100_000, 50_000_000, n), 0)
    reference = np.where(kinds == "RECEIPT", np.char.add("PO", (np.arange(n) // 3).astype(str)), "")
    reference = np.where(kinds == "ISSUE", np.char.add("SO", np.arange(n).astype(str)), reference)

    # A return points at an earlier issue of the same SKU (or at nothing known) ...
    span = DAYS * DAY_US
    issues = np.flatnonzero(kinds == "ISSUE")
    issues = issues[np.argsort(sku[issues] * span + t[issues])]
    ikey = sku[issues] * span + t[issues]
    rets = np.flatnonzero(kinds == "RETURN")
    hi = np.searchsorted(ikey, sku[rets] * span + t[rets])
    lo = np.searchsorted(ikey, sku[rets] * span)
    pick = lo + (rng.random(rets.size) * (hi - lo)).astype(np.int64)
    picked = issues[np.minimum(pick, len(issues) - 1)]
    reference[rets] = np.where(hi > lo, ids[picked], "UNKNOWN")
    # ... and comes back to the warehouse it was sold from (a return takes its issue's cost
    # only from an issue of its own company and SKU).
    wh[rets] = np.where(hi > lo, wh[picked], wh[rets])
    company = np.array([c for c, _ in WAREHOUSES])[wh]
    warehouse = np.array([w for _, w in WAREHOUSES])[wh]

    tr = np.flatnonzero(kinds == "TRANSFER")
    reference[tr] = np.char.add("T", tr.astype(str))
    dest = (wh[tr] + np.where(rng.random(tr.size) < 0.9, 1, 2)) % len(WAREHOUSES)
    same = np.array([c for c, _ in WAREHOUSES])[dest] == company[tr]
    arrive = t[tr] + rng.integers(1, 6, tr.size) * DAY_US
    kinds = kinds.astype(object)
    kinds[tr] = "TRANSFER_OUT"
    base = pl.DataFrame(
        {
            "movement_id": ids,
            "occurred_at": t,
            "company": company,
            "warehouse": warehouse,
            "sku": np.char.add("SKU", sku.astype(str)),
            "movement_type": kinds.astype(str),
            "quantity": qty,
            "uc": unit_cost,
            "currency": np.where(priced, currency, ""),
            "reference": reference,
        }
    )
    ins = pl.DataFrame(
        {
            "movement_id": np.char.add(ids[tr], "B"),
            "occurred_at": arrive,
            "company": np.array([c for c, _ in WAREHOUSES])[dest],
            "warehouse": np.array([w for _, w in WAREHOUSES])[dest],
            "sku": np.char.add("SKU", sku[tr].astype(str)),
            "movement_type": np.full(tr.size, "TRANSFER_IN"),
            "quantity": qty[tr],
            "uc": np.where(same, 0, rng.integers(100_000, 50_000_000, tr.size)),
            "currency": np.where(
                same,
                "",
                np.where(np.array([c for c, _ in WAREHOUSES])[dest] == "C1", "EUR", "USD"),
            ),
            "reference": reference[tr],
        }
    )
    pools = n_skus * len(WAREHOUSES)
    pw = np.arange(pools) % len(WAREHOUSES)
    opening = pl.DataFrame(
        {
            "movement_id": np.char.add("OPEN", np.arange(pools).astype(str)),
            "occurred_at": rng.integers(0, 30 * DAY_US, pools),
            "company": np.array([c for c, _ in WAREHOUSES])[pw],
            "warehouse": np.array([w for _, w in WAREHOUSES])[pw],
            "sku": np.char.add("SKU", (np.arange(pools) // len(WAREHOUSES)).astype(str)),
            "movement_type": np.full(pools, "RECEIPT"),
            "quantity": rng.integers(20, 80, pools),
            "uc": rng.integers(100_000, 50_000_000, pools),
            "currency": np.where(np.array([c for c, _ in WAREHOUSES])[pw] == "C1", "EUR", "USD"),
            "reference": np.char.add("OPO", np.arange(pools).astype(str)),
        }
    )
    mv = pl.concat([opening, base, ins]).filter(pl.col("occurred_at") < DAYS * DAY_US)
    mv = mv.with_columns(pl.col("currency", "reference").replace("", None))
    epoch = datetime.combine(START, datetime.min.time())
    mv = mv.with_columns(
        (pl.lit(epoch) + pl.duration(microseconds=pl.col("occurred_at"))).alias("occurred_at"),
        pl.when(pl.col("uc") > 0)
        .then(pl.col("uc").cast(pl.Decimal(38, 0)) * Decimal("0.000001"))
        .cast(MOVEMENTS.schema["unit_cost"])
        .alias("unit_cost"),
    ).select(list(MOVEMENTS.schema))
    mv = mv.cast(dict(MOVEMENTS.schema))

    days = [START + timedelta(days=d) for d in range(DAYS + 10)]
    fx = pl.DataFrame(
        {
            "rate_date": days * 4,
            "currency": ["CNY"] * len(days) * 2 + ["EUR"] * len(days) + ["USD"] * len(days),
            "to_currency": ["EUR"] * len(days)
            + ["USD"] * len(days)
            + ["USD"] * len(days)
            + ["EUR"] * len(days),
            "rate": [Decimal("0.12812345")] * len(days)
            + [Decimal("0.13876543")] * len(days)
            + [Decimal("1.08123456")] * len(days)
            + [Decimal("0.92487500")] * len(days),
        },
        schema=FX_RATES.schema,
    )
    receipts = mv.filter(pl.col("movement_type") == "RECEIPT").select(
        "company", "reference", "occurred_at"
    )
    # Posted a week after the document's last line: every line is received by then, so one
    # call and runs.costing's 31-day chunks allocate over the same lines.
    lc_src = (
        receipts.group_by("reference")
        .agg(pl.col("company").first(), pl.col("occurred_at").max())
        .sort("reference")
        .sample(fraction=0.05, seed=seed)
    )
    lc = lc_src.select(
        ("LC" + pl.col("reference")).alias("landed_cost_id"),
        (pl.col("occurred_at") + pl.duration(days=7)).alias("posted_at"),
        "company",
        pl.col("reference").alias("receipt_reference"),
        pl.lit(Decimal("25.37")).alias("amount"),
        pl.when(pl.col("company") == "C1")
        .then(pl.lit("EUR"))
        .otherwise(pl.lit("USD"))
        .alias("currency"),
        pl.lit("QUANTITY").alias("basis"),
    ).filter(pl.col("posted_at") < epoch + timedelta(days=DAYS))
    lc = lc.cast(dict(LANDED_COSTS.schema))
    skus = pl.DataFrame(
        {
            "sku": [f"SKU{i}" for i in range(n_skus)],
            "weight_kg": [Decimal("0.500")] * n_skus,
            "length_cm": [Decimal("10.0")] * n_skus,
            "width_cm": [Decimal("10.0")] * n_skus,
            "height_cm": [Decimal("10.0")] * n_skus,
        },
        schema=SKUS.schema,
    )
    companies = pl.DataFrame(
        {"company": ["C1", "C2"], "functional_currency": ["EUR", "USD"]}, schema=COMPANIES.schema
    )
    return {
        "movements": mv,
        "fx_rates": fx,
        "companies": companies,
        "landed_costs": lc,
        "skus": skus,
    }
