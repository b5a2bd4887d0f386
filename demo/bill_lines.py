"""One bill's lines: the contract's expected charges, then the injected anomalies.

See demo/billing.py for the rules; this module turns one period's shipments of
one carrier into canonical lines (amounts in integer cents while they are
worked on) with an `anomaly` label on every line that was tampered with.

The correct lines are priced by the row-by-row reference pricer (oracles/rating.py),
not by the set-based engine that reconciliation then checks them with
(pipelines/rating): a rating bug in the engine makes it disagree with the bills and
shows up as findings the ground truth does not have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from demo.quota import Quota
from demo.reference import scaled_decimal
from demo.shipments import UNKNOWN_COUNTER_BASE, tracking_numbers
from oracles.rating import rate_row
from pipelines.contracts import types as t
from pipelines.contracts.rating import EXPECTED_CHARGES, SHIPMENT_RATINGS
from pipelines.money import kg_to_grams, money_to_cents
from pipelines.rating import RateCard, RateCardTables
from pipelines.tracking import with_normalised_tracking

UNCONTRACTED_CANDIDATES = ("OVERSIZE", "REMOTE_AREA", "ADDRESS_CORRECTION", "OTHER")
OPTIONAL_SHARE = {
    "RESIDENTIAL": 0.6,
    "ADDRESS_CORRECTION": 0.01,
    "CUSTOMS_DUTY": 0.05,
    "IMPORT_VAT": 0.05,
}
"""Share of a carrier's billed shipments carrying each allowed optional charge."""
DEFAULT_OPTIONAL_SHARE = 0.02
CHARGE_ORDER = {c: i for i, c in enumerate(("FREIGHT", "FUEL", "REGISTRATION", "REMOTE_AREA"))}


@dataclass
class CarrierState:
    """Per-carrier running state across its billing periods."""

    quotas: dict[str, Quota]
    carry: pl.DataFrame | None = None
    """Duplicate lines to append to the carrier's next bill."""
    unknown_counter: int = UNKNOWN_COUNTER_BASE


@dataclass(frozen=True)
class Priced:
    """The contract's view of some shipments, in the engine's table shapes (the columns
    of SHIPMENT_RATINGS and EXPECTED_CHARGES the bills need)."""

    shipment_ratings: pl.DataFrame
    expected_charges: pl.DataFrame


RATING_COLUMNS = ("shipment_id", "card_key", "zone", "destination_country", "chargeable_weight_kg")
CHARGE_COLUMNS = ("shipment_id", "carrier", "tracking_number", "ship_date", "charge_type")


def _priced(ships: pl.DataFrame, cards: list[RateCard]) -> Priced:
    """Each shipment priced one at a time by the reference pricer, in shipment order and,
    per shipment, in the reference's charge order (FREIGHT, FUEL, REMOTE_AREA,
    REGISTRATION, always-on accessorials), as EXPECTED_CHARGES orders them."""
    ratings: list[tuple] = []
    charges: list[tuple] = []
    unrated: list[tuple[str, str]] = []
    for s in with_normalised_tracking(ships.sort("shipment_id")).iter_rows(named=True):
        rating = rate_row(cards, s)
        if rating.unrated_reason is not None:
            unrated.append((s["shipment_id"], rating.unrated_reason))
            continue
        ratings.append(
            (
                s["shipment_id"],
                rating.card_key,
                rating.zone,
                s["destination_country"],
                rating.chargeable_weight_kg,
            )
        )
        key = (s["shipment_id"], s["carrier"], s["tracking_number"], s["shipped_at"].date())
        charges.extend((*key, charge, amount) for charge, amount in rating.charges.items())
    if unrated:
        raise ValueError(f"{len(unrated)} demo shipments cannot be rated, e.g. {unrated[:3]}")
    rating_schema = {c: SHIPMENT_RATINGS.schema[c] for c in RATING_COLUMNS}
    charge_schema = {c: EXPECTED_CHARGES.schema[c] for c in (*CHARGE_COLUMNS, "expected_amount")}
    return Priced(
        pl.DataFrame(ratings, schema=rating_schema, orient="row"),
        pl.DataFrame(charges, schema=charge_schema, orient="row"),
    )


def _contract_lines(rating: Priced) -> pl.DataFrame:
    """What the contract says each shipment owes: one line per expected charge."""
    weights = rating.shipment_ratings.select(
        "shipment_id", "chargeable_weight_kg", "zone", "destination_country"
    )
    return rating.expected_charges.join(weights, on="shipment_id").select(
        "shipment_id",
        "carrier",
        "tracking_number",
        pl.col("ship_date").alias("shipment_date"),
        pl.col("chargeable_weight_kg").alias("billed_weight_kg"),
        "zone",
        "destination_country",
        "charge_type",
        money_to_cents("expected_amount").alias("cents"),
        pl.lit(None, dtype=pl.String).alias("anomaly"),
    )


