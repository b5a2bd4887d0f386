"""Customer returns: which issue a RETURN comes back from, and its value.

DOMAIN.md "Customer return": a return re-enters as a layer at the unit cost of the issue
it returns. The issue is known when it is an earlier ISSUE of the same company and SKU,
booked before this range (`issue_costs` of the carried state: STATE) or in it (RANGE);
any other return is valued at the pool's reference unit cost and flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.costing.intervals import share, slice_cost
from pipelines.costing.reference_cost import reference_value
from pipelines.costing.state import CostingState


def classify_returns(mv: pl.DataFrame, state: CostingState) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`mv` + return_source (STATE, RANGE or null); flags for returns of an unknown issue.

    An issue of another SKU or company is not the issue of these units (and its cost is in
    another functional currency): such a reference counts as unknown, valued at the
    reference unit cost and flagged, whichever way the range is run."""
    issues = mv.filter(pl.col("movement_type") == "ISSUE").select(
        pl.col("movement_id").alias("reference"),
        pl.col("occurred_at").alias("issue_at"),
        pl.col("company").alias("issue_company"),
        pl.col("sku").alias("issue_sku"),
    )
    booked = state.issue_costs.select(
        pl.col("movement_id").alias("reference"),
        pl.col("company").alias("state_company"),
        pl.col("sku").alias("state_sku"),
    )
    rets = (
        mv.filter(pl.col("movement_type") == "RETURN")
        .select("movement_id", "reference", "occurred_at", "company", "sku")
        .join(issues, on="reference", how="left")
        .join(booked, on="reference", how="left")
    )
    same_in_state = (pl.col("state_company") == pl.col("company")) & (
        pl.col("state_sku") == pl.col("sku")
    )
    same_in_range = (pl.col("issue_company") == pl.col("company")) & (
        pl.col("issue_sku") == pl.col("sku")
    )
    rets = rets.with_columns(
        pl.when(same_in_state.fill_null(False))
        .then(pl.lit("STATE"))
        .when(same_in_range.fill_null(False) & (pl.col("issue_at") < pl.col("occurred_at")))
        .then(pl.lit("RANGE"))
        .otherwise(pl.lit(None))
        .alias("return_source"),
    )
    mv = mv.join(rets.select("movement_id", "return_source"), on="movement_id", how="left")
    flags = rets.filter(pl.col("return_source").is_null()).select(
        "movement_id",
        pl.lit("RETURN_OF_UNKNOWN_ISSUE").alias("flag"),
        pl.concat_str(
            pl.lit("issue "),
            pl.col("reference").fill_null("(none)"),
            pl.lit(" is not an earlier ISSUE of this company and SKU; valued at the reference"),
            pl.lit(" unit cost"),
        ).alias("detail"),
    )
    return mv, flags


def state_return_values(returns: pl.DataFrame, state: CostingState) -> pl.DataFrame:
    """origin_id, value_cents of returns of an issue booked before the range: its share
    of that issue's cost, known at once. `returns`: origin_id, qty, reference."""
    issue_costs = state.issue_costs.select(
        pl.col("movement_id").alias("reference"),
        pl.col("quantity").alias("issue_qty"),
        pl.col("cost_cents").alias("issue_cost_cents"),
    )
    return returns.join(issue_costs, on="reference").select(
        "origin_id",
        share(pl.col("issue_cost_cents"), pl.col("qty"), pl.col("issue_qty")).alias("value_cents"),
    )


@dataclass(frozen=True)
class RangeReturns:
    """Returns of an issue costed in this range, with what that issue's cost is made of."""

    returns: pl.DataFrame
    """origin_id, qty, reference (the issue's movement_id)."""
    issues: pl.DataFrame
    """reference, issue_qty: the issues they return."""
    issue_pieces: pl.DataFrame
    """The issues' consumed pieces: reference, origin_id, origin_a, origin_b, landed_cents."""
    issue_refs: pl.DataFrame
    """The issues' shortfall reference points (their provisional cost), with reference."""

    @staticmethod
    def of(
        returns: pl.DataFrame, outb: pl.DataFrame, pieces: pl.DataFrame, out_refs: pl.DataFrame
    ) -> RangeReturns:
        issues = outb.filter(
            pl.col("movement_id").is_in(returns.get_column("reference").implode()),
            ~pl.col("carried"),
        )
        issue_pieces = pieces.filter(pl.col("category") == "CONSUMED").join(
            issues.select(pl.col("seq").alias("out_seq"), pl.col("movement_id").alias("reference")),
            on="out_seq",
        )
        issue_refs = out_refs.join(
            issues.select("seq", pl.col("movement_id").alias("reference")), on="seq"
        )
        return RangeReturns(
            returns,
            issues.select(
                pl.col("movement_id").alias("reference"), pl.col("qty").alias("issue_qty")
            ),
            issue_pieces,
            issue_refs,
        )

    def values(self, todo: pl.Series, known: pl.DataFrame) -> pl.DataFrame:
        """origin_id, value_cents of the returns among `todo` whose issue's cost is now
        known: every consumed piece's origin valued and its provisional cost, if any."""
        pending = self.returns.filter(pl.col("origin_id").is_in(todo.implode()))
        if not pending.height:
            return pl.DataFrame(schema={"origin_id": pl.String, "value_cents": pl.Int64})
        needed = pending.get_column("reference").implode()
        pieces = self.issue_pieces.filter(pl.col("reference").is_in(needed)).join(
            known.select("origin_id", "origin_qty", "origin_value_cents"),
            on="origin_id",
            how="left",
        )
        pieces = pieces.with_columns(
            (
                slice_cost(
                    pl.col("origin_value_cents"),
                    pl.col("origin_a"),
                    pl.col("origin_b"),
                    pl.col("origin_qty"),
                )
                + pl.col("landed_cents")
            ).alias("piece_cents")
        )
        consumed = pieces.group_by("reference").agg(
            pl.col("piece_cents").sum().alias("consumed_cents"),
            pl.col("piece_cents").null_count().alias("unvalued"),
        )
        provisional = reference_value(
            self.issue_refs.filter(pl.col("reference").is_in(needed)), known, "unmet_qty"
        )
        has_provisional = pl.col("reference").is_in(provisional.get_column("reference").implode())
        cost = (
            pending.select("reference")
            .unique()
            .join(consumed, on="reference", how="left")
            .join(provisional.select("reference", "ref_cents"), on="reference", how="left")
        )
        ready = (pl.col("unvalued").fill_null(0) == 0) & (
            ~has_provisional | pl.col("ref_cents").is_not_null()
        )
        cost = cost.with_columns(
            pl.when(ready)
            .then(pl.col("consumed_cents").fill_null(0) + pl.col("ref_cents").fill_null(0))
            .alias("issue_cost_cents")
        )
        valued = (
            pending.join(cost.select("reference", "issue_cost_cents"), on="reference")
            .join(self.issues, on="reference")
            .filter(pl.col("issue_cost_cents").is_not_null())
        )
        return valued.select(
            "origin_id",
            share(pl.col("issue_cost_cents"), pl.col("qty"), pl.col("issue_qty")).alias(
                "value_cents"
            ),
        )
