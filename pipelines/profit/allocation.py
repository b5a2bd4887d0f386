"""Pro-rata allocation by cumulative rounding: the shares of an amount add up to it exactly.

DOMAIN.md ("Costing rules", "Order profitability"): rounding never loses a cent. Row i
of a group gets round(A × C_i / T) − round(A × C_{i−1} / T), where C_i is the running sum
of the basis in a fixed row order and T the group's total basis: the shares telescope to
round(A × T / T) = A. Rounding is money.div_half_up on the magnitude, the sign kept, so a
credit (a return's COGS reversal) mirrors its charge. A group whose basis sums to zero
shares equally (every row weighs 1) rather than dropping the amount.
"""

from __future__ import annotations

import polars as pl

from pipelines.money import div_half_up


def allocate(
    frame: pl.LazyFrame, amount: str, basis: str, group: list[str], order: list[str], out: str
) -> pl.LazyFrame:
    """`frame` with `out`: each row's share of `amount` (integer minor units, the same on
    every row of a group) pro rata to `basis` (non-negative integers) within `group`, rows
    ranked by `order` (which must make the ranking unique within a group)."""
    total = pl.col(basis).sum().over(group)
    weight = pl.when(total == 0).then(pl.lit(1, pl.Int128)).otherwise(pl.col(basis))
    ranked = frame.sort([*group, *order]).with_columns(_w=weight.cast(pl.Int128))
    ranked = ranked.with_columns(
        _cum=pl.col("_w").cum_sum().over(group), _tot=pl.col("_w").sum().over(group)
    )
    magnitude = pl.col(amount).cast(pl.Int128).abs()
    upto = div_half_up(magnitude * pl.col("_cum"), pl.col("_tot"))
    before = div_half_up(magnitude * (pl.col("_cum") - pl.col("_w")), pl.col("_tot"))
    share = (upto - before).cast(pl.Int64)
    signed = pl.when(pl.col(amount) < 0).then(-share).otherwise(share)
    return ranked.with_columns(signed.alias(out)).drop("_w", "_cum", "_tot")
