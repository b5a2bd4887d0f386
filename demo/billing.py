"""The carriers' bills: billed as contracted, then anomalies injected at known rates.

Per carrier and billing period (pipelines/reconciliation/periods.py), the
period's shipments are priced with the real rating engine (pipelines/rating),
so the correct lines are exactly what the contract says. Then, on disjoint
sets of shipments (one anomaly per affected shipment, so reconciliation can
reach 100% precision and recall against ground_truth/bill_anomalies.parquet):

- UNBILLED: left off the bill (ground_truth/unbilled.parquet, reason INJECTED);
- WEIGHT_DISCREPANCY: billed at a weight at least max(50%, 0.5 kg) above our
  chargeable weight and priced at that weight; the FREIGHT line, and the FUEL
  line computed on that freight, carry the finding (reconciliation derives the
  fuel finding from the freight it rests on); other lines stay as contracted;
- RATE_MISMATCH: FREIGHT overcharged by max(6-25%, 1.00); always upwards, so
  the fuel on the approved freight stays right;
- FUEL_MISMATCH: FUEL overcharged by max(25%, 0.50) on a correct freight;
- UNCONTRACTED_CHARGE: an extra line of a charge type the contract does not allow;
- DUPLICATE: the FREIGHT line billed again at the end of the same bill or of
  the carrier's next bill; the copy is the anomaly, the first occurrence is OK;
- UNKNOWN_SHIPMENT: extra lines for tracking numbers never shipped (valid
  format of the carrier), or shipped by another carrier in the same period.

A bill is issued a few days after its period ends; a period whose bill date
falls after the generated range is still open and naturally unbilled
(ground_truth/unbilled.parquet, reason OPEN_PERIOD).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from demo.bills import write_bills
from demo.quota import Quota
from demo.reference import scaled_decimal
from demo.shipments import UNKNOWN_COUNTER_BASE, tracking_numbers
from demo.world import CARRIERS, AnomalyRates
from pipelines.contracts import inputs as contracts
from pipelines.contracts import types as t
from pipelines.layout import DataLayout
from pipelines.rating import RateCard, build_tables, load_rate_cards, rate_shipments
from pipelines.reconciliation.config import load_carriers
from pipelines.reconciliation.periods import billing_periods

BILL_DELAY_DAYS = {"DHL": 4, "UPS": 2, "FOURPX": 3, "YUNEXPRESS": 5, "YANWEN": 3}
ACCOUNTS = {
    "DHL": "952184710",
    "UPS": "A8R476",
    "FOURPX": "SZ-88310",
    "YUNEXPRESS": "YT-C10872",
    "YANWEN": "YW440317",
}
BILL_PREFIX = {
    "DHL": "MYB",
    "UPS": "UPSINV",
    "FOURPX": "4PXB",
    "YUNEXPRESS": "YTB",
    "YANWEN": "YWB",
}
UNCONTRACTED_CANDIDATES = ("OVERSIZE", "REMOTE_AREA", "ADDRESS_CORRECTION", "OTHER")
CHARGE_ORDER = {c: i for i, c in enumerate(("FREIGHT", "FUEL", "REGISTRATION", "REMOTE_AREA"))}
ANOMALIES = (
    "DUPLICATE",
    "WEIGHT_DISCREPANCY",
    "RATE_MISMATCH",
    "FUEL_MISMATCH",
    "UNKNOWN_SHIPMENT",
    "UNCONTRACTED_CHARGE",
)
TRUTH_SCHEMA = {
    "carrier": pl.String,
    "bill_number": pl.String,
    "line_number": pl.Int64,
    "tracking_number": pl.String,
    "charge_type": pl.String,
    "anomaly": pl.String,
}
UNBILLED_SCHEMA = {
    "shipment_id": pl.String,
    "carrier": pl.String,
    "period": pl.Date,
    "period_end": pl.Date,
    "reason": pl.String,
}


@dataclass
class BillingResult:
    files: list[Path] = field(default_factory=list)
    bill_count: int = 0
    line_count: int = 0
    anomaly_counts: dict[str, int] = field(default_factory=dict)
    eligible: dict[str, int] = field(default_factory=dict)


@dataclass
class _CarrierState:
    quotas: dict[str, Quota]
    carry: pl.DataFrame | None = None
    """Duplicate lines to append to the carrier's next bill."""
    unknown_counter: int = UNKNOWN_COUNTER_BASE


