"""Costing in SKU shards gives the same figures as one call (benchmarks' ledger, small)."""

from __future__ import annotations

import zlib
from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from polars.testing import assert_frame_equal

from benchmarks._costing_ledger import DAYS, START, generate
from pipelines.costing import CostingPolicy, cost_range
from pipelines.costing.shards import Sharding, cost_range_sharded, shard_of_sku, shard_works
from tests.costing.helpers import inputs, move
from tests.costing.ledgers import END as LEDGER_END
from tests.costing.ledgers import LANDED_REFERENCE_KINDS, SKUS, frames, ledgers
from tests.costing.ledgers import START as LEDGER_START


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def test_sharded_equals_one_call() -> None:
    ledger = generate(20_000, 300, seed=3)
    end = START + timedelta(days=DAYS - 1)
    one = cost_range(ledger, None, START, end)
    sharded = cost_range_sharded(ledger, None, START, end, sharding=Sharding(4))
    for name in (
        "cogs",
        "consumption",
        "postings",
        "valuation",
        "journals",
        "flags",
        "open_layers",
    ):
        assert_frame_equal(_sorted(getattr(sharded, name)), _sorted(getattr(one, name)))
    for name, frame in one.end_state.frames().items():
        assert_frame_equal(_sorted(sharded.end_state.frames()[name]), _sorted(frame))
    assert_frame_equal(sharded.ageing_on(end), one.ageing_on(end))


def test_a_return_of_another_skus_issue_is_valued_the_same_in_shards() -> None:
    # i1 (SKU A) cost 1.00. Returns of SKU B0..B7 name i1: not an issue of their SKU, so
    # each is valued at its own pool's reference unit cost (B-pools: one receipt 1 @ 3.00,
    # so 3.00) and flagged, in one call and across 8 SKU shards alike.
    rows = [
        move("r1", "2026-01-01T09:00", "RECEIPT", 1, cost="1", sku="A"),
        move("i1", "2026-01-02T09:00", "ISSUE", 1, sku="A"),
    ]
    for k in range(8):
        rows.append(move(f"rb{k}", "2026-01-01T09:00", "RECEIPT", 1, cost="3", sku=f"B{k}"))
        rows.append(move(f"rt{k}", "2026-01-03T09:00", "RETURN", 1, sku=f"B{k}", ref="i1"))
    jan1, jan3 = date(2026, 1, 1), date(2026, 1, 3)
    one = cost_range(inputs(rows), None, jan1, jan3)
    sharded = cost_range_sharded(inputs(rows), None, jan1, jan3, sharding=Sharding(8))
    for r in (one, sharded):
        returns = r.postings.filter(category="RETURN").select("movement_id", "value")
        assert dict(returns.rows()) == {f"rt{k}": Decimal("3.00") for k in range(8)}
        flagged = r.flags.filter(flag="RETURN_OF_UNKNOWN_ISSUE").get_column("movement_id")
        assert sorted(flagged) == [f"rt{k}" for k in range(8)]
    for name in ("postings", "flags", "cogs"):
        assert_frame_equal(_sorted(getattr(sharded, name)), _sorted(getattr(one, name)))


def test_sharded_with_a_sink_hands_over_the_detail_and_keeps_the_totals() -> None:
    ledger = generate(5_000, 100, seed=5)
    end = START + timedelta(days=DAYS - 1)
    one = cost_range(ledger, None, START, end)
    seen: dict[int, pl.DataFrame] = {}
    sharded = cost_range_sharded(
        ledger,
        None,
        START,
        end,
        sharding=Sharding(3, sink=lambda k, r: seen.__setitem__(k, r.cogs)),
    )
    assert sorted(seen) == [0, 1, 2]
    assert_frame_equal(_sorted(pl.concat(seen.values())), _sorted(one.cogs))
    assert sharded.cogs.is_empty()
    assert_frame_equal(_sorted(sharded.journals), _sorted(one.journals))
    for name, frame in one.end_state.frames().items():
        assert_frame_equal(_sorted(sharded.end_state.frames()[name]), _sorted(frame))


@pytest.mark.slow  # 25 ledgers, each costed in one call and in SKU shards
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(kinds_pool=LANDED_REFERENCE_KINDS))
def test_sharded_equals_one_call_with_reference_cost_after_landed_cost(rows: list[dict]) -> None:
    """Landed costs (allocated once over every line, each SKU shard taking its lines'
    shares) raise the reference unit cost of gains, unknown returns and shortfalls the
    same way in SKU shards as in one call."""
    frame = frames(rows)
    one = cost_range(frame, None, LEDGER_START, LEDGER_END)
    sharded = cost_range_sharded(frame, None, LEDGER_START, LEDGER_END, sharding=Sharding(3))
    for name in ("cogs", "postings", "flags", "landed_cost_expensed"):
        assert_frame_equal(_sorted(getattr(sharded, name)), _sorted(getattr(one, name)))
    for name, frame_ in one.end_state.frames().items():
        assert_frame_equal(_sorted(sharded.end_state.frames()[name]), _sorted(frame_))


def test_the_ledgers_skus_fall_in_different_shards() -> None:
    """The properties above split the two SKUs of tests/costing/ledgers.py into two of three
    shards; with every SKU in one shard they would compare a call with itself."""
    assert len({shard_of_sku(sku, 3) for sku in SKUS}) == len(SKUS)
    assert shard_of_sku("SKU-1", 8) == zlib.crc32(b"SKU-1") % 8  # stable, not a process hash


@pytest.mark.slow  # 25 ledgers, each costed twice from a carried state
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(kinds_pool=LANDED_REFERENCE_KINDS))
def test_sharded_from_a_carried_state_equals_one_call_and_each_shard_carries_only_its_skus(
    rows: list[dict],
) -> None:
    """A night after a checkpoint: the state of the first days (open layers, shortfalls,
    issue costs, landed components) split by SKU; each shard's work holds no row of another
    shard's SKU, and the shards together give the one call's figures."""
    frame = frames(rows)
    mid = LEDGER_START + timedelta(days=2)
    state = cost_range(frame, None, LEDGER_START, mid).end_state
    start = mid + timedelta(days=1)
    one = cost_range(frame, state, start, LEDGER_END)
    works, _, _ = shard_works(frame, state, (start, LEDGER_END), CostingPolicy(), 3)
    for work in works:
        carried = [*work.state.frames().values(), work.inputs["movements"]]
        skus = set(pl.concat([f.select("sku") for f in carried if "sku" in f.columns]).to_series())
        assert {shard_of_sku(sku, 3) for sku in skus} <= {work.shard}
        held = set(work.state.open_layers.get_column("origin_id"))
        assert set(work.state.landed_components.get_column("origin_id")) <= held
    sharded = cost_range_sharded(frame, state, start, LEDGER_END, sharding=Sharding(3))
    for name in ("cogs", "postings", "flags", "landed_cost_expensed", "valuation"):
        assert_frame_equal(_sorted(getattr(sharded, name)), _sorted(getattr(one, name)))
    for name, frame_ in one.end_state.frames().items():
        assert_frame_equal(_sorted(sharded.end_state.frames()[name]), _sorted(frame_))
