"""Rating and matching as a data engineer would write them in DuckDB SQL (issue 14 point 5).

The baseline `benchmarks.reconciliation` runs beside the engine: the same shipments, FX
rates, companies, rate cards and bill lines, registered in one DuckDB connection from
Arrow, and three statements that build the same expected-charges table as
`rate_shipments` and the same matched lines as `mark_billing_roles` + `match_shipments`.
`check_equal` then compares both with the engine's, row by row and to the cent, and
raises if anything differs: the ratio is only quoted for equal work.

The rules are those of docs/rate-cards.md and pipelines/reconciliation/matching.py,
written the way SQL writes them: the cards as small tables (versions, zones, express
prices, per-kg bands, weight breaks, fuel % by month, remote postcodes, always-on fees),
joins and CASE expressions, and window functions for the billing roles. Three choices
were measured at 1M shipments, each the plain one a data engineer would reach for next:
- the band holding a weight and the FX rate of the ship date are interval joins (bounds
  from LAG/LEAD), not ASOF JOINs: those sort the million wide shipment rows, and took
  5.8 of the rating's 8.6 s of CPU;
- the remote area is a LEFT JOIN on the postcode ranges, not a correlated EXISTS (which
  DuckDB decorrelated into a grouping over 500k distinct postcodes);
- the billing-role windows run over the lines whose (carrier, tracking number, charge
  type) repeats, found by a GROUP BY (a line alone on its key is a CHARGE, or an
  UNMATCHED_CREDIT when negative): over all 2M lines, seven windows on two million
  one-line partitions took 40 s of CPU.
Money stays DECIMAL (DuckDB multiplies decimals exactly and rounds them half away from
zero, which is half-up for the non-negative amounts rated here; each CASE branch is
rounded on its own, see RATINGS_SQL); weights are integer grams because DuckDB divides
decimals in DOUBLE, and rounding a weight up to its increment in floating point is off by
a step now and then.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl
from polars.testing import assert_series_equal

from pipelines.contracts import types as t
from pipelines.rating.cards import Applies, PostcodeRange, RateCard, Shape, normalise_postcode

_PRICE = pl.Decimal(18, 4)
_CARD_SCHEMAS: dict[str, dict[str, Any]] = {
    "cards": {
        "card_key": pl.String, "carrier": pl.String, "contract": pl.String,
        "contract_version": pl.Int64, "valid_from": pl.Date,
        "valid_to": pl.Date, "currency": pl.String, "shape": pl.String,
        "volumetric_divisor": pl.Int64, "increment_g": pl.Int64, "min_weight_g": pl.Int64,
        "minimum_charge": _PRICE, "remote_fee": _PRICE, "has_fuel": pl.Boolean,
    },
    "zones": {
        "card_key": pl.String, "zone": pl.String, "country": pl.String,
        "postcode_from": pl.String, "postcode_to": pl.String, "zone_order": pl.Int64,
    },
    "express_prices": {
        "card_key": pl.String, "zone": pl.String, "first_g": pl.Int64, "step_g": pl.Int64,
        "first_price": _PRICE, "additional_price": _PRICE,
    },
    "per_kg_bands": {
        "card_key": pl.String, "zone": pl.String, "up_to_g": pl.Int64, "per_kg": _PRICE,
        "registration_fee": _PRICE,
    },
    "weight_breaks": {
        "card_key": pl.String, "zone": pl.String, "up_to_g": pl.Int64, "price": _PRICE,
    },
    "fuel": {"card_key": pl.String, "month": pl.Date, "fuel_percent": t.PERCENT},
    "remote_postcodes": {
        "card_key": pl.String, "country": pl.String, "postcode_from": pl.String,
        "postcode_to": pl.String,
    },
    "always_fees": {"card_key": pl.String, "charge_type": pl.String, "fee": _PRICE},
}  # fmt: skip
"""The rate cards as the tables the SQL joins (weights in grams, prices as decimals)."""


def _grams(kg: Decimal) -> int:
    return int(kg * 1000)


def _card_rows(card: RateCard) -> dict[str, list[tuple]]:
    """One card's rows of each table (the YAML loaded as a data engineer would)."""
    key = card.key
    rows: dict[str, list[tuple]] = {name: [] for name in _CARD_SCHEMAS}
    rows["cards"].append(
        (
            key, card.carrier, card.contract, card.version, card.valid_from, card.valid_to,
            card.currency, card.shape.value,
            card.volumetric_divisor, _grams(card.weight_increment_kg),
            _grams(card.minimum_weight_kg), card.minimum_charge,
            card.remote_area.fee if card.remote_area else None, bool(card.fuel_percent_by_month),
        )
    )  # fmt: skip
    for z in card.zones:
        for country in z.countries:
            ranges: list[PostcodeRange | None] = [*z.postcodes] or [None]
            for r in ranges:
                pc_from = normalise_postcode(r.start) if r else None
                pc_to = normalise_postcode(r.end) if r else None
                rows["zones"].append((key, z.zone, country, pc_from, pc_to, len(rows["zones"])))
    if card.shape is Shape.EXPRESS and card.express:
        first_g, step_g = (
            _grams(card.express.first_weight_kg),
            _grams(card.express.additional_weight_kg),
        )
        for p in card.express.prices:
            rows["express_prices"].append((key, p.zone, first_g, step_g, p.first, p.additional))
    for b in card.per_kg or []:
        rows["per_kg_bands"].append((key, b.zone, _grams(b.up_to_kg), b.per_kg, b.registration_fee))
    for w in card.weight_breaks or []:
        rows["weight_breaks"].append((key, w.zone, _grams(w.up_to_kg), w.price))
    for month, pct in card.fuel_percent_by_month.items():
        year, mon = month.split("-")
        rows["fuel"].append((key, date(int(year), int(mon), 1), pct))
    for rr in card.remote_area.postcodes if card.remote_area else []:
        rows["remote_postcodes"].append(
            (key, rr.country, normalise_postcode(rr.start), normalise_postcode(rr.end))
        )
    for a in card.accessorials:
        if a.applies is Applies.ALWAYS:
            rows["always_fees"].append((key, a.charge_type, a.fee))
    return rows