def _optional_charges(
    lines: pl.DataFrame, rating: Priced, tables: RateCardTables, rng: np.random.Generator
) -> pl.DataFrame:
    """Charges the contract allows but rating cannot expect from our data: on-demand
    accessorials at the contract fee (UPS residential deliveries, address corrections)
    and pass-through duties and import VAT as the customs authority charged them (DHL).
    Billed correctly, so they are no anomaly (reconciliation approves them)."""
    freight = lines.filter(pl.col("charge_type") == "FREIGHT").drop("charge_type", "cents")
    cards = rating.shipment_ratings.select("shipment_id", "card_key")
    on_demand = tables.accessorials.filter(~pl.col("always")).select(
        "card_key",
        "charge_type",
        (pl.col("fee_u") // 100).alias("cents"),
        pl.lit(False).alias("duty"),
    )
    duties = tables.allowed.filter(pl.col("pass_through")).select(
        "card_key",
        "charge_type",
        pl.lit(0, dtype=pl.Int64).alias("cents"),
        pl.lit(True).alias("duty"),
    )
    options = freight.join(cards, on="shipment_id").join(
        pl.concat([on_demand, duties]), on="card_key"
    )
    share = pl.col("charge_type").replace_strict(
        OPTIONAL_SHARE, default=DEFAULT_OPTIONAL_SHARE, return_dtype=pl.Float64
    )
    drawn = options.with_columns(
        _u=pl.Series(rng.random(options.height)),
        _duty_cents=pl.Series(rng.integers(200, 4000, options.height), dtype=pl.Int64),
    )
    return (
        drawn.filter(pl.col("_u") < share)
        .with_columns(cents=pl.when("duty").then("_duty_cents").otherwise("cents"))
        .select(lines.columns)
    )


def _uncontracted_type(cards: list[RateCard], carrier: str) -> str:
    allowed: set[str] = set()
    for card in cards:
        if card.carrier == carrier:
            allowed |= set(card.allowed_charge_types) | set(card.pass_through_charge_types)
    return next(c for c in UNCONTRACTED_CANDIDATES if c not in allowed)


def bill_lines(
    ships: pl.DataFrame,
    others: pl.DataFrame,
    carrier: str,
    cards: list[RateCard],
    tables: RateCardTables,
    state: CarrierState,
    rng: np.random.Generator,
    next_issued: bool,
    offset: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One bill's lines (with an `anomaly` label where injected) and the shipments left off."""
    q = state.quotas
    order = rng.permutation(ships.height)
    n_unbilled = min(q["UNBILLED"].take(ships.height), ships.height)
    skipped = ships[np.sort(order[:n_unbilled])]
    billed = ships[np.sort(order[n_unbilled:])]
    if not billed.height:
        return pl.DataFrame(), skipped
    rating = _priced(billed, cards)
    lines = _contract_lines(rating)
    lines = pl.concat([lines, _optional_charges(lines, rating, tables, rng)])

    ids = billed["shipment_id"].to_numpy()[rng.permutation(billed.height)]
    light = rating.shipment_ratings.filter(kg_to_grams(pl.col("chargeable_weight_kg")) <= 15_000)[
        "shipment_id"
    ]
    with_fuel = lines.filter(pl.col("charge_type") == "FUEL")["shipment_id"]
    chosen: dict[str, list[str]] = {}
    free = np.ones(len(ids), dtype=bool)
    for name, eligible in (
        ("WEIGHT_DISCREPANCY", np.isin(ids, light.to_numpy())),
        ("RATE_MISMATCH", np.ones(len(ids), dtype=bool)),
        ("FUEL_MISMATCH", np.isin(ids, with_fuel.to_numpy())),
        ("UNCONTRACTED_CHARGE", np.ones(len(ids), dtype=bool)),
        ("DUPLICATE", np.ones(len(ids), dtype=bool)),
    ):
        # The rate applies to the shipments the anomaly can happen to (fuel needs a fuel line).
        pool = np.flatnonzero(eligible & free)
        picked = pool[: min(q[name].take(int(eligible.sum())), len(pool))]
        free[picked] = False
        chosen[name] = ids[picked].tolist()

    lines = _weight_discrepancies(lines, billed, chosen["WEIGHT_DISCREPANCY"], cards)
    sid, ct = pl.col("shipment_id"), pl.col("charge_type")
    rate_hit = sid.is_in(chosen["RATE_MISMATCH"]) & (ct == "FREIGHT")
    fuel_hit = sid.is_in(chosen["FUEL_MISMATCH"]) & (ct == "FUEL")
    bump = pl.Series(rng.uniform(0.06, 0.25, lines.height))
    lines = lines.with_columns(
        cents=pl.when(rate_hit)
        .then(
            pl.col("cents")
            + pl.max_horizontal((pl.col("cents") * bump).round(0).cast(pl.Int64), pl.lit(100))
        )
        .when(fuel_hit)
        .then(pl.col("cents") + pl.max_horizontal(pl.col("cents") // 4, pl.lit(50)))
        .otherwise(pl.col("cents")),
        anomaly=pl.when(rate_hit)
        .then(pl.lit("RATE_MISMATCH"))
        .when(fuel_hit)
        .then(pl.lit("FUEL_MISMATCH"))
        .otherwise(pl.col("anomaly")),
    )
    freight = lines.filter(ct == "FREIGHT")
    extra = freight.filter(sid.is_in(chosen["UNCONTRACTED_CHARGE"])).with_columns(
        charge_type=pl.lit(_uncontracted_type(cards, carrier)),
        cents=pl.Series(rng.integers(300, 3000, len(chosen["UNCONTRACTED_CHARGE"]))),
        anomaly=pl.lit("UNCONTRACTED_CHARGE"),
    )
    unknown = _unknown_lines(
        freight, others, carrier, q["UNKNOWN_SHIPMENT"].take(len(ids)), state, rng, offset
    )
    body = pl.concat([lines, extra, unknown], how="vertical_relaxed").sort(
        "shipment_date",
        "tracking_number",
        pl.col("charge_type").replace_strict(CHARGE_ORDER, default=9, return_dtype=pl.Int64),
    )
    copies = freight.filter(sid.is_in(chosen["DUPLICATE"])).with_columns(
        anomaly=pl.lit("DUPLICATE")
    )
    to_next = pl.Series(rng.random(copies.height) < 0.5) & next_issued
    tail = [f for f in (state.carry, copies.filter(~to_next)) if f is not None]
    state.carry = copies.filter(to_next)
    return pl.concat([body, *tail], how="vertical_relaxed").drop("shipment_id"), skipped


def _weight_discrepancies(
    lines: pl.DataFrame,
    billed: pl.DataFrame,
    chosen: list[str],
    cards: list[RateCard],
) -> pl.DataFrame:
    """Bill the chosen shipments at max(+50%, +0.5 kg) over our chargeable weight, priced there."""
    if not chosen:
        return lines
    ours = lines.filter(pl.col("charge_type") == "FREIGHT").select(
        "shipment_id", kg_to_grams(pl.col("billed_weight_kg")).alias("our_g")
    )
    heavier = (
        billed.filter(pl.col("shipment_id").is_in(chosen))
        .join(ours, on="shipment_id")
        .with_columns(
            weight_kg=scaled_decimal(
                pl.col("our_g") + pl.max_horizontal(pl.col("our_g") // 2, pl.lit(500)),
                3,
                t.WEIGHT_KG,
            )
        )
        .drop("our_g")
    )
    again = _contract_lines(_priced(heavier, cards)).select(
        "shipment_id",
        "charge_type",
        pl.col("cents").alias("new_cents"),
        pl.col("billed_weight_kg").alias("new_weight"),
    )
    new_weight = again.group_by("shipment_id").agg(pl.col("new_weight").first())
    sid, ct = pl.col("shipment_id"), pl.col("charge_type")
    # The fuel line is only part of the finding when its own figure is visibly off.
    hit = (ct == "FREIGHT") | (
        (ct == "FUEL") & ((pl.col("new_cents") - pl.col("cents")).abs() >= 50)
    )
    return (
        lines.join(again.drop("new_weight"), on=["shipment_id", "charge_type"], how="left")
        .join(new_weight, on="shipment_id", how="left")
        .with_columns(hit=sid.is_in(chosen) & hit.fill_null(False))
        .with_columns(
            cents=pl.when("hit").then("new_cents").otherwise("cents"),
            billed_weight_kg=pl.when(sid.is_in(chosen))
            .then("new_weight")
            .otherwise("billed_weight_kg"),
            anomaly=pl.when("hit").then(pl.lit("WEIGHT_DISCREPANCY")).otherwise("anomaly"),
        )
        .drop("new_cents", "new_weight", "hit")
    )


def _unknown_lines(
    freight: pl.DataFrame,
    others: pl.DataFrame,
    carrier: str,
    count: int,
    state: CarrierState,
    rng: np.random.Generator,
    offset: int,
) -> pl.DataFrame:
    """Freight lines for parcels we never shipped with this carrier (half: never at all)."""
    if not count or not freight.height:
        return freight.head(0)
    template = freight[rng.integers(0, freight.height, count)]
    foreign = min(count // 2, others.height)
    counters = np.arange(state.unknown_counter, state.unknown_counter + count - foreign)
    state.unknown_counter += len(counters)
    numbers = tracking_numbers(carrier, counters, offset)
    if foreign:
        picked = others[np.sort(rng.choice(others.height, foreign, replace=False))]
        numbers = pl.concat([numbers, picked["tracking_number"]])
    return template.with_columns(
        shipment_id=pl.lit(None, dtype=pl.String),
        tracking_number=numbers,
        zone=pl.lit(None, dtype=pl.String),
        anomaly=pl.lit("UNKNOWN_SHIPMENT"),
    )
