"""Warehouse tables are created from their contracts, and a write that does not fit is refused
with the table and the column named, leaving the previous rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.contracts import contract
from storage.schema import ContractViolation
from storage.warehouse import read_table, replace_slice, replace_slice_from_parquet

DAY = date(2026, 1, 5)


def _accruals(entries: int = 1, **changes: object) -> pl.DataFrame:
    spec = contract("accrual_rollforward")
    rows = [
        {
            "carrier": "DHL",
            "period_start": DAY,
            "period_end": DAY,
            "company": f"C{i}",
            "functional_currency": "EUR",
            "opening": Decimal("1.00"),
            "accrued": Decimal("2.00"),
            "released": Decimal("0.50"),
            "closing": Decimal("2.50"),
            **changes,
        }
        for i in range(entries)
    ]
    return pl.DataFrame(rows, schema=spec.schema)


@pytest.fixture
def con(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        yield connection


def test_a_table_is_created_from_its_contract(con) -> None:
    replace_slice(con, "accrual_rollforward", _accruals())
    columns = con.sql(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'accrual_rollforward' ORDER BY ordinal_position"
    ).fetchall()
    assert columns[:2] == [("carrier", "VARCHAR", "NO"), ("period_start", "DATE", "NO")]
    assert ("closing", "DECIMAL(18,2)", "NO") in columns


def test_a_table_without_a_contract_is_refused(con) -> None:
    with pytest.raises(ContractViolation, match="no warehouse table 'scratch'"):
        replace_slice(con, "scratch", pl.DataFrame({"a": [1]}))
    with pytest.raises(ContractViolation, match="stock_ageing is not a warehouse table"):
        replace_slice(con, "stock_ageing", pl.DataFrame({"a": [1]}))


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (_accruals().drop("closing"), r"accrual_rollforward: missing column\(s\) closing"),
        (
            _accruals().with_columns(pl.lit(1).alias("extra")),
            r"accrual_rollforward: column\(s\) not in its contract: extra",
        ),
        (
            _accruals().with_columns(pl.col("closing").cast(pl.Decimal(18, 6))),
            r"accrual_rollforward.closing: type DECIMAL\(18,6\), its contract says DECIMAL\(18,2\)",
        ),
        (
            _accruals().with_columns(pl.col("period_start").cast(pl.String)),
            r"accrual_rollforward.period_start: type VARCHAR, its contract says DATE",
        ),
        (
            _accruals().with_columns(pl.lit(None, pl.String).alias("company")),
            r"accrual_rollforward.company: required, but 1 row\(s\) have no value",
        ),
    ],
)
def test_a_frame_that_does_not_fit_is_refused_and_nothing_changes(
    con, frame: pl.DataFrame, message: str
) -> None:
    replace_slice(con, "accrual_rollforward", _accruals(2))
    with pytest.raises(ContractViolation, match=message):
        replace_slice(con, "accrual_rollforward", frame, {"carrier": "DHL"})
    assert read_table(con, "accrual_rollforward").equals(_accruals(2))


def test_a_key_twice_is_refused_in_a_frame_and_across_slices(con) -> None:
    replace_slice(con, "accrual_rollforward", _accruals(2), {"period_start": DAY})
    twice = pl.concat([_accruals(), _accruals()])
    with pytest.raises(ContractViolation, match=r"key \(carrier='DHL', .*company='C0'.*2 times"):
        replace_slice(con, "accrual_rollforward", twice, {"period_start": DAY})
    # the same key in a slice the write does not replace
    with pytest.raises(ContractViolation, match="accrual_rollforward: key"):
        replace_slice(con, "accrual_rollforward", _accruals(), {"carrier": "UPS"})
    assert read_table(con, "accrual_rollforward").equals(_accruals(2))
    # replacing the slice that holds the key is the rerun: fine
    replace_slice(con, "accrual_rollforward", _accruals(), {"period_start": DAY})
    assert read_table(con, "accrual_rollforward").equals(_accruals())


def test_parquet_files_that_do_not_fit_are_refused(con, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.parquet", tmp_path / "bad.parquet"
    _accruals(2).write_parquet(good)
    _accruals().with_columns(pl.col("opening").cast(pl.Float64)).write_parquet(bad)
    where = {"carrier": "DHL", "period_start": DAY}
    assert replace_slice_from_parquet(con, "accrual_rollforward", [good], where) == 2
    with pytest.raises(ContractViolation, match=r"accrual_rollforward.opening: type DOUBLE"):
        replace_slice_from_parquet(con, "accrual_rollforward", [bad], where)
    with pytest.raises(ContractViolation, match="accrual_rollforward: key"):
        replace_slice_from_parquet(con, "accrual_rollforward", [good, good], where)
    assert read_table(con, "accrual_rollforward").equals(_accruals(2))