def card_tables(cards: list[RateCard]) -> dict[str, pl.DataFrame]:
    """Every card's rows, one frame per table of `_CARD_SCHEMAS`."""
    rows: dict[str, list[tuple]] = {name: [] for name in _CARD_SCHEMAS}
    for card in cards:
        for name, part in _card_rows(card).items():
            rows[name] += part
    return {
        name: pl.DataFrame(rows[name], schema=schema, orient="row")
        for name, schema in _CARD_SCHEMAS.items()
    }


NORMAL_TRACKING = r"regexp_replace(upper({}), '[^0-9A-Z]', '', 'g')"
"""pipelines.tracking: upper case, letters and digits only."""

RATINGS_SQL = f"""
CREATE OR REPLACE TEMP TABLE ratings AS
WITH versions AS (  -- an open-ended version runs until the day before its carrier's next
    SELECT *, coalesce(valid_to, lead(valid_from) OVER (
        PARTITION BY carrier ORDER BY valid_from) - 1) AS valid_until
    FROM cards
),
brackets AS (  -- per-kg bands and weight breaks: each holds the weights above the
    -- previous bound of its zone, up to its own
    SELECT card_key, zone, up_to_g, per_kg AS price, registration_fee,
        coalesce(lag(up_to_g) OVER (PARTITION BY card_key, zone ORDER BY up_to_g), -1)
            AS above_g
    FROM per_kg_bands
    UNION ALL
    SELECT card_key, zone, up_to_g, price, 0, coalesce(lag(up_to_g) OVER (
        PARTITION BY card_key, zone ORDER BY up_to_g), -1)
    FROM weight_breaks
),
fx_periods AS (  -- a rate holds from its date until the day before the pair's next rate
    SELECT *, lead(rate_date) OVER (PARTITION BY currency, to_currency ORDER BY rate_date)
        AS next_rate_date
    FROM fx_rates
),
whole_country AS (  -- the first whole-country zone of a card for a country
    SELECT card_key, country, zone FROM zones WHERE postcode_from IS NULL
    QUALIFY row_number() OVER (PARTITION BY card_key, country ORDER BY zone_order) = 1
),
shipped AS (
    SELECT s.shipment_id, s.carrier,
        {NORMAL_TRACKING.format("s.tracking_number")} AS tracking_number, s.order_id,
        s.company, CAST(s.shipped_at AS DATE) AS ship_date, s.service,
        s.destination_country AS country, s.destination_postcode,
        regexp_replace(upper(s.destination_postcode), '[\\s-]', '', 'g') AS postcode,
        s.parcels, CAST(s.weight_kg * 1000 AS BIGINT) AS actual_g,
        CAST(s.length_cm * 10 AS BIGINT) * CAST(s.width_cm * 10 AS BIGINT)
            * CAST(s.height_cm * 10 AS BIGINT) * s.parcels AS volume_mm3,
        v.card_key, v.contract, v.contract_version, v.currency, v.shape, v.volumetric_divisor,
        v.increment_g, v.min_weight_g,
        v.minimum_charge, v.remote_fee, v.has_fuel
    FROM shipments s
    LEFT JOIN versions v ON v.carrier = s.carrier
        AND CAST(s.shipped_at AS DATE) >= v.valid_from
        AND (v.valid_until IS NULL OR CAST(s.shipped_at AS DATE) <= v.valid_until)
),
weighed AS (  -- mm3 / (cm3 per kg) is grams; both rounded up in integers
    SELECT *, CASE WHEN volumetric_divisor IS NULL THEN 0
            ELSE (volume_mm3 + volumetric_divisor - 1) // volumetric_divisor END AS volumetric_g
    FROM shipped
),
chargeable AS (
    SELECT *, (greatest(actual_g, volumetric_g, min_weight_g) + increment_g - 1)
        // increment_g * increment_g AS chargeable_g
    FROM weighed
),
zoned AS (
    SELECT c.*, coalesce(zr.zone, zw.zone) AS zone, r.card_key IS NOT NULL AS is_remote
    FROM chargeable c
    LEFT JOIN remote_postcodes r ON r.card_key = c.card_key AND r.country = c.country
        AND c.postcode BETWEEN r.postcode_from AND r.postcode_to
    LEFT JOIN zones zr ON zr.card_key = c.card_key AND zr.country = c.country
        AND zr.postcode_from IS NOT NULL AND c.postcode BETWEEN zr.postcode_from AND zr.postcode_to
    LEFT JOIN whole_country zw ON zw.card_key = c.card_key AND zw.country = c.country
),
priced AS (
    SELECT z.*, f.fuel_percent,
        CASE z.shape  -- each branch rounded on its own: CASE would first bring the
            -- branches to one scale (4 places), rounding 83.32499 to 83.3250 and then 83.33
            WHEN 'EXPRESS' THEN round(e.first_price + e.additional_price
                * ((greatest(z.chargeable_g - e.first_g, 0) + e.step_g - 1) // e.step_g), 2)
            WHEN 'PER_KG' THEN round(b.price * (z.chargeable_g * 0.001::DECIMAL(4, 3)), 2)
            ELSE round(b.price, 2) END AS raw_freight,
        CASE WHEN z.shape = 'PER_KG' THEN round(b.registration_fee * z.parcels, 2) ELSE 0 END
            AS registration,
        CASE WHEN z.shape = 'EXPRESS' THEN e.first_price ELSE b.price END AS rate_price,
        CASE WHEN z.shape = 'EXPRESS' THEN e.additional_price END AS rate_additional_price,
        CASE WHEN z.shape = 'EXPRESS' THEN e.step_g END AS rate_step_g,
        CASE WHEN z.shape <> 'EXPRESS' THEN b.up_to_g END AS rate_band_up_to_g
    FROM zoned z
    LEFT JOIN express_prices e ON e.card_key = z.card_key AND e.zone = z.zone
    LEFT JOIN brackets b ON b.card_key = z.card_key AND b.zone = z.zone
        AND z.chargeable_g > b.above_g AND z.chargeable_g <= b.up_to_g
    LEFT JOIN fuel f ON f.card_key = z.card_key AND f.month = date_trunc('month', z.ship_date)
),
charged AS (
    SELECT *, greatest(raw_freight, round(minimum_charge, 2)) AS freight,
        CASE
            WHEN card_key IS NULL THEN format('no {{}} rate card valid on {{}}', carrier,
                CAST(ship_date AS VARCHAR))
            WHEN zone IS NULL THEN format('{{}} has no zone for country {{}} postcode {{}}',
                card_key, country, coalesce(postcode, '(none)'))
            WHEN raw_freight IS NULL AND shape = 'EXPRESS'
                THEN format('{{}}: no express price for zone {{}}', card_key, zone)
            WHEN raw_freight IS NULL THEN format(
                '{{}}: {{}} kg is above the last weight band of zone {{}}', card_key,
                CAST(chargeable_g * 0.001::DECIMAL(4, 3) AS VARCHAR), zone)
            WHEN has_fuel AND fuel_percent IS NULL THEN format('{{}} has no fuel % for {{}}',
                card_key, strftime(ship_date, '%Y-%m'))
        END AS unrated_reason
    FROM priced
)
SELECT c.shipment_id, c.carrier, c.tracking_number, c.order_id, c.company, c.ship_date,
    c.service, c.country AS destination_country, c.destination_postcode, c.card_key,
    c.contract, c.contract_version, c.currency, c.zone, c.is_remote, c.parcels,
    CAST(c.actual_g * 0.001::DECIMAL(4, 3) AS DECIMAL(12, 3)) AS actual_weight_kg,
    CAST(c.volumetric_g * 0.001::DECIMAL(4, 3) AS DECIMAL(12, 3)) AS volumetric_weight_kg,
    CAST(c.chargeable_g * 0.001::DECIMAL(4, 3) AS DECIMAL(12, 3)) AS chargeable_weight_kg,
    c.fuel_percent, CAST(c.rate_price AS DECIMAL(18, 6)) AS rate_price,
    CAST(c.rate_additional_price AS DECIMAL(18, 6)) AS rate_additional_price,
    CAST(c.rate_step_g * 0.001::DECIMAL(4, 3) AS DECIMAL(12, 3)) AS rate_step_kg,
    CAST(c.rate_band_up_to_g * 0.001::DECIMAL(4, 3) AS DECIMAL(12, 3)) AS rate_band_up_to_kg,
    c.unrated_reason, c.freight, c.registration,
    CASE WHEN c.has_fuel THEN round(c.freight * c.fuel_percent * 0.01, 2) END AS fuel,
    CASE WHEN c.is_remote THEN round(c.remote_fee, 2) END AS remote_area,
    co.functional_currency,
    CASE WHEN c.currency = co.functional_currency THEN 1 ELSE fx.rate END
        ::DECIMAL(18, 8) AS fx_rate
FROM charged c
LEFT JOIN companies co ON co.company = c.company AND c.card_key IS NOT NULL
LEFT JOIN fx_periods fx ON fx.currency = c.currency AND fx.to_currency = co.functional_currency
    AND c.ship_date >= fx.rate_date
    AND (fx.next_rate_date IS NULL OR c.ship_date < fx.next_rate_date)
"""
"""One row per shipment: the version, zone, weights, contract rows and charges it is
priced with (SHIPMENT_RATINGS but the totals, which come from the expected charges)."""

