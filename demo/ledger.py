"""The day-by-day stock simulation behind the movement ledger.

State is a handful of arrays over every (warehouse, SKU) pool, so a day is a
few vectorised numpy steps whatever the volume (no Python loop per movement):

1. morning (06:00-08:59): purchase receipts, transfer arrivals, customer
   returns and stocktake gains come in;
2. day (09:00-21:59): sales, transfer dispatches and stocktake losses go out,
   accepted per pool only while stock lasts (a sale that finds no stock is a
   lost sale, never a negative balance);
3. evening: pools below their reorder point order from suppliers (purchase
   fed) or are refilled by transfer from their feeding warehouse.

Because every inbound precedes every outbound of the day, the running stock by
`occurred_at` never goes below zero. The one deliberate exception
(DOMAIN.md, "Negative stock"): a few receipts the day's sales depended on are
recorded late in the evening (23:00-23:59), after the sales that consumed them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from demo.events import (
    ADJUST_GAIN,
    ADJUST_LOSS,
    DAY_US,
    ISSUE,
    RECEIPT,
    RETURN,
    SECOND_US,
    TRANSFER_IN,
    TRANSFER_OUT,
    Events,
    accept_while_stock_lasts,
    negative_outbound,
    select,
)
from demo.quota import Quota
from demo.reference import Catalogue, FxPath
from demo.world import WAREHOUSES, WEEKDAY_FACTOR, AnomalyRates

RETURN_RATE = 0.03
STOCKTAKE_RATE = 0.0004
"""Daily probability that a stocked pool has a stocktake gain (and, separately, a loss)."""
SAFETY_DAYS, COVER_DAYS, MOQ = 3, 30, 5


@dataclass
class Day:
    """Everything one simulated day produced; the writers turn it into files."""

    index: int
    movements: Events
    seq: np.ndarray
    """Movement id number of each movement (ids rise with occurred_at within a day)."""
    load_index: np.ndarray
    """Day index of the file that delivers each movement (> index: a late document)."""
    stock_end: np.ndarray
    negative_seq: np.ndarray
    """Movement seqs of outbound movements that left their pool below zero."""
    injected_receipt_seq: np.ndarray
    """Receipts recorded after the sales that consumed them (the cause of `negative_seq`)."""


@dataclass
class Simulation:
    """The running state of the stock simulation; `step()` advances one day."""

    rng: np.random.Generator
    catalogue: Catalogue
    fx: FxPath
    orders_per_day: int
    n_days: int
    first_weekday: int
    rates: AnomalyRates
    counters: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pending: dict[int, list[Events]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        rng, n = self.rng, self.catalogue.size
        self.n_wh = len(WAREHOUSES)
        codes = [w.code for w in WAREHOUSES]
        stocked = rng.random((self.n_wh, n)) < np.array([[w.stocked_share] for w in WAREHOUSES])
        sources = [codes.index(w.fed_from) if w.fed_from else -1 for w in WAREHOUSES]
        for w, wh in enumerate(WAREHOUSES):
            # Marketplace stock only ever arrives by our own transfers.
            if wh.kind == "MARKETPLACE":
                stocked[w] &= stocked[sources[w]]
        self.stocked = stocked.ravel()
        self.pool_wh = np.repeat(np.arange(self.n_wh), n)
        self.pool_sku = np.tile(np.arange(n), self.n_wh)
        self.company_of_wh = np.array([0 if w.company == "CN01" else 1 for w in WAREHOUSES])
        # A pool is refilled by transfer where its feeding warehouse stocks the SKU, else bought.
        self.source_pool = np.full(self.n_wh * n, -1, dtype=np.int64)
        for w in range(self.n_wh):
            if sources[w] >= 0:
                fed = stocked[w] & stocked[sources[w]]
                self.source_pool[w * n + np.flatnonzero(fed)] = sources[w] * n + np.flatnonzero(fed)
        self._build_demand()
        self.stock = np.zeros(self.n_wh * n, dtype=np.int64)
        self.on_order = np.zeros_like(self.stock)
        self.in_transit = np.zeros_like(self.stock)
        self.negative_quota = Quota(self.rates.negative_stock_receipt)
        self.late_quota = Quota(self.rates.late_document)
        self.start_us = int((self.fx.start - date(1970, 1, 1)).days) * DAY_US
        # Opening stock: every stocked pool receives its order-up-to level on the first morning.
        self._order_purchases(0, self.stocked.copy(), self.order_up_to, lead_override=0)

    def _build_demand(self) -> None:
        """Expected daily units per pool, and the reorder policy derived from it."""
        n = self.catalogue.size
        pop = self.catalogue.popularity
        lam = np.zeros(self.n_wh * n)
        self.sku_cdf: list[tuple[np.ndarray, np.ndarray]] = []
        units_per_order = 1.25 * 1.5
        for w, wh in enumerate(WAREHOUSES):
            idx = np.flatnonzero(self.stocked[w * n : (w + 1) * n])
            weights = pop[idx] / pop[idx].sum()
            self.sku_cdf.append((idx, np.cumsum(weights)))
            lam[w * n + idx] = self.orders_per_day * wh.order_share * units_per_order * weights
        fed = np.flatnonzero(self.source_pool >= 0)
        np.add.at(lam, self.source_pool[fed], lam[fed])
        purchase_lead = np.array([np.mean(w.lead_days) for w in WAREHOUSES])[self.pool_wh]
        transfer_lead = np.array([np.mean(w.transit_days) for w in WAREHOUSES])[self.pool_wh]
        lead_pool = np.where(self.source_pool >= 0, transfer_lead, purchase_lead)
        self.reorder_point = np.where(
            self.stocked, np.maximum(1, np.ceil(lam * (lead_pool + SAFETY_DAYS))), 0
        ).astype(np.int64)
        cover = np.ceil(lam * (lead_pool + COVER_DAYS)).astype(np.int64)
        self.order_up_to = np.where(self.stocked, np.maximum(self.reorder_point + MOQ, cover), 0)

    def returned_issues(self) -> np.ndarray:
        """The movement numbers of the issues a customer will still send back (the RETURNs
        scheduled to arrive inside the simulated days)."""
        parts = [e.ref[e.kind == RETURN] for events in self.pending.values() for e in events]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def _next(self, counter: str, count: int) -> np.ndarray:
        first = self.counters[counter] + 1
        self.counters[counter] += count
        return np.arange(first, first + count, dtype=np.int64)

    def _times(self, day: int, count: int, first_hour: int, last_hour: int) -> np.ndarray:
        seconds = self.rng.integers(first_hour * 3600, (last_hour + 1) * 3600, count)
        return self.day_us(day) + seconds * SECOND_US

    def day_us(self, day: int) -> int:
        return self.start_us + day * DAY_US

    def _order_purchases(
        self, day: int, wanted: np.ndarray, target: np.ndarray, lead_override: int | None = None
    ) -> None:
        """Order `target - position` (rounded up to the MOQ) for the pools in `wanted`.

        One purchase document per (warehouse, supplier) per day; its lines arrive
        together and share the document id as `reference` (landed costs point at it).
        """
        pools = np.flatnonzero(wanted)
        if not len(pools):
            return
        position = self.stock[pools] + self.on_order[pools]
        qty = np.maximum(target[pools] - position, 1)
        qty = -(-qty // MOQ) * MOQ
        wh = self.pool_wh[pools]
        supplier = self.catalogue.supplier[self.pool_sku[pools]]
        doc_key = wh * 1_000_000 + supplier
        uniq, doc_index = np.unique(doc_key, return_inverse=True)
        docs = self._next("purchase_doc", len(uniq))
        price_factor = self.rng.uniform(0.95, 1.05, len(uniq))[doc_index]
        cost_cny_micro = self.catalogue.cost_fen[self.pool_sku[pools]] * 10_000 * price_factor
        us_company = self.company_of_wh[wh] == 1
        pays_usd = us_company & (supplier % 10 < 7)
        rate = self.fx.usd_cny[min(day, self.n_days - 1)] / 1e8
        cost_micro = np.where(pays_usd, cost_cny_micro / rate, cost_cny_micro)
        cost_micro = (np.round(cost_micro / 100) * 100).astype(np.int64)
        leads = np.array([w.lead_days for w in WAREHOUSES])
        lead = (
            np.full(len(uniq), lead_override)
            if lead_override is not None
            else self.rng.integers(leads[uniq // 1_000_000, 0], leads[uniq // 1_000_000, 1] + 1)
        )
        arrival = day + lead[doc_index]
        self.on_order[pools] += qty
        for arrive_day in np.unique(arrival):
            sel = arrival == arrive_day
            if arrive_day >= self.n_days:
                continue
            self.pending[int(arrive_day)].append(
                Events(
                    np.full(sel.sum(), RECEIPT),
                    pools[sel],
                    qty[sel],
                    docs[doc_index[sel]],
                    cost_micro[sel],
                    np.where(pays_usd[sel], 1, 0),
                )
            )

    def _stocktake(self, day: int, kind: int, eligible: np.ndarray) -> Events:
        pools = np.flatnonzero(eligible)
        count = min(self.rng.poisson(len(pools) * STOCKTAKE_RATE), len(pools))
        pools = np.sort(self.rng.choice(pools, count, replace=False)) if count else pools[:0]
        qty = self.rng.integers(1, 4, count)
        cost = np.full(count, -1, dtype=np.int64)
        currency = np.full(count, -1, dtype=np.int64)
        if kind == ADJUST_GAIN:
            # Half the gains state a cost (the company's own purchase price), half leave it to FIFO.
            stated = self.rng.random(count) < 0.5
            company = self.company_of_wh[self.pool_wh[pools]]
            cny = self.catalogue.cost_fen[self.pool_sku[pools]] * 10_000
            usd = np.round(cny / (self.fx.usd_cny[day] / 1e8) / 100).astype(np.int64) * 100
            cost = np.where(stated, np.where(company == 1, usd, cny), -1)
            currency = np.where(stated, company, -1)
        return Events(np.full(count, kind), pools, qty, np.full(count, day), cost, currency)

    def _sum_by_pool(self, pool: np.ndarray, qty: np.ndarray) -> np.ndarray:
        total = np.bincount(pool, weights=qty, minlength=len(self.stock))
        return total.astype(np.int64)

    def _sales(self, day: int) -> Events:
        """Today's order lines: Poisson orders with weekly seasonality, SKUs by popularity."""
        rng, n = self.rng, self.catalogue.size
        factor = WEEKDAY_FACTOR[(self.first_weekday + day) % 7]
        n_orders = int(rng.poisson(self.orders_per_day * factor))
        shares = np.array([w.order_share for w in WAREHOUSES])
        order_wh = rng.choice(self.n_wh, n_orders, p=shares / shares.sum())
        lines = rng.choice(np.array([1, 2, 3]), n_orders, p=[0.8, 0.15, 0.05])
        orders = self._next("order", n_orders)
        line_order = np.repeat(np.arange(n_orders), lines)
        line_wh = order_wh[line_order]
        u = rng.random(len(line_order))
        sku = np.full(len(line_order), -1, dtype=np.int64)
        for w, (idx, cdf) in enumerate(self.sku_cdf):
            m = line_wh == w
            if len(idx):
                sku[m] = idx[np.minimum(np.searchsorted(cdf, u[m]), len(idx) - 1)]
        qty = rng.choice(np.arange(1, 6), len(line_order), p=[0.7, 0.2, 0.05, 0.03, 0.02])
        order_time = self._times(day, n_orders, 9, 21)
        keep = sku >= 0
        none = np.full(keep.sum(), -1, dtype=np.int64)
        return Events(
            np.full(keep.sum(), ISSUE),
            (line_wh * n + sku)[keep],
            qty[keep],
            orders[line_order][keep],
            none,
            none.copy(),
            order_time[line_order][keep],
        )

    def _transfer_requests(self, available: np.ndarray) -> tuple[Events, np.ndarray]:
        """Refills for transfer-fed pools below their reorder point, as outbound at the source."""
        fed = np.flatnonzero(self.source_pool >= 0)
        position = available[fed] + self.in_transit[fed]
        dest = fed[position < self.reorder_point[fed]]
        qty = self.order_up_to[dest] - available[dest] - self.in_transit[dest]
        qty = -(-np.maximum(qty, 1) // MOQ) * MOQ
        none = np.full(len(dest), -1, dtype=np.int64)
        events = Events(
            np.full(len(dest), TRANSFER_OUT), self.source_pool[dest], qty, none, none, none.copy()
        )
        return events, dest

    def step(self, day: int) -> Day:
        rng = self.rng
        arrivals = Events.concat(self.pending.pop(day, []))
        for kind, bucket in ((RECEIPT, self.on_order), (TRANSFER_IN, self.in_transit)):
            m = arrivals.kind == kind
            bucket -= self._sum_by_pool(arrivals.pool[m], arrivals.qty[m])
        gains = self._stocktake(day, ADJUST_GAIN, self.stocked)
        inbound = Events.concat([arrivals, gains])
        inbound.time_us = self._times(day, len(inbound.kind), 6, 8)
        available = self.stock + self._sum_by_pool(inbound.pool, inbound.qty)

        sales = self._sales(day)
        transfers, transfer_dest = self._transfer_requests(available)
        losses = self._stocktake(day, ADJUST_LOSS, self.stocked & (available > 0))
        candidates = Events.concat([sales, transfers, losses])
        priority = np.concatenate(
            [
                rng.random(len(sales.kind)),
                np.full(len(transfers.kind), 2.0),
                np.full(len(losses.kind), 3.0),
            ]
        )
        ok = accept_while_stock_lasts(candidates.pool, candidates.qty, priority, available)
        n_sales, n_transfers = len(sales.kind), len(transfers.kind)
        ok_transfer = ok[n_sales : n_sales + n_transfers]
        transfer_ids = self._next("transfer", int(ok_transfer.sum()))
        candidates.ref[n_sales : n_sales + n_transfers][ok_transfer] = transfer_ids
        candidates.ref[n_sales + n_transfers :] = day
        times = candidates.time_us
        times[n_sales:] = self._times(day, len(times) - n_sales, 9, 21)
        outbound = select(candidates, ok)
        out_by_pool = self._sum_by_pool(outbound.pool, outbound.qty)
        stock_end = available - out_by_pool
        self._schedule_transfer_arrivals(
            day, transfer_dest[ok_transfer], transfers.qty[ok_transfer], transfer_ids
        )

        injected = self._inject_late_receipts(day, inbound, available, out_by_pool)
        moves = Events.concat([inbound, outbound])
        order = np.lexsort((rng.random(len(moves.kind)), moves.time_us))
        moves = select(moves, order)
        seq = self._next("movement", len(order))
        negative = negative_outbound(moves, seq, self.stock)
        self._schedule_returns(day, moves, seq)
        load_index = self._late_documents(day, len(seq))
        self.stock = stock_end
        purchase_fed = self.stocked & (self.source_pool < 0)
        low = purchase_fed & (stock_end + self.on_order < self.reorder_point)
        self._order_purchases(day, low, self.order_up_to)
        return Day(
            index=day,
            movements=moves,
            seq=seq,
            load_index=load_index,
            stock_end=stock_end,
            negative_seq=negative,
            injected_receipt_seq=seq[np.isin(order, injected)] if len(injected) else seq[:0],
        )

    def _schedule_transfer_arrivals(
        self, day: int, dest: np.ndarray, qty: np.ndarray, transfer_ids: np.ndarray
    ) -> None:
        spans = np.array([w.transit_days for w in WAREHOUSES])[self.pool_wh[dest]]
        arrival = day + self.rng.integers(spans[:, 0], spans[:, 1] + 1) if len(dest) else dest
        self.in_transit += self._sum_by_pool(dest, qty)
        none = np.full(len(dest), -1, dtype=np.int64)
        for arrive_day in np.unique(arrival):
            m = arrival == arrive_day
            if arrive_day < self.n_days:
                self.pending[int(arrive_day)].append(
                    Events(
                        np.full(m.sum(), TRANSFER_IN),
                        dest[m],
                        qty[m],
                        transfer_ids[m],
                        none[m],
                        none[m],
                    )
                )

    def _inject_late_receipts(
        self, day: int, inbound: Events, available: np.ndarray, out_by_pool: np.ndarray
    ) -> np.ndarray:
        """Move a few receipts the day's outbound needed to 23:00-23:59 (recorded after the sales).

        The rate is per receipt (not the opening stock); the ones moved are chosen
        among receipts without which the pool's outbound of the day would exceed
        its stock, so each makes at least one outbound movement go negative, and
        the day still ends where the WMS does (the snapshot is unaffected).
        """
        if day == 0:
            return np.zeros(0, dtype=np.int64)
        receipts = np.flatnonzero(inbound.kind == RECEIPT)
        pools = inbound.pool[receipts]
        needed = out_by_pool[pools] > available[pools] - inbound.qty[receipts]
        eligible = receipts[needed]
        count = self.negative_quota.take(len(receipts), available=len(eligible))
        chosen = np.sort(self.rng.choice(eligible, count, replace=False)) if count else eligible[:0]
        inbound.time_us[chosen] = self._times(day, count, 23, 23)
        return chosen

    def _schedule_returns(self, day: int, moves: Events, seq: np.ndarray) -> None:
        """Customers send back about 3% of sold lines 5-25 days later, to the same warehouse."""
        issues = np.flatnonzero(moves.kind == ISSUE)
        back = issues[self.rng.random(len(issues)) < RETURN_RATE]
        arrival = day + self.rng.integers(5, 26, len(back))
        qty = self.rng.integers(1, moves.qty[back] + 1) if len(back) else back
        none = np.full(len(back), -1, dtype=np.int64)
        for arrive_day in np.unique(arrival):
            m = arrival == arrive_day
            if arrive_day < self.n_days:
                self.pending[int(arrive_day)].append(
                    Events(
                        np.full(m.sum(), RETURN),
                        moves.pool[back][m],
                        qty[m],
                        seq[back][m],
                        none[m],
                        none[m],
                    )
                )

    def _late_documents(self, day: int, count: int) -> np.ndarray:
        """Load day of each movement: its own day, or 1-5 days later for the late few."""
        load = np.full(count, day, dtype=np.int64)
        max_lag = min(5, self.n_days - 1 - day)
        if max_lag < 1:
            return load
        late = self.late_quota.take(count)
        chosen = self.rng.choice(count, late, replace=False)
        load[chosen] = day + self.rng.integers(1, max_lag + 1, late)
        return load