def write_carrier_bills(
    layout: DataLayout,
    start: date,
    end: date,
    rates: AnomalyRates,
    rng: np.random.Generator,
    tracking_offsets: dict[str, int],
) -> BillingResult:
    """Write every issued bill of [start, end] and ground_truth/{bill_anomalies,unbilled}."""
    cards = load_rate_cards(layout.rate_cards_dir)
    tables = build_tables(cards)
    config = load_carriers(layout.carriers_file)
    fx = pl.read_csv(
        layout.input_dir("fx_rates") / "fx_rates.csv", schema=contracts.FX_RATES.schema
    )
    companies = pl.read_csv(
        layout.input_dir("companies") / "companies.csv", schema=contracts.COMPANIES.schema
    )
    result = BillingResult()
    truth: list[pl.DataFrame] = []
    unbilled: list[pl.DataFrame] = []
    for carrier in CARRIERS:
        state = _CarrierState(
            {name: Quota(getattr(rates, name.lower())) for name in (*ANOMALIES, "UNBILLED")}
        )
        periods = billing_periods(config.get(carrier), start, end)
        for index, period in enumerate(periods):
            shipped = _period_shipments(layout, max(period.start, start), min(period.end, end))
            ships = shipped.filter(pl.col("carrier") == carrier)
            bill_date = period.end + timedelta(days=BILL_DELAY_DAYS[carrier])
            if bill_date > end or period.end > end:
                unbilled.append(_unbilled(ships, carrier, period.start, period.end, "OPEN_PERIOD"))
                continue
            following = periods[index + 1] if index + 1 < len(periods) else None
            next_issued = (
                following is not None
                and following.end + timedelta(days=BILL_DELAY_DAYS[carrier]) <= end
            )
            others = shipped.filter(pl.col("carrier") != carrier)
            bill_number = f"{BILL_PREFIX[carrier]}-{ACCOUNTS[carrier]}-{period.start:%Y%m%d}"
            lines, skipped = _bill_lines(
                ships,
                others,
                carrier,
                cards,
                tables,
                fx,
                companies,
                state,
                rng,
                next_issued,
                tracking_offsets[carrier],
            )
            unbilled.append(_unbilled(skipped, carrier, period.start, period.end, "INJECTED"))
            if not lines.height:
                continue  # nothing shipped: no bill
            lines = lines.with_columns(
                pl.lit(bill_number).alias("bill_number"),
                pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("line_number"),
            )
            truth.append(
                lines.filter(pl.col("anomaly").is_not_null()).select(
                    "carrier",
                    "bill_number",
                    "line_number",
                    "tracking_number",
                    "charge_type",
                    "anomaly",
                )
            )
            header = pl.DataFrame(
                {
                    "carrier": [carrier],
                    "account": [ACCOUNTS[carrier]],
                    "bill_number": [bill_number],
                    "bill_date": [bill_date],
                    "period_start": [period.start],
                    "period_end": [period.end],
                    "currency": [config.get(carrier).currency],
                    "cents": [int(lines["cents"].sum())],
                }
            ).select(
                pl.exclude("cents"),
                scaled_decimal(pl.col("cents"), 2, t.MONEY).alias("stated_total"),
            )
            bill_lines = lines.select(
                "carrier",
                "bill_number",
                "line_number",
                "tracking_number",
                "shipment_date",
                "billed_weight_kg",
                "zone",
                "destination_country",
                "charge_type",
                scaled_decimal(pl.col("cents"), 2, t.MONEY).alias("amount"),
            )
            result.files.extend(write_bills(carrier, header, bill_lines, layout))
            result.bill_count += 1
            result.line_count += bill_lines.height
        for name, quota in state.quotas.items():
            result.eligible[name] = result.eligible.get(name, 0) + quota.eligible
    truth_frame = pl.concat(truth) if truth else pl.DataFrame(schema=TRUTH_SCHEMA)
    unbilled_frame = pl.concat(unbilled).sort("carrier", "shipment_id")
    ground = layout.ground_truth_dir
    ground.mkdir(parents=True, exist_ok=True)
    for frame, name in ((truth_frame, "bill_anomalies"), (unbilled_frame, "unbilled")):
        path = ground / f"{name}.parquet"
        frame.write_parquet(path, compression="zstd")
        result.files.append(path)
    counts = truth_frame.group_by("anomaly").len()
    result.anomaly_counts = {a: 0 for a in ANOMALIES} | dict(counts.iter_rows())
    result.anomaly_counts["UNBILLED"] = unbilled_frame.filter(pl.col("reason") == "INJECTED").height
    result.anomaly_counts["UNBILLED_OPEN_PERIOD"] = unbilled_frame.filter(
        pl.col("reason") == "OPEN_PERIOD"
    ).height
    return result