EXPECTED_CHARGES_SQL = """
CREATE OR REPLACE TEMP TABLE expected_charges AS
WITH charges AS (
    SELECT *, 'FREIGHT' AS charge_type, freight AS amount FROM ratings
    UNION ALL SELECT *, 'FUEL', fuel FROM ratings WHERE fuel > 0
    UNION ALL SELECT *, 'REMOTE_AREA', remote_area FROM ratings WHERE remote_area > 0
    UNION ALL SELECT *, 'REGISTRATION', registration FROM ratings WHERE registration > 0
    UNION ALL SELECT r.*, a.charge_type, round(a.fee, 2) FROM ratings r
        JOIN always_fees a ON a.card_key = r.card_key WHERE round(a.fee, 2) > 0
)
SELECT shipment_id, carrier, tracking_number, ship_date, charge_type,
    CAST(amount AS DECIMAL(18, 2)) AS expected_amount, currency, functional_currency,
    CAST(round(amount * fx_rate, 2) AS DECIMAL(18, 2)) AS expected_amount_functional
FROM charges WHERE unrated_reason IS NULL
"""
"""One row per rated shipment and charge the contract expects (FREIGHT always)."""

SHIPMENT_RATINGS_SQL = """
CREATE OR REPLACE TEMP TABLE shipment_ratings AS
SELECT r.*, CAST(t.expected_total AS DECIMAL(18, 2)) AS expected_total,
    CAST(t.expected_total_functional AS DECIMAL(18, 2)) AS expected_total_functional
FROM ratings r LEFT JOIN (
    SELECT shipment_id, sum(expected_amount) AS expected_total,
        sum(expected_amount_functional) AS expected_total_functional
    FROM expected_charges GROUP BY shipment_id
) t USING (shipment_id)
"""
"""SHIPMENT_RATINGS: each shipment's rating with the totals of its expected charges."""

