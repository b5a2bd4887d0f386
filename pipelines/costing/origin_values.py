"""Step 4 of the FIFO overlay: the value of every origin layer.

Receipts and priced movements have their value from prepare; carried slices bring theirs.
The others depend on other origins: a return on its issue's cost (the issue may have been
costed in this very range), a gain, an unknown return or a transfer's shortfall on the
reference unit cost of a layer that may itself be such an origin. They resolve in rounds,
each valuing whatever now has a known source, until none is left (or a cycle is reported).
"""

from __future__ import annotations

import polars as pl

from pipelines.costing.intervals import share, slice_cost
from pipelines.costing.prepare import CostingInputError
from pipelines.costing.reference_cost import reference_value
from pipelines.costing.state import CostingState


def value_origins(
    moves: pl.DataFrame,
    state: CostingState,
    inb: pl.DataFrame,
    outb: pl.DataFrame,
    pieces: pl.DataFrame,
    out_refs: pl.DataFrame,
    in_refs: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Step 4: value every origin; returns origins, outbound items with P, flags."""
    carried = state.open_layers.group_by("origin_id").agg(
        pl.col("origin_qty").first(),
        pl.col("origin_value_cents").first(),
        pl.col("receipt_date").first(),
        pl.col("origin_kind").first(),
    )
    direct = inb.filter(pl.col("kind").is_in(["PRICED", "REF", "RETURN"])).join(
        moves.select("movement_id", "priced_cents", "reference", "return_source"),
        on="movement_id",
        how="left",
    )
    origins = pl.concat(
        [
            carried.select(
                "origin_id", "origin_qty", "origin_value_cents", "receipt_date", "origin_kind"
            ),
            direct.select(
                "origin_id",
                pl.col("qty").alias("origin_qty"),
                pl.col("priced_cents").alias("origin_value_cents"),
                pl.col("day").alias("receipt_date"),
                pl.col("movement_type").alias("origin_kind"),
            ),
            outb.filter(
                (pl.col("movement_type") == "TRANSFER_OUT") & ~pl.col("carried") & (pl.col("s") > 0)
            ).select(
                pl.concat_str(pl.lit("SHORT:"), pl.col("movement_id")).alias("origin_id"),
                pl.col("s").alias("origin_qty"),
                pl.lit(None, pl.Int64).alias("origin_value_cents"),
                pl.col("day").alias("receipt_date"),
                pl.lit("TRANSFER_SHORTFALL").alias("origin_kind"),
            ),
        ]
    )
    # state returns can be valued at once
    issue_costs = state.issue_costs.select(
        pl.col("movement_id").alias("reference"),
        pl.col("quantity").alias("n"),
        pl.col("cost_cents").alias("c"),
    )
    ret_state = direct.filter(pl.col("kind") == "RETURN", pl.col("return_source") == "STATE").join(
        issue_costs, on="reference"
    )
    ret_vals = ret_state.select(
        "origin_id", share(pl.col("c"), pl.col("qty"), pl.col("n")).alias("v")
    )
    origins = (
        origins.join(ret_vals, on="origin_id", how="left")
        .with_columns(pl.coalesce("origin_value_cents", "v").alias("origin_value_cents"))
        .drop("v")
    )

    seq_to_origin = inb.select("seq", "origin_id")
    out_id = outb.select("seq", "movement_id")
    pending_ref = pl.concat(
        [
            in_refs.join(seq_to_origin, on="seq").rename({"qty": "need"}),
            out_refs.join(out_id, on="seq")
            .filter(
                pl.col("seq").is_in(
                    outb.filter(pl.col("movement_type") == "TRANSFER_OUT")
                    .get_column("seq")
                    .implode()
                )
            )
            .with_columns(pl.concat_str(pl.lit("SHORT:"), pl.col("movement_id")).alias("origin_id"))
            .drop("movement_id")
            .rename({"s": "need"}),
        ]
    )
    rng_returns = direct.filter(
        pl.col("kind") == "RETURN", pl.col("return_source") == "RANGE"
    ).select("origin_id", "qty", "reference")
    issue_ids = outb.filter(
        pl.col("movement_id").is_in(rng_returns.get_column("reference").implode()),
        ~pl.col("carried"),
    )
    issue_pieces = pieces.filter(pl.col("category") == "CONSUMED").join(
        issue_ids.select(
            pl.col("seq").alias("oseq"),
            pl.col("movement_id").alias("reference"),
        ),
        on="oseq",
    )
    issue_refs = out_refs.join(
        issue_ids.select("seq", pl.col("movement_id").alias("reference")), on="seq"
    )

    while True:
        known = origins.filter(pl.col("origin_value_cents").is_not_null())
        todo = origins.filter(pl.col("origin_value_cents").is_null()).get_column("origin_id")
        if not todo.len():
            break
        pr = reference_value(
            pending_ref.filter(pl.col("origin_id").is_in(todo.implode())), known, "need"
        )
        new = pr.filter(pl.col("ref_cents").is_not_null()).select(
            "origin_id", pl.col("ref_cents").alias("v")
        )
        rr = rng_returns.filter(pl.col("origin_id").is_in(todo.implode()))
        if rr.height:
            ip = issue_pieces.filter(
                pl.col("reference").is_in(rr.get_column("reference").implode())
            ).join(
                known.select("origin_id", "origin_qty", "origin_value_cents"),
                on="origin_id",
                how="left",
            )
            ip = ip.with_columns(
                (
                    slice_cost(
                        pl.col("origin_value_cents"), pl.col("a"), pl.col("b"), pl.col("origin_qty")
                    )
                    + pl.col("lc_cents")
                ).alias("cc")
            )
            normal = ip.group_by("reference").agg(
                pl.col("cc").sum(), pl.col("cc").null_count().alias("missing")
            )
            refs_needed = rr.get_column("reference").implode()
            prov = reference_value(
                issue_refs.filter(pl.col("reference").is_in(refs_needed)), known, "s"
            )
            has_prov = pl.col("reference").is_in(prov.get_column("reference").implode())
            cost = (
                rr.select("reference")
                .unique()
                .join(normal, on="reference", how="left")
                .join(prov.select("reference", "ref_cents"), on="reference", how="left")
            )
            ok = (pl.col("missing").fill_null(0) == 0) & (
                ~has_prov | pl.col("ref_cents").is_not_null()
            )
            cost = cost.with_columns(
                pl.when(ok)
                .then(pl.col("cc").fill_null(0) + pl.col("ref_cents").fill_null(0))
                .alias("c")
            )
            ns = issue_ids.select(
                pl.col("movement_id").alias("reference"), pl.col("qty").alias("n2")
            )
            rv = (
                rr.join(cost.select("reference", "c"), on="reference")
                .join(ns, on="reference")
                .filter(pl.col("c").is_not_null())
            )
            new = pl.concat(
                [
                    new,
                    rv.select(
                        "origin_id", share(pl.col("c"), pl.col("qty"), pl.col("n2")).alias("v")
                    ),
                ]
            )
        if not new.height:
            raise CostingInputError(
                f"movements: values depend on each other in a cycle: {todo.head(10).to_list()}"
            )
        origins = (
            origins.join(new, on="origin_id", how="left")
            .with_columns(pl.coalesce("origin_value_cents", "v").alias("origin_value_cents"))
            .drop("v")
        )

    known = origins
    p = reference_value(out_refs, known, "s").select(
        "seq", pl.col("ref_cents").alias("p_new"), "no_ref"
    )
    outb = outb.join(p, on="seq", how="left").with_columns(
        pl.coalesce("provisional_cents", "p_new").fill_null(0).alias("provisional_cents"),
        pl.when(pl.col("carried"))
        .then(pl.col("short_qty"))
        .otherwise(pl.col("s"))
        .alias("short_qty"),
        pl.when(pl.col("carried"))
        .then(pl.col("short_a") - pl.col("r_start"))
        .otherwise(-pl.col("short_base"))
        .alias("short_shift"),
    )
    inb_flags = (
        reference_value(in_refs, known, "qty")
        .filter(pl.col("no_ref"))
        .join(inb.select("seq", "movement_id"), on="seq")
    )
    out_flags = p.filter(pl.col("no_ref")).join(outb.select("seq", "movement_id"), on="seq")
    flags = pl.concat(
        [
            inb_flags.select(
                "movement_id",
                pl.lit("NO_REFERENCE_COST").alias("flag"),
                pl.lit("no layer ever entered the pool; valued at zero").alias("detail"),
            ),
            out_flags.select(
                "movement_id",
                pl.lit("NO_REFERENCE_COST").alias("flag"),
                pl.lit("shortfall with no layer ever in the pool; provisional cost zero").alias(
                    "detail"
                ),
            ),
        ]
    )
    return origins, outb, flags
