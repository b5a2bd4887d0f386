"""Rows that cannot be costed: refused with their reason, and the rest of the range costed.

One document without an FX rate for its date, or a transfer whose legs disagree, used to
stop the whole night (a CostingInputError). Such a row is now taken out of the range before
anything is costed, and reported (`CostingResult.refused`: the table, the document, its day
and why); everything else is costed as if the row had not arrived. Each rule looks at the
row itself, its FX rate and its transfer's other leg, never at what the range happens to
contain beside it, so a row is refused the same way by one call over a range and by a call
per day. Once the input is fixed (the rate loaded, the leg corrected), recosting from the
row's day brings it in.

Refused (reason codes, `REASONS`):
- a priced movement (a receipt, a gain with a unit cost, an intercompany transfer-in with a
  transfer price) or a landed cost in another currency with no rate for its date;
- a receipt without a unit cost, a priced movement without a currency;
- a transfer leg without a transfer id, two legs of one kind sharing an id (all of them),
  a departure whose id is already in transit;
- a TRANSFER_IN whose quantity differs from its TRANSFER_OUT's, or that precedes it (the
  departed units stay in transit until a TRANSFER_IN that agrees arrives).
A TRANSFER_IN with no TRANSFER_OUT at all is not refused: it is costed at the reference unit
cost and flagged (docs/costing.md, "Transfers").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from pipelines.costing.late import redate
from pipelines.costing.policy import POOL_BY_COMPANY, CostingPolicy
from pipelines.costing.pricing import rates_by_day, with_rate
from pipelines.costing.state import CostingState

REFUSED_SCHEMA = pl.Schema(
    {"table": pl.String, "document_id": pl.String, "day": pl.Date, "reason": pl.String}
)
REASONS = (
    "no_fx_rate",
    "receipt_without_unit_cost",
    "priced_without_currency",
    "transfer_without_id",
    "transfer_id_shared",
    "transfer_id_in_transit",
    "transfer_quantity_differs",
    "transfer_in_before_out",
)
"""The reason codes a refusal starts with (`<code>: <detail>`)."""


def _refusal(frame: pl.DataFrame, table: str, id_col: str, reason: pl.Expr) -> pl.DataFrame:
    return frame.select(
        pl.lit(table).alias("table"),
        pl.col(id_col).alias("document_id"),
        pl.col("day"),
        reason.alias("reason"),
    )


def _no_rate(frame: pl.DataFrame, rates: pl.DataFrame) -> pl.DataFrame:
    """Rows of `frame` (day, currency, functional_currency) with no rate for their day."""
    return with_rate(frame, rates).filter(pl.col("rate").is_null()).drop("rate")


def _no_rate_reason(what: str) -> pl.Expr:
    return pl.format(
        "no_fx_rate: no {} -> {} rate for the {} date {}",
        pl.col("currency"),
        pl.col("functional_currency"),
        pl.lit(what),
        pl.col("day"),
    )


def _transfer_legs(movements: pl.DataFrame) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Transfer legs without an id or sharing one (refused), and the legs left."""
    legs = movements.filter(pl.col("movement_type").is_in(["TRANSFER_OUT", "TRANSFER_IN"]))
    no_id = legs.filter(pl.col("reference").is_null())
    shared = legs.filter(
        pl.col("reference").is_not_null() & pl.len().over("movement_type", "reference").gt(1)
    )
    refused = [
        _refusal(
            no_id,
            "movements",
            "movement_id",
            pl.format("transfer_without_id: {} without a transfer id (reference)", "movement_type"),
        ),
        _refusal(
            shared,
            "movements",
            "movement_id",
            pl.format(
                "transfer_id_shared: {} legs share transfer id {}", "movement_type", "reference"
            ),
        ),
    ]
    return legs.filter(pl.col("reference").is_not_null()).join(
        shared.select("movement_id"), on="movement_id", how="anti"
    ), refused