_LINE_ORDER = "bill_date, bill_number, line_number, source_sha256"
_SIZE = "PARTITION BY carrier, tracking_number, charge_type, currency, amount_size"
_KEY = "PARTITION BY carrier, tracking_number, charge_type"
MATCHED_SQL = f"""
CREATE OR REPLACE TEMP TABLE matched AS
WITH lines AS (
    SELECT * REPLACE ({NORMAL_TRACKING.format("tracking_number")} AS tracking_number)
    FROM bill_lines
),
repeated_keys AS (  -- a line alone on its key is a CHARGE, or an UNMATCHED_CREDIT if negative
    SELECT carrier, tracking_number, charge_type FROM lines GROUP BY ALL HAVING count(*) > 1
),
keyed AS (  -- the lines of repeated keys, on the columns their roles are worked out from
    SELECT source_sha256, bill_number, line_number, bill_date, carrier, tracking_number,
        charge_type, currency, amount, amount >= 0 AS is_charge, abs(amount) AS amount_size
    FROM lines SEMI JOIN repeated_keys USING (carrier, tracking_number, charge_type)
),
walked AS (  -- per key and size, the charges not yet reversed: a walk clamped at zero
    SELECT *, sum(CASE WHEN is_charge THEN 1 ELSE -1 END) OVER (
            {_SIZE} ORDER BY {_LINE_ORDER} ROWS UNBOUNDED PRECEDING) AS size_walk,
        row_number() OVER ({_KEY} ORDER BY {_LINE_ORDER}) AS billing_position
    FROM keyed
),
opened AS (
    SELECT *, size_walk - least(min(size_walk) OVER (
        {_SIZE} ORDER BY {_LINE_ORDER} ROWS UNBOUNDED PRECEDING), 0) AS open_after
    FROM walked
),
credits AS (  -- a negative line finding a charge of its size open reverses it
    SELECT *, NOT is_charge AND open_before > 0 AS is_credit FROM (
        SELECT *, coalesce(lag(open_after) OVER ({_SIZE} ORDER BY {_LINE_ORDER}), 0)
            AS open_before
        FROM opened)
),
roles AS (  -- a charge while an earlier one stands (billed, not reversed) is a DUPLICATE
    SELECT *, CASE
            WHEN is_credit THEN 'CREDIT'
            WHEN NOT is_charge THEN 'UNMATCHED_CREDIT'
            WHEN coalesce(sum(is_charge::INT - is_credit::INT) OVER ({_KEY} ORDER BY
                {_LINE_ORDER} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) > 0
                THEN 'DUPLICATE'
            ELSE 'CHARGE' END AS billing_role
    FROM credits
),
firsts AS (  -- each line carries the CHARGE its standing billing opened with
    SELECT source_sha256, bill_number, line_number, billing_role,
        first_value(bill_number) OVER first_w AS first_bill_number,
        first_value(line_number) OVER first_w AS first_line_number,
        first_value(bill_date) OVER first_w AS first_bill_date,
        first_value(amount) OVER first_w AS first_amount
    FROM (
        SELECT *, sum((billing_role = 'CHARGE')::INT) OVER ({_KEY} ORDER BY {_LINE_ORDER}
            ROWS UNBOUNDED PRECEDING) AS standing_billing
        FROM roles)
    WINDOW first_w AS ({_KEY}, standing_billing ORDER BY {_LINE_ORDER})
),
reversals AS (  -- a CREDIT reverses the latest earlier charge of its size at its depth
    SELECT cr.source_sha256, cr.bill_number, cr.line_number,
        ch.source_sha256 AS reversed_source_sha256, ch.bill_number AS reversed_bill_number,
        ch.line_number AS reversed_line_number, ch.bill_date AS reversed_bill_date,
        ch.amount AS reversed_amount
    FROM (SELECT * FROM credits WHERE is_credit) cr
    ASOF LEFT JOIN (SELECT * FROM credits WHERE is_charge) ch
        ON ch.carrier = cr.carrier AND ch.tracking_number = cr.tracking_number
        AND ch.charge_type = cr.charge_type AND ch.currency = cr.currency
        AND ch.amount_size = cr.amount_size AND ch.open_after = cr.open_before
        AND cr.billing_position >= ch.billing_position
),
others AS (  -- a tracking number we did not ship with this carrier: who did
    SELECT l.source_sha256, l.bill_number, l.line_number, min(o.carrier) AS other_carrier,
        min(o.shipment_id) AS other_shipment_id
    FROM lines l
    ANTI JOIN shipment_ratings s ON s.carrier = l.carrier
        AND s.tracking_number = l.tracking_number
    JOIN shipment_ratings o ON o.tracking_number = l.tracking_number AND o.carrier <> l.carrier
    GROUP BY ALL
)
SELECT l.*,
    coalesce(f.billing_role, CASE WHEN l.amount < 0 THEN 'UNMATCHED_CREDIT' ELSE 'CHARGE' END)
        AS billing_role,
    f.* EXCLUDE (source_sha256, bill_number, line_number, billing_role),
    rv.* EXCLUDE (source_sha256, bill_number, line_number),
    s.shipment_id, s.order_id, s.company, s.ship_date, s.card_key,
    s.currency AS contract_currency, s.zone AS contract_zone, s.is_remote, s.parcels,
    s.actual_weight_kg, s.volumetric_weight_kg, s.chargeable_weight_kg, s.fuel_percent,
    s.unrated_reason, s.functional_currency, s.fx_rate, o.other_carrier, o.other_shipment_id
FROM lines l
LEFT JOIN firsts f USING (source_sha256, bill_number, line_number)
LEFT JOIN reversals rv USING (source_sha256, bill_number, line_number)
LEFT JOIN shipment_ratings s ON s.carrier = l.carrier AND s.tracking_number = l.tracking_number
LEFT JOIN others o USING (source_sha256, bill_number, line_number)
"""
"""Each bill line with its billing role and evidence, and its shipment's rating."""

