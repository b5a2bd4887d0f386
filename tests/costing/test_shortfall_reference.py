"""Never silently cost at zero (DOMAIN.md "Negative stock"): a shortfall is costed at zero and
flagged NO_REFERENCE_COST exactly when no pool of its company and SKU, in any warehouse, had an
inbound by then; a shortfall in a pool with no history of its own takes another warehouse's
reference and says so. The engine's figures themselves are compared with the row-by-row
reference in test_reference_equivalence.py (oracles/costing.py applies the same rule)."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings

from pipelines.contracts.inputs import INBOUND_TYPES
from pipelines.costing import cost_range
from tests.costing.ledgers import END, START, frames, ledgers, movements_of


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_a_shortfall_is_zero_only_when_the_company_never_had_the_sku(rows: list[dict]) -> None:
    result = cost_range(frames(rows), None, START, END)
    assert result.refused.is_empty()
    moves = pl.DataFrame(movements_of(rows)).select(
        "movement_id", "occurred_at", "company", "warehouse", "sku", "movement_type"
    )
    inbound = moves.filter(pl.col("movement_type").is_in(INBOUND_TYPES))
    shortfalls = (
        result.cogs.filter(kind="COST")
        .filter(pl.col("provisional_qty") > 0)
        .select("movement_id", "warehouse", "provisional")
        .join(moves.select("movement_id", "occurred_at", "company", "sku"), on="movement_id")
    )
    history = (
        shortfalls.join(inbound, on=["company", "sku"], suffix="_in")
        .filter(pl.col("occurred_at_in") <= pl.col("occurred_at"))
        .group_by("movement_id")
        .agg(
            pl.len().alias("inbounds"),
            (pl.col("warehouse_in") == pl.col("warehouse")).any().alias("own"),
        )
    )
    flags = result.flags.group_by("movement_id").agg(pl.col("flag"))
    checked = shortfalls.join(history, on="movement_id", how="left").join(
        flags, on="movement_id", how="left"
    )
    for row in checked.iter_rows(named=True):
        no_reference = "NO_REFERENCE_COST" in row["flag"]
        elsewhere = "REFERENCE_COST_FROM_WAREHOUSE" in row["flag"]
        assert no_reference == (row["inbounds"] is None), row
        if no_reference:
            assert row["provisional"] == 0, row
        assert elsewhere == (row["inbounds"] is not None and not row["own"]), row