def _in_transit(state: CostingState) -> pl.DataFrame:
    """The transfers carried in transit from earlier ranges, as departures a TRANSFER_IN of
    this range may answer (their departure time is not carried: no arrival precedes one)."""
    return (
        state.open_layers.filter(pl.col("transfer_id").is_not_null())
        .group_by("transfer_id")
        .agg(pl.col("company").first(), pl.col("quantity").sum(), pl.col("transfer_out_id").first())
        .select(
            pl.col("transfer_id").alias("reference"),
            pl.col("company").alias("src_company"),
            pl.col("quantity").alias("src_qty"),
            pl.lit(None, pl.Datetime("us")).alias("src_at"),
            pl.col("transfer_out_id").alias("src_id"),
        )
    )


def _disagreement_refusals(reused: pl.DataFrame, arrivals: pl.DataFrame) -> list[pl.DataFrame]:
    """The refusals of departures reusing an id in transit and of arrivals that disagree
    with their departure (another quantity, or arriving before it left)."""
    leaving = pl.col("src_id")
    return [
        _refusal(
            reused,
            "movements",
            "movement_id",
            pl.format("transfer_id_in_transit: transfer id {} is already in transit", "reference"),
        ),
        _refusal(
            arrivals.filter(pl.col("quantity") != pl.col("src_qty")),
            "movements",
            "movement_id",
            pl.format(
                "transfer_quantity_differs: TRANSFER_IN of {} units, its TRANSFER_OUT {} "
                "(transfer {}) sent {}",
                "quantity",
                leaving,
                "reference",
                "src_qty",
            ),
        ),
        _refusal(
            arrivals.filter(pl.col("src_at") > pl.col("occurred_at")),
            "movements",
            "movement_id",
            pl.format(
                "transfer_in_before_out: TRANSFER_IN at {} precedes its TRANSFER_OUT {} at {}",
                "occurred_at",
                leaving,
                "src_at",
            ),
        ),
    ]


def _disagreeing_legs(
    legs: pl.DataFrame, state: CostingState, start: date, policy: CostingPolicy
) -> tuple[list[pl.DataFrame], pl.DataFrame]:
    """Departures reusing an id in transit, arrivals whose departure disagrees with them
    (refused); and every arrival with its departure's company."""
    outs = legs.filter(pl.col("movement_type") == "TRANSFER_OUT")
    transit = _in_transit(state)
    reused = outs.filter(pl.col("day") >= start).join(
        transit.select("reference"), on="reference", how="semi"
    )
    departures = pl.concat(
        [
            outs.join(reused.select("movement_id"), on="movement_id", how="anti").select(
                "reference",
                pl.col("company").alias("src_company"),
                pl.col("quantity").alias("src_qty"),
                pl.col("occurred_at").alias("src_at"),
                pl.col("movement_id").alias("src_id"),
            ),
            transit,
        ]
    ).unique("reference", keep="first")
    ins = legs.filter(pl.col("movement_type") == "TRANSFER_IN").join(
        departures, on="reference", how="inner"
    )
    if policy.pool == POOL_BY_COMPANY:  # a transfer within one company moves no cost there
        ins = ins.filter(pl.col("src_company") != pl.col("company"))
    return _disagreement_refusals(reused, ins), ins.select("movement_id", "company", "src_company")