_CHECKS = (
    (
        "SELECT carrier || ' ' || tracking_number FROM ratings "
        "GROUP BY carrier, tracking_number HAVING count(*) > 1",
        "tracking numbers belong to more than one shipment of a carrier",
    ),
    (
        "SELECT DISTINCT company FROM ratings "
        "WHERE card_key IS NOT NULL AND functional_currency IS NULL",
        "companies has no functional currency for",
    ),
    (
        "SELECT DISTINCT currency || '->' || functional_currency FROM ratings "
        "WHERE card_key IS NOT NULL AND fx_rate IS NULL",
        "fx_rates has no rate on or before the ship date for",
    ),
)
"""What the engine refuses, refused here too (a query each, a few values named)."""


def _refuse(con: duckdb.DuckDBPyConnection) -> None:
    for query, message in _CHECKS:
        bad = con.sql(query + " LIMIT 5").fetchall()
        if bad:
            raise ValueError(f"{message}: {', '.join(str(row[0]) for row in bad)}")


def rate_and_match(
    con: duckdb.DuckDBPyConnection,
    inputs: dict[str, pl.DataFrame],
    cards: list[RateCard],
) -> dict[str, float]:
    """Register `inputs` (shipments, fx_rates, companies, bill_lines) and the cards'
    tables, then build ratings, expected_charges and matched in `con`; the seconds
    (wall and CPU) of rating and of matching."""
    for name, frame in {**inputs, **card_tables(cards)}.items():
        con.register(name, frame.to_arrow())
    t0, c0 = time.perf_counter(), time.process_time()
    con.execute(RATINGS_SQL)
    _refuse(con)
    con.execute(EXPECTED_CHARGES_SQL)
    con.execute(SHIPMENT_RATINGS_SQL)
    t1, c1 = time.perf_counter(), time.process_time()
    con.execute(MATCHED_SQL)
    t2, c2 = time.perf_counter(), time.process_time()
    return {
        "sql_rate_s": t1 - t0,
        "sql_rate_cpu_s": c1 - c0,
        "sql_match_s": t2 - t1,
        "sql_match_cpu_s": c2 - c1,
        "sql_rate_and_match_s": t2 - t0,
        "sql_rate_and_match_cpu_s": c2 - c0,
    }


