"""Exact conversions between integer units and decimals (pipelines/money.py)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.contracts import types as t
from pipelines.frames import contiguous
from pipelines.fx import FX_SCALE, functional_cents, int64_is_enough
from pipelines.money import decimal_from_units, units_of

UNITS = st.lists(
    st.none() | st.integers(min_value=-(10**12) + 1, max_value=10**12 - 1), max_size=60
)


@given(UNITS, st.integers(min_value=0, max_value=5), st.sampled_from([t.MONEY, t.WEIGHT_KG]))
def test_decimal_from_units_is_exact_and_keeps_nulls(
    values: list[int | None], skip: int, dtype: pl.Decimal
) -> None:
    # a sliced series: its validity bitmap does not start at bit 0
    series = pl.Series("x", [None] * skip + values, dtype=pl.Int64).slice(skip)
    got = decimal_from_units(series, dtype)
    assert got.dtype == dtype and got.name == "x"
    scale = Decimal(10) ** -dtype.scale
    assert got.to_list() == [None if v is None else Decimal(v) * scale for v in values]
    # and back: units_of reads the same integers
    assert got.to_frame().select(units_of(pl.col("x"), dtype.scale)).to_series().to_list() == values


def test_decimal_from_units_refuses_what_the_precision_cannot_hold() -> None:
    with pytest.raises(ValueError, match=r"w: 1000000000000 units do not fit"):
        decimal_from_units(pl.Series("w", [1, -(10**12)]), t.WEIGHT_KG)


def test_decimal_from_units_of_a_many_chunk_series() -> None:
    series = pl.concat([pl.Series("c", [1, None]), pl.Series("c", [-250, 7])], rechunk=False)
    assert series.n_chunks() == 2
    assert decimal_from_units(series, t.MONEY).to_list() == [
        Decimal("0.01"),
        None,
        Decimal("-2.50"),
        Decimal("0.07"),
    ]


def test_contiguous_rechunks_only_when_needed() -> None:
    one = pl.DataFrame({"a": [1, 2]})
    assert contiguous(one) is one
    many = pl.concat([one, one], rechunk=False)
    assert many.n_chunks("all") == [2]
    assert contiguous(many).n_chunks("all") == [1]
    assert contiguous(many).equals(many)


@given(
    st.lists(st.integers(min_value=-(10**11), max_value=10**11), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=10 * FX_SCALE),
)
def test_functional_cents_rounds_half_away_from_zero_in_both_integer_widths(
    cents: list[int], fx_u: int
) -> None:
    # a refund converts to the exact mirror of its charge, whichever width the product takes
    frame = pl.DataFrame(
        {"c": cents, "_fx_u": [fx_u] * len(cents)}, schema_overrides={"c": pl.Int64}
    )
    exact = [
        int((Decimal(c) * fx_u / FX_SCALE).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        for c in cents
    ]
    wide = frame.select(functional_cents(pl.col("c"))).to_series().to_list()
    assert wide == exact
    if int64_is_enough(max(abs(c) for c in cents), fx_u):
        narrow = frame.select(functional_cents(pl.col("c"), fits_int64=True)).to_series()
        assert narrow.to_list() == exact