def _unpriceable(
    dated: pl.DataFrame, in_range: pl.DataFrame, arrivals: pl.DataFrame, rates: pl.DataFrame
) -> list[pl.DataFrame]:
    """Priced movements that cannot be valued: a receipt without a unit cost, a unit cost
    without a currency, a currency without a rate for the day. Every receipt line given is
    looked at, whatever its day (landed cost weighs them all); gains with a unit cost and
    intercompany arrivals with a transfer price only in the range."""
    kind, has_cost = pl.col("movement_type"), pl.col("unit_cost").is_not_null()
    intercompany = arrivals.filter(pl.col("src_company") != pl.col("company"))
    priced = pl.concat(
        [
            dated.filter(kind == "RECEIPT"),
            in_range.filter((kind == "ADJUST_GAIN") & has_cost),
            in_range.filter((kind == "TRANSFER_IN") & has_cost).join(
                intercompany.select("movement_id"), on="movement_id", how="semi"
            ),
        ]
    )
    no_cost = priced.filter((kind == "RECEIPT") & ~has_cost)
    no_currency = priced.filter(has_cost & pl.col("currency").is_null())
    no_rate = _no_rate(priced.filter(has_cost & pl.col("currency").is_not_null()), rates).filter(
        pl.col("functional_currency").is_not_null()
    )
    return [
        _refusal(
            no_cost,
            "movements",
            "movement_id",
            pl.lit("receipt_without_unit_cost: a RECEIPT needs a unit cost"),
        ),
        _refusal(
            no_currency,
            "movements",
            "movement_id",
            pl.format("priced_without_currency: {} with a unit cost but no currency", kind),
        ),
        _refusal(no_rate, "movements", "movement_id", _no_rate_reason("document")),
    ]


def _unpriceable_landed(
    landed: pl.DataFrame | None, companies: pl.DataFrame, rates: pl.DataFrame
) -> list[pl.DataFrame]:
    """Landed costs of a known company in another currency with no rate for their posting
    day, whatever that day (only the range's are reported; none is allocated)."""
    if landed is None or not landed.height:
        return []
    posted = (
        landed.with_columns(pl.col("posted_at").dt.date().alias("day"))
        .join(companies, on="company", how="left")
        .filter(pl.col("functional_currency").is_not_null())
    )
    return [
        _refusal(
            _no_rate(posted, rates), "landed_costs", "landed_cost_id", _no_rate_reason("posting")
        )
    ]


def _without_refused(
    inputs: Mapping[str, pl.DataFrame], refused: list[pl.DataFrame], start: date, end: date
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """`inputs` without the refused rows, and the refusals of the range's days. A row
    refused for several reasons is reported once, for the first (the rules' order)."""
    out = pl.concat([r.cast(REFUSED_SCHEMA) for r in refused]).unique(
        ["table", "document_id"], keep="first", maintain_order=True
    )
    if out.is_empty():
        return dict(inputs), out
    ids = out.filter(pl.col("table") == "movements").get_column("document_id").implode()
    kept = dict(inputs)
    kept["movements"] = inputs["movements"].filter(~pl.col("movement_id").is_in(ids))
    landed = inputs.get("landed_costs")
    if landed is not None and landed.height:
        gone = out.filter(pl.col("table") == "landed_costs").get_column("document_id").implode()
        kept["landed_costs"] = landed.filter(~pl.col("landed_cost_id").is_in(gone))
    shown = out.filter(pl.col("day").is_between(start, end)).sort("table", "document_id")
    return kept, shown


def refuse_uncostable(
    inputs: Mapping[str, pl.DataFrame],
    state: CostingState,
    start: date,
    end: date,
    policy: CostingPolicy,
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """`inputs` without the rows that cannot be costed, and those rows (REFUSED_SCHEMA).

    Only rows of the range are reported (a row dated earlier was reported with its own
    range); a receipt line dated elsewhere that cannot be priced is still kept out of the
    landed-cost allocation."""
    companies = inputs["companies"].select("company", "functional_currency")
    rates = rates_by_day(inputs["fx_rates"])
    dated = (
        redate(inputs["movements"], start, policy)
        .with_columns(pl.col("occurred_at").dt.date().alias("day"))
        .join(companies, on="company", how="left")
    )
    in_range = dated.filter(pl.col("day").is_between(start, end))
    legs, refused = _transfer_legs(in_range)
    # departures before the range are in the state's transit; only this range's are legs
    found, arrivals = _disagreeing_legs(legs, state, start, policy)
    refused += found
    refused += _unpriceable(dated, in_range, arrivals, rates)
    refused += _unpriceable_landed(inputs.get("landed_costs"), companies, rates)
    return _without_refused(inputs, refused, start, end)
