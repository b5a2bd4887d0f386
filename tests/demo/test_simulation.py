"""Building blocks of the generator: exact quotas, stock-bounded acceptance, scale."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demo.events import accept_while_stock_lasts
from demo.generate import generate
from demo.quota import Quota
from demo.shipments import UNKNOWN_COUNTER_BASE, tracking_numbers
from demo.world import Volume


@given(
    rate=st.floats(0, 1),
    batches=st.lists(st.integers(0, 10_000), max_size=50),
)
def test_quota_takes_exactly_floor_of_rate_times_eligible(rate: float, batches: list[int]) -> None:
    quota = Quota(rate)
    taken = [quota.take(n) for n in batches]
    assert all(0 <= k <= n for k, n in zip(taken, batches, strict=True))
    total = sum(batches)
    assert math.floor(rate * total) - 1 <= sum(taken) <= math.floor(rate * total + 1e-9)


def test_quota_worked_example() -> None:
    quota = Quota(0.25)
    assert [quota.take(n) for n in (3, 3, 3, 3)] == [0, 1, 1, 1]  # floor(0.75, 1.5, 2.25, 3)


@settings(max_examples=200)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 4), st.integers(1, 6), st.floats(0, 3)), min_size=0, max_size=60
    ),
    stock=st.lists(st.integers(0, 15), min_size=5, max_size=5),
)
def test_acceptance_never_exceeds_stock(data, stock) -> None:
    pool = np.array([d[0] for d in data], dtype=np.int64)
    qty = np.array([d[1] for d in data], dtype=np.int64)
    priority = np.array([d[2] for d in data])
    available = np.array(stock, dtype=np.int64)
    ok = accept_while_stock_lasts(pool, qty, priority, available)
    used = np.bincount(pool[ok], weights=qty[ok], minlength=5)
    assert (used <= available).all()
    # A candidate is only refused when the ones before it (by priority) leave too little.
    for p in range(5):
        idx = np.flatnonzero(pool == p)
        idx = idx[np.argsort(priority[idx], kind="stable")]
        if len(idx) and qty[idx[0]] <= available[p]:
            assert ok[idx[0]], "the first candidate fits, so it is accepted"


def test_acceptance_worked_example() -> None:
    # Pool 0 holds 5: sales of 2 and 2 fit, the 3 after them does not; pool 1 holds 1.
    ok = accept_while_stock_lasts(
        np.array([0, 0, 0, 1]),
        np.array([2, 2, 3, 1]),
        np.array([0.1, 0.2, 0.3, 0.0]),
        np.array([5, 1]),
    )
    assert ok.tolist() == [True, True, False, True]


def test_volume_is_what_scale_multiplies() -> None:
    assert (Volume(1).orders_per_day, Volume(1).skus) == (150, 2000)
    assert (Volume(100).orders_per_day, Volume(100).skus) == (2625, 20000)


def test_scale_grows_the_volume(tmp_path) -> None:
    span = {"start": date(2026, 3, 2), "end": date(2026, 3, 8), "bills": False}
    small = generate(tmp_path / "s1", scale=1, **span)
    large = generate(tmp_path / "s4", scale=4, **span)
    for table in ("skus", "movements", "shipments", "snapshots"):
        assert large.rows[table] > 1.5 * small.rows[table], table
    assert small.rows["movements"] > 1_000


@pytest.mark.parametrize(
    ("carrier", "pattern"),
    [
        ("DHL", r"^\d{10}$"),
        ("UPS", r"^1Z[0-9A-Z]{16}$"),
        ("FOURPX", r"^4PX\d{13}CN$"),
        ("YUNEXPRESS", r"^YT\d{16}$"),
        ("YANWEN", r"^UG\d{9}CN$"),
    ],
)
def test_tracking_numbers_have_the_carriers_form_and_never_repeat(carrier, pattern) -> None:
    counters = np.r_[np.arange(1, 20_001), UNKNOWN_COUNTER_BASE + np.arange(1, 501)]
    numbers = tracking_numbers(carrier, counters, offset=123_456_789)
    assert numbers.str.contains(pattern).all()
    assert numbers.n_unique() == len(counters)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": date(2026, 2, 1), "end": date(2026, 1, 31)}, "before start"),
        ({"scale": 0}, "scale must be >= 1"),
        ({"snapshot_every": 0}, "snapshot_every must be >= 1"),
    ],
)
def test_bad_arguments_are_refused_clearly(tmp_path, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        generate(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out" / "movements").exists()


def test_snapshot_every_limits_the_snapshot_days(tmp_path) -> None:
    summary = generate(
        tmp_path / "out",
        start=date(2026, 1, 1),
        end=date(2026, 1, 10),
        snapshot_every=4,
        bills=False,
    )
    days = sorted(p.stem for p in (tmp_path / "out" / "snapshots").iterdir())
    assert days == ["2026-01-01", "2026-01-05", "2026-01-09", "2026-01-10"]
    assert summary.rows["snapshots"] > 0
