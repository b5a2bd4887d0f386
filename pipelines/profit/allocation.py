"""Pro-rata allocation by cumulative rounding: the shares of an amount add up to it exactly.

DOMAIN.md ("Costing rules", "Order profitability"): rounding never loses a cent. Row i
of a group gets round(A × C_i / T) − round(A × C_{i−1} / T), where C_i is the running sum
of the basis in a fixed row order and T the group's total basis: the shares telescope to
round(A × T / T) = A. Rounding is money.div_half_up on the magnitude, the sign kept, so a
credit (a return's COGS reversal) mirrors its charge. A group whose basis sums to zero
shares equally (every row weighs 1) rather than dropping the amount.

Several amounts over the same group and basis (an order's six order-level amounts, a
parcel's freight and its disputed part) share one sort and one running sum: the rounding
of each is its own, so the result is the same as allocating them one by one.
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
    return allocate_each(frame, {amount: out}, basis, group, order)


def allocate_each(
    frame: pl.LazyFrame,
    amounts: dict[str, str],
    basis: str,
    group: list[str],
    order: list[str],
) -> pl.LazyFrame:
    """`frame` with, for each amount column -> out column of `amounts`, the row's share of
    that amount (as in `allocate`), all over one ranking of the rows by `group` and `order`.

    A group of one row takes the whole amount (whatever its basis), so only the groups of
    several rows are sorted and summed: most order lines are alone in their order, parcel
    or posting. Row order is not kept."""
    sized = frame.with_columns(_n=pl.len().over(group))
    alone = sized.filter(pl.col("_n") == 1).with_columns(
        pl.col(amount).cast(pl.Int64).alias(out) for amount, out in amounts.items()
    )
    ranked = sized.filter(pl.col("_n") > 1).sort([*group, *order])
    # The rows of a group are adjacent once sorted: an integer run id keys the windows,
    # cheaper than hashing the (string) group columns once per window.
    run = pl.struct(group).rle_id() if len(group) > 1 else pl.col(group[0]).rle_id()
    ranked = ranked.with_columns(_run=run)
    total = pl.col(basis).sum().over("_run")
    weight = pl.when(total == 0).then(pl.lit(1, pl.Int128)).otherwise(pl.col(basis))
    ranked = ranked.with_columns(_w=weight.cast(pl.Int128)).with_columns(
        _cum=pl.col("_w").cum_sum().over("_run"), _tot=pl.col("_w").sum().over("_run")
    )
    shared = ranked.with_columns(_share(amount).alias(out) for amount, out in amounts.items()).drop(
        "_run", "_w", "_cum", "_tot"
    )
    return pl.concat([alone, shared]).drop("_n")


def _share(amount: str) -> pl.Expr:
    magnitude = pl.col(amount).cast(pl.Int128).abs()
    upto = div_half_up(magnitude * pl.col("_cum"), pl.col("_tot"))
    before = div_half_up(magnitude * (pl.col("_cum") - pl.col("_w")), pl.col("_tot"))
    share = (upto - before).cast(pl.Int64)
    return pl.when(pl.col(amount) < 0).then(-share).otherwise(share)
