"""Invariant: whatever the lines, every writer's file gives them all back, in order, exactly."""

from __future__ import annotations

import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo.bills import write_bills
from demo.bills.samples import HEADER_SCHEMA, LINE_SCHEMA
from pipelines.contracts.bills import CHARGE_TYPES
from storage.layout import DataLayout
from tests.demo_bills.test_writers import LINE_FIELDS, read_back

shipment = st.tuples(
    st.sampled_from(["0000000001", "1Z999AA10123456784", "UG000000001CN", "X"]),
    st.one_of(st.none(), st.dates(date(2025, 1, 1), date(2027, 12, 31))),
    st.one_of(st.none(), st.decimals(Decimal("0.001"), Decimal("999999.999"), places=3)),
    st.one_of(st.none(), st.sampled_from(["1", "8", "Z3", "EU-2"])),
    st.sampled_from(["US", "DE", "CN"]),
)
charge = st.tuples(
    st.sampled_from(CHARGE_TYPES),
    st.decimals(Decimal("-99999.99"), Decimal("9999999999.99"), places=2),
)
bill_lines = st.lists(st.tuples(shipment, st.lists(charge, min_size=1, max_size=13)), max_size=8)


@pytest.mark.parametrize(
    "carrier",
    # 25 multi-page PDFs written and read back: the slowest writer by far.
    ["DHL", "UPS", "FOURPX", "YUNEXPRESS", pytest.param("YANWEN", marks=pytest.mark.slow)],
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs=bill_lines, stated=st.decimals(Decimal("-1000"), Decimal("1000000"), places=2))
def test_any_bill_round_trips(carrier: str, runs, stated: Decimal) -> None:
    rows = [[*ship, ctype, amount] for ship, charges in runs for ctype, amount in charges]
    headers = pl.DataFrame(
        [[carrier, None, "P-1", date(2026, 3, 1), None, None, "CNY", stated]],
        schema=HEADER_SCHEMA,
        orient="row",
    )
    lines = pl.DataFrame(
        [[carrier, "P-1", i, *row] for i, row in enumerate(rows, start=1)],
        schema=LINE_SCHEMA,
        orient="row",
    )
    with tempfile.TemporaryDirectory() as tmp:
        [path] = write_bills(carrier, headers, lines, DataLayout(Path(tmp)))
        header, got = read_back(carrier, path)
    assert got == lines.select(LINE_FIELDS).rows()
    assert header["stated_total"] == stated
