"""Movements as column arrays, and the two set-based rules the simulation relies on.

A day's movements (or the arrivals scheduled for a future day) are a handful
of numpy arrays rather than rows, so every step of the simulation is
vectorised: accepting outbound candidates while stock lasts, and finding the
outbound movements that leave a pool below zero (DOMAIN.md, "Negative stock").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TYPES = ("RECEIPT", "ISSUE", "RETURN", "TRANSFER_OUT", "TRANSFER_IN", "ADJUST_GAIN", "ADJUST_LOSS")
RECEIPT, ISSUE, RETURN, TRANSFER_OUT, TRANSFER_IN, ADJUST_GAIN, ADJUST_LOSS = range(7)
OUTBOUND = np.array([False, True, False, True, False, False, True])
CURRENCIES = ("CNY", "USD", "EUR")
SECOND_US = 1_000_000
DAY_US = 86_400 * SECOND_US


@dataclass
class Events:
    """Column arrays of movements (or scheduled arrivals) of one day."""

    kind: np.ndarray
    pool: np.ndarray
    qty: np.ndarray
    ref: np.ndarray
    """Integer behind `reference`: PO document, order, issue movement or transfer seq."""
    cost_micro: np.ndarray
    """Unit cost in 1e-6 of `currency`, -1 where none."""
    currency: np.ndarray
    """Index into CURRENCIES, -1 where none."""
    time_us: np.ndarray | None = None

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        parts = [p for p in parts if len(p.kind)]
        if not parts:
            return Events(*(np.zeros(0, np.int64) for _ in range(6)), np.zeros(0, np.int64))
        times = [
            p.time_us if p.time_us is not None else np.zeros(len(p.kind), np.int64) for p in parts
        ]
        return Events(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS),
            np.concatenate(times),
        )


FIELDS = ("kind", "pool", "qty", "ref", "cost_micro", "currency")


def select(events: Events, index: np.ndarray) -> Events:
    return Events(*(getattr(events, f)[index] for f in FIELDS), events.time_us[index])


def accept_while_stock_lasts(
    pool: np.ndarray, qty: np.ndarray, priority: np.ndarray, available: np.ndarray
) -> np.ndarray:
    """Accept outbound candidates per pool in priority order while the cumulative quantity fits.

    A rejected candidate still counts against the later ones of its pool, which
    keeps the rule one cumulative sum (conservative: never more than the stock).
    """
    order = np.lexsort((priority, pool))
    p, q = pool[order], qty[order]
    cum = np.cumsum(q)
    starts = np.r_[True, p[1:] != p[:-1]] if len(p) else np.zeros(0, dtype=bool)
    group = np.cumsum(starts) - 1
    within = cum - (cum - q)[starts][group]
    ok = np.empty(len(pool), dtype=bool)
    ok[order] = within <= available[p]
    return ok


def negative_outbound(moves: Events, seq: np.ndarray, opening: np.ndarray) -> np.ndarray:
    """Seqs of outbound movements after which their pool's running stock is below zero."""
    order = np.lexsort((seq, moves.pool))
    p = moves.pool[order]
    outbound = OUTBOUND[moves.kind[order]]
    signed = np.where(outbound, -moves.qty[order], moves.qty[order])
    cum = np.cumsum(signed)
    starts = np.r_[True, p[1:] != p[:-1]] if len(p) else np.zeros(0, dtype=bool)
    group = np.cumsum(starts) - 1
    running = opening[p] + cum - (cum - signed)[starts][group]
    return np.sort(seq[order][outbound & (running < 0)])