MATCH_KEY = ["source_sha256", "bill_number", "line_number"]


def check_equal(con: duckdb.DuckDBPyConnection, engine: EngineOutputs) -> dict[str, int]:
    """Raise AssertionError unless the SQL's tables equal the engine's, every column of
    every row: each shipment's rating (the reason it is not rated included), each
    expected charge (amounts in both currencies), each matched line (its own columns,
    role, evidence and shipment columns). Returns the row counts compared.

    Both sides are put in key order once (DuckDB into a sorted copy of its table, the
    engine's frame by a permutation) and compared a column at a time, so the check
    holds two columns beside the tables, not a second copy of each (at 10M shipments
    one carrier's six million matched lines are several GB)."""
    counts = {}
    for table, frame, key in (
        ("shipment_ratings", engine.ratings, ["shipment_id"]),
        ("expected_charges", engine.expected_charges, ["shipment_id", "charge_type"]),
        ("matched", engine.matched, MATCH_KEY),
    ):
        con.execute(f"CREATE TEMP TABLE sorted AS FROM {table} ORDER BY {', '.join(key)}")
        con.execute(f"DROP TABLE {table}")
        [(rows,)] = con.sql("SELECT count(*) FROM sorted").fetchall()
        if rows != frame.height:
            raise AssertionError(f"{table}: SQL has {rows} rows, the engine {frame.height}")
        order = frame.select(key).with_row_index("_row").sort(key)["_row"]
        for name in frame.columns:
            mine = frame[name].gather(order)
            if mine.dtype == pl.Enum:
                mine = mine.cast(pl.String)
            theirs = con.sql(f"SELECT {name} FROM sorted").pl().to_series()
            assert_series_equal(theirs.cast(mine.dtype), mine, check_names=False)
        con.execute("DROP TABLE sorted")
        counts[table] = frame.height
    return counts


@dataclass(frozen=True)
class EngineOutputs:
    ratings: pl.DataFrame
    expected_charges: pl.DataFrame
    matched: pl.DataFrame


def engine_outputs(inputs: dict[str, pl.DataFrame], cards: list[RateCard]) -> EngineOutputs:
    """The engine's ratings, expected charges and matched lines (every carrier's lines
    marked and matched, as `benchmarks.reconciliation` times them), for `check_equal`."""
    from pipelines.rating import rate_shipments
    from pipelines.reconciliation.matching import mark_billing_roles, match_shipments

    rating = rate_shipments(inputs["shipments"], cards, inputs["fx_rates"], inputs["companies"])
    lines = inputs["bill_lines"]
    matched = [
        match_shipments(
            mark_billing_roles(lines.filter(pl.col("carrier") == carrier)),
            rating.shipment_ratings,
            carrier,
        )
        for carrier in lines["carrier"].unique().sort()
    ]
    return EngineOutputs(rating.shipment_ratings, rating.expected_charges, pl.concat(matched))