def _period_shipments(layout: DataLayout, first: date, last: date) -> pl.DataFrame:
    """Shipments of the days [first, last], read back from the day files already written."""
    folder = layout.input_dir("shipments")
    days = (first + timedelta(days=offset) for offset in range((last - first).days + 1))
    files = [folder / f"{day}.csv" for day in days]
    parts = [pl.read_csv(p, schema=contracts.SHIPMENTS.schema) for p in files if p.is_file()]
    return pl.concat(parts) if parts else pl.DataFrame(schema=contracts.SHIPMENTS.schema)


def _unbilled(
    ships: pl.DataFrame, carrier: str, first: date, last: date, reason: str
) -> pl.DataFrame:
    return ships.select(
        "shipment_id",
        pl.lit(carrier).alias("carrier"),
        pl.lit(first).alias("period"),
        pl.lit(last).alias("period_end"),
        pl.lit(reason).alias("reason"),
    ).cast(UNBILLED_SCHEMA)


def _take(pool: np.ndarray, quota: Quota, eligible: int, rng: np.random.Generator) -> np.ndarray:
    count = min(quota.take(eligible), len(pool))
    return pool[:count] if count else pool[:0]


def _cents(column: str) -> pl.Expr:
    return (pl.col(column).cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64)


def _grams(column: str) -> pl.Expr:
    return (pl.col(column).cast(pl.Decimal(38, 3)) * 1000).cast(pl.Int64)


def _rated(ships: pl.DataFrame, tables, fx: pl.DataFrame, companies: pl.DataFrame):
    rating = rate_shipments(ships, tables, fx, companies)
    if rating.unrated.height:
        sample = rating.unrated.select("shipment_id", "unrated_reason").head(3).rows()
        raise ValueError(f"{rating.unrated.height} demo shipments cannot be rated, e.g. {sample}")
    return rating


def _contract_lines(rating) -> pl.DataFrame:
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
        _cents("expected_amount").alias("cents"),
        pl.lit(None, dtype=pl.String).alias("anomaly"),
    )


def _uncontracted_type(cards: list[RateCard], carrier: str) -> str:
    allowed: set[str] = set()
    for card in cards:
        if card.carrier == carrier:
            allowed |= set(card.allowed_charge_types) | set(card.pass_through_charge_types)
    return next(c for c in UNCONTRACTED_CANDIDATES if c not in allowed)


def _bill_lines(
    ships: pl.DataFrame,
    others: pl.DataFrame,
    carrier: str,
    cards: list[RateCard],
    tables,
    fx: pl.DataFrame,
    companies: pl.DataFrame,
    state: _CarrierState,
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
    rating = _rated(billed, tables, fx, companies)
    lines = _contract_lines(rating)

    ids = billed["shipment_id"].to_numpy()[rng.permutation(billed.height)]
    light = rating.shipment_ratings.filter(_grams("chargeable_weight_kg") <= 15_000)["shipment_id"]
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

    lines = _weight_discrepancies(
        lines, billed, chosen["WEIGHT_DISCREPANCY"], tables, fx, companies
    )
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
    tables,
    fx: pl.DataFrame,
    companies: pl.DataFrame,
) -> pl.DataFrame:
    """Bill the chosen shipments at max(+50%, +0.5 kg) over our chargeable weight, priced there."""
    if not chosen:
        return lines
    ours = lines.filter(pl.col("charge_type") == "FREIGHT").select(
        "shipment_id", _grams("billed_weight_kg").alias("our_g")
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
    again = _contract_lines(_rated(heavier, tables, fx, companies)).select(
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
    state: _CarrierState,
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
