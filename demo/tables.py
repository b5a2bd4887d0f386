"""One simulated day as contract tables: movements, landed costs and the WMS snapshot.

Identifiers are derived from the simulation's integer sequences (movement
MV0000000001, sales order SO0000000001, purchase document PO000000001,
transfer TR000000001), so the same seed gives the same ids and the cross
references the engines rely on (RETURN -> issue, receipt <- landed cost,
issue <-> shipment order) hold by construction.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from demo.events import (
    CURRENCIES,
    DAY_US,
    ISSUE,
    RECEIPT,
    RETURN,
    TRANSFER_IN,
    TRANSFER_OUT,
    TYPES,
)
from demo.ledger import Day, Simulation
from demo.quota import Quota
from demo.reference import scaled_decimal
from demo.world import WAREHOUSES
from pipelines.contracts import inputs as contracts
from pipelines.contracts import types as t

LOAD_INDEX = "_load_index"
LANDED_BASES = ("QUANTITY", "VALUE", "WEIGHT", "VOLUME")


def padded(prefix: str, values: pl.Expr, width: int) -> pl.Expr:
    return pl.concat_str(pl.lit(prefix), values.cast(pl.String).str.zfill(width))


def movement_frame(sim: Simulation, day: Day) -> pl.DataFrame:
    """The day's movements in the MOVEMENTS contract, plus `_load_index` (the file's day)."""
    m = day.movements
    n = sim.catalogue.size
    raw = pl.DataFrame(
        {
            "seq": day.seq,
            "time_us": m.time_us,
            "wh": m.pool // n,
            "sku_index": m.pool % n,
            "kind": m.kind,
            "quantity": m.qty,
            "cost_micro": m.cost_micro,
            "currency_index": m.currency,
            "ref": m.ref,
            LOAD_INDEX: day.load_index,
        }
    )
    kind = pl.col("kind")
    warehouse = pl.col("wh").replace_strict(
        dict(enumerate(w.code for w in WAREHOUSES)), return_dtype=pl.String
    )
    company = pl.col("wh").replace_strict(
        dict(enumerate(w.company for w in WAREHOUSES)), return_dtype=pl.String
    )
    day_stamp = (sim.fx.start + timedelta(days=day.index)).strftime("%Y%m%d")
    reference = (
        pl.when(kind == RECEIPT)
        .then(padded("PO", pl.col("ref"), 9))
        .when(kind == ISSUE)
        .then(padded("SO", pl.col("ref"), 10))
        .when(kind == RETURN)
        .then(padded("MV", pl.col("ref"), 10))
        .when(kind.is_in([TRANSFER_OUT, TRANSFER_IN]))
        .then(padded("TR", pl.col("ref"), 9))
        .otherwise(pl.concat_str(pl.lit("ST-"), warehouse, pl.lit(f"-{day_stamp}")))
    )
    has_cost = pl.col("cost_micro") >= 0
    return raw.select(
        padded("MV", pl.col("seq"), 10).alias("movement_id"),
        pl.col("time_us").cast(pl.Datetime("us")).alias("occurred_at"),
        company.alias("company"),
        warehouse.alias("warehouse"),
        sku_id(pl.col("sku_index")).alias("sku"),
        kind.replace_strict(dict(enumerate(TYPES)), return_dtype=pl.String).alias("movement_type"),
        pl.col("quantity").cast(t.QUANTITY),
        pl.when(has_cost)
        .then(scaled_decimal(pl.col("cost_micro"), 6, t.UNIT_COST))
        .alias("unit_cost"),
        pl.when(has_cost)
        .then(
            pl.col("currency_index").replace_strict(
                dict(enumerate(CURRENCIES)), default=None, return_dtype=pl.String
            )
        )
        .alias("currency"),
        reference.alias("reference"),
        pl.col(LOAD_INDEX),
    )


def sku_id(index: pl.Expr) -> pl.Expr:
    """SKU index -> id, the same naming as demo.reference.build_catalogue."""
    return padded("SKU", index + 1, 6)


class LandedCostMaker:
    """Freight, duty and fees posted against the purchase deliveries received each day.

    A delivery (one purchase document: a warehouse's lines from one supplier) gets
    a landed-cost document with the warehouse's probability, posted 0-10 days
    after receipt (never before the receipt's own file arrives), sometimes a
    second one for duty; each is a share of the delivery value, in the currency
    the forwarder bills (CNY in China, USD in the US, EUR in Germany), on a
    basis chosen from the four DOMAIN.md allows ("Landed cost").
    """

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.pending: dict[int, list[pl.DataFrame]] = {}
        self.count = 0

    def day(self, day: Day) -> None:
        sim, rng, m = self.sim, self.sim.rng, day.movements
        receipts = np.flatnonzero(m.kind == RECEIPT)
        if day.index == 0 or not len(receipts):
            return  # the first morning's receipts are opening stock, not purchases
        docs = (
            pl.DataFrame(
                {
                    "doc": m.ref[receipts],
                    "wh": m.pool[receipts] // sim.catalogue.size,
                    "value_micro": m.qty[receipts] * m.cost_micro[receipts],
                    "currency": m.currency[receipts],
                    "load": day.load_index[receipts],
                }
            )
            .group_by("doc")
            .agg(
                pl.col("wh").first(),
                pl.col("value_micro").sum(),
                pl.col("currency").first(),
                pl.col("load").max(),
            )
            .sort("doc")
        )
        share = np.array([w.landed_cost_share for w in WAREHOUSES])[docs["wh"].to_numpy()]
        docs = docs.filter(pl.Series(rng.random(docs.height) < share))
        second = docs.filter(pl.Series(rng.random(docs.height) < 0.3))
        docs = pl.concat([docs, second]).sort("doc")
        count = docs.height
        if not count:
            return
        usd_cny = sim.fx.usd_cny[day.index] / 1e8
        eur_usd = sim.fx.eur_usd[day.index] / 1e8
        target = np.array([CURRENCIES.index(w.landed_cost_currency) for w in WAREHOUSES])[
            docs["wh"].to_numpy()
        ]
        value_cny = (
            docs["value_micro"].to_numpy()
            / 1e4
            * np.where(docs["currency"].to_numpy() == 1, usd_cny, 1.0)
        )
        per_unit = np.choose(target, [1.0, 1 / usd_cny, 1 / usd_cny / eur_usd])
        cents = np.maximum(np.round(value_cny * per_unit * rng.uniform(0.03, 0.12, count)), 1)
        posted = np.maximum(day.index + rng.integers(0, 11, count), docs["load"].to_numpy())
        frame = docs.with_columns(
            pl.Series("cents", cents.astype(np.int64)),
            pl.Series("target", target),
            pl.Series("posted", posted),
            pl.Series("time_us", [0] * count, dtype=pl.Int64),
            pl.Series("basis", rng.choice(LANDED_BASES, count), dtype=pl.String),
        ).filter(pl.col("posted") < sim.n_days)
        ids = np.arange(self.count + 1, self.count + 1 + frame.height)
        self.count += frame.height
        seconds = rng.integers(10 * 3600, 18 * 3600, frame.height)
        times = sim.day_us(0) + frame["posted"].to_numpy().astype(np.int64) * DAY_US
        frame = frame.with_columns(
            pl.Series("id", ids), pl.Series("time_us", times + seconds * 1_000_000)
        )
        for posted_day, part in frame.partition_by("posted", as_dict=True).items():
            self.pending.setdefault(int(posted_day[0]), []).append(part)

    def posted_on(self, day_index: int) -> pl.DataFrame:
        parts = self.pending.pop(day_index, [])
        if not parts:
            return pl.DataFrame(schema=contracts.LANDED_COSTS.schema)
        return (
            pl.concat(parts)
            .sort("id")
            .select(
                padded("LC", pl.col("id"), 9).alias("landed_cost_id"),
                pl.col("time_us").cast(pl.Datetime("us")).alias("posted_at"),
                pl.col("wh")
                .replace_strict(
                    dict(enumerate(w.company for w in WAREHOUSES)), return_dtype=pl.String
                )
                .alias("company"),
                padded("PO", pl.col("doc"), 9).alias("receipt_reference"),
                scaled_decimal(pl.col("cents"), 2, t.MONEY).alias("amount"),
                pl.col("target")
                .replace_strict(dict(enumerate(CURRENCIES)), return_dtype=pl.String)
                .alias("currency"),
                "basis",
            )
        )


def snapshot_frames(sim: Simulation, day: Day, quota: Quota) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The WMS end-of-day stock (true physical stock by occurred_at) with a few wrong rows.

    Returns (snapshot rows, ground-truth discrepancies). A discrepancy moves the
    WMS figure 1-3 units off the truth (never below zero), as a mis-scan or an
    unposted count would.
    """
    rng, n = sim.rng, sim.catalogue.size
    pools = np.flatnonzero(day.stock_end > 0)
    true_qty = day.stock_end[pools]
    wms_qty = true_qty.copy()
    k = quota.take(len(pools))
    wrong = np.sort(rng.choice(len(pools), k, replace=False)) if k else pools[:0]
    delta = rng.integers(1, 4, k) * rng.choice([-1, 1], k)
    wms_qty[wrong] = np.where(
        true_qty[wrong] + delta < 0, true_qty[wrong] - delta, true_qty[wrong] + delta
    )
    snapshot_date = sim.fx.start + timedelta(days=day.index)
    warehouse = pl.col("wh").replace_strict(
        dict(enumerate(w.code for w in WAREHOUSES)), return_dtype=pl.String
    )
    frame = pl.DataFrame(
        {"wh": pools // n, "sku_index": pools % n, "quantity": wms_qty, "true": true_qty}
    )
    base = frame.select(
        pl.lit(snapshot_date, dtype=pl.Date).alias("snapshot_date"),
        warehouse.alias("warehouse"),
        sku_id(pl.col("sku_index")).alias("sku"),
        pl.col("quantity").cast(t.QUANTITY),
        pl.col("true").cast(t.QUANTITY).alias("true_quantity"),
    )
    snapshot = base.select(contracts.SNAPSHOTS.column_names)
    truth = base[wrong].select(
        "snapshot_date",
        "warehouse",
        "sku",
        "true_quantity",
        pl.col("quantity").alias("wms_quantity"),
    )
    return snapshot, truth
