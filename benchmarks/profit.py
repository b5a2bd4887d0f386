"""Benchmark: the order-profit engine against a straightforward DuckDB SQL implementation.

    uv run python -m benchmarks.profit --lines 1000000

Synthetic orders over a year (1-2 lines each, six order-level amounts, 2% of lines
refunded, one ISSUE posting per line and 1% returns, one parcel per order, 90% billed, a
few disputed, CN01 orders converted USD -> CNY at the day's rate) go through
the engine, chunk by chunk of order days (`pipelines.profit.chunks.order_profit_chunks`,
~250k lines each; `--lines-per-chunk 0`: one `order_profit` call), keeping only each line's
margin, and through the same rules written as one DuckDB SQL script (window sums for the
cumulative rounding); the two contribution margins are checked equal line by line, to the
cent. One process: `engine_peak_mb` is the peak before the SQL runs, `peak_mb_both` after;
wall and CPU seconds of each side. `--lines 10000000` generates and runs the same (a year,
~27k lines a day). Figures go to docs/performance.md by hand.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb
import numpy as np
import polars as pl

from benchmarks._measure import emit, peak_mb
from pipelines.contracts import types as t
from pipelines.contracts.inputs import COMPANIES, FX_RATES
from pipelines.contracts.orders import ORDER_LINES, ORDER_REFUNDS, ORDERS
from pipelines.money import money_to_cents
from pipelines.profit import (
    POSTINGS_SCHEMA,
    SHIPMENT_FREIGHT_SCHEMA,
    ProfitInputs,
    order_profit,
)
from pipelines.profit.chunks import LINES_PER_CHUNK, order_profit_chunks

START = date(2025, 1, 1)
DAYS = 365
SKU_COUNT = 2000
AMOUNTS = (
    "promotion_discount",
    "coupon_discount",
    "points_discount",
    "shipping_charged",
    "commission_fee",
    "payment_fee",
)


def _money(cents: np.ndarray) -> pl.Series:
    return (pl.Series(cents, dtype=pl.Int64).cast(pl.Decimal(38, 2)) / 100).cast(t.MONEY)


def _ids(prefix: str, values: np.ndarray) -> pl.Series:
    return prefix + pl.Series(values, dtype=pl.Int64).cast(pl.String).str.zfill(9)


def prepare(n_lines: int, seed: int = 5) -> ProfitInputs:
    rng = np.random.default_rng(seed)
    n_orders = int(n_lines / 1.5)
    per_order = rng.choice([1, 2], n_orders)
    order_of_line = np.repeat(np.arange(n_orders), per_order)
    n = len(order_of_line)
    day = np.sort(rng.integers(0, DAYS, n_orders))
    ordered = pl.Series(
        (np.datetime64(START) + day.astype("timedelta64[D]")).astype("datetime64[us]")
        + (rng.integers(0, 86_400, n_orders) * 1_000_000).astype("timedelta64[us]")
    )
    order_ids = _ids("O", np.arange(n_orders))
    amount = {
        k: np.where(rng.random(n_orders) < 0.3, rng.integers(1, 800, n_orders), 0) for k in AMOUNTS
    }
    orders = (
        pl.DataFrame(
            {
                "order_id": order_ids,
                "parent_order_id": pl.Series([None] * n_orders, dtype=pl.String),
                "channel": rng.choice(["AMAZON", "OWN_SITE"], n_orders),
                "shop": "SHOP",
                "company": rng.choice(["CN01", "US01"], n_orders),
                "currency": "USD",
                "buyer_id": None,
                "ordered_at": ordered,
                "paid_at": ordered,
                "cancelled_at": pl.Series([None] * n_orders, dtype=t.TIMESTAMP),
                **{k: _money(v) for k, v in amount.items()},
            }
        )
        .select(ORDERS.column_names)
        .cast(dict(ORDERS.schema))
    )
    price = rng.integers(100, 10_000, n)
    qty = rng.integers(1, 4, n)
    sku = rng.integers(1, SKU_COUNT + 1, n)
    line_ids = _ids("L", np.arange(n))
    lines = pl.DataFrame(
        {
            "order_line_id": line_ids,
            "order_id": order_ids.gather(order_of_line),
            "fulfilment_order_id": pl.Series([None] * n, dtype=pl.String),
            "sku": _ids("S", sku),
            "quantity": qty,
            "unit_price": _money(price),
            "line_discount": _money(np.where(rng.random(n) < 0.1, price * qty // 10, 0)),
            "line_fee": _money(np.where(rng.random(n) < 0.1, price // 20, 0)),
        }
    ).cast(dict(ORDER_LINES.schema))
    refunded = np.flatnonzero(rng.random(n) < 0.02)
    refunds = pl.DataFrame(
        {
            "refund_id": _ids("R", refunded),
            "refunded_at": ordered.gather(order_of_line[refunded]),
            "order_line_id": line_ids.gather(refunded),
            "kind": "REFUND",
            "quantity": rng.integers(1, qty[refunded] + 1),
            "amount": pl.Series([None] * len(refunded), dtype=t.MONEY),
            "order_id": pl.Series([None] * len(refunded), dtype=pl.String),
        }
    ).cast(dict(ORDER_REFUNDS.schema))
    cost = price * qty * rng.integers(30, 60, n) // 100
    returned = np.flatnonzero(rng.random(n) < 0.01)
    line_day = pl.Series(np.datetime64(START) + day[order_of_line].astype("timedelta64[D]"))
    issue = pl.DataFrame(
        {
            "movement_id": _ids("MV", np.arange(n)),
            "category": "ISSUE",
            "posting_date": line_day.cast(pl.Date),
            "company": orders["company"].gather(order_of_line),
            "fulfilment_order_id": lines["order_id"],
            "sku": lines["sku"],
            "amount": _money(cost),
            "provisional_open": _money(np.zeros(n, dtype=np.int64)),
        }
    )
    back = issue[returned].with_columns(
        _ids("RT", returned).alias("movement_id"),
        pl.lit("RETURN").alias("category"),
        (-pl.col("amount")).alias("amount"),
    )
    postings = pl.concat([issue, back]).cast(dict(POSTINGS_SCHEMA))
    billed = rng.random(n_orders) < 0.9
    shipments = pl.DataFrame(
        {
            "shipment_id": _ids("SH", np.arange(n_orders)),
            "order_id": order_ids,
            "billed": billed,
            "freight": _money(rng.integers(200, 3000, n_orders)),
            "disputed": _money(np.where(billed & (rng.random(n_orders) < 0.02), 150, 0)),
            "bill_lines": None,
        }
    ).cast(dict(SHIPMENT_FREIGHT_SCHEMA))
    skus = pl.DataFrame(
        {
            "sku": _ids("S", np.arange(1, SKU_COUNT + 1)),
            "weight_kg": _money(rng.integers(2, 300, SKU_COUNT)).cast(t.WEIGHT_KG),
            "length_cm": pl.Series([1] * SKU_COUNT).cast(t.LENGTH_CM),
            "width_cm": pl.Series([1] * SKU_COUNT).cast(t.LENGTH_CM),
            "height_cm": pl.Series([1] * SKU_COUNT).cast(t.LENGTH_CM),
        }
    )
    days = [START + timedelta(days=i) for i in range(DAYS)]
    fx = pl.DataFrame(
        {
            "rate_date": days,
            "currency": "USD",
            "to_currency": "CNY",
            "rate": (
                pl.Series(rng.integers(705_000_000, 725_000_000, DAYS)).cast(pl.Decimal(38, 8))
                / 100_000_000
            ).cast(t.FX_RATE),
        }
    ).cast(dict(FX_RATES.schema))
    companies = pl.DataFrame(
        {"company": ["CN01", "US01"], "functional_currency": ["CNY", "USD"]},
        schema=COMPANIES.schema,
    )
    return ProfitInputs(orders, lines, refunds, postings, shipments, skus, fx, companies)


def _share(amount: str, cum: str, weight: str, total: str) -> str:
    """Cumulative rounding, half up on the magnitude, the sign kept (SQL)."""
    mag = f"abs({amount})::HUGEINT"
    upto = f"(2 * {mag} * {cum} + {total}) // (2 * {total})"
    before = f"(2 * {mag} * ({cum} - {weight}) + {total}) // (2 * {total})"
    return f"(sign({amount}) * ({upto} - {before}))::BIGINT"


def _fx(cents: str) -> str:
    """Cents × rate, half away from zero (SQL)."""
    return (
        f"(sign({cents}) * ((2 * abs({cents})::HUGEINT * fx_u + 100000000) // 200000000))::BIGINT"
    )


SQL = f"""
CREATE TEMP TABLE ln AS
SELECT l.order_line_id, l.order_id, coalesce(l.fulfilment_order_id, l.order_id) AS f, l.sku,
       l.quantity, o.company, CAST(o.ordered_at AS DATE) AS d,
       (l.quantity * l.unit_price * 100)::BIGINT AS gross,
       (l.line_discount * 100)::BIGINT AS ldisc,
       (coalesce(l.line_fee, 0) * 100)::BIGINT AS lfee
FROM order_lines l JOIN orders o USING (order_id);

CREATE TEMP TABLE hdr AS
SELECT order_id, kind, amount FROM (
    UNPIVOT (SELECT order_id, {", ".join(f"({k} * 100)::BIGINT AS {k}" for k in AMOUNTS)}
             FROM orders)
    ON {", ".join(AMOUNTS)} INTO NAME kind VALUE amount)
WHERE amount <> 0;

CREATE TEMP TABLE alloc AS
WITH base AS (
    SELECT h.kind, h.amount, h.order_id, l.order_line_id, l.gross - l.ldisc AS b,
           sum(l.gross - l.ldisc) OVER (PARTITION BY h.order_id, h.kind) AS b_tot
    FROM hdr h JOIN ln l USING (order_id)
), w AS (
    SELECT *, CASE WHEN b_tot = 0 THEN 1 ELSE b END::HUGEINT AS w FROM base
), c AS (
    SELECT *, sum(w) OVER (PARTITION BY order_id, kind ORDER BY order_line_id) AS cum,
              sum(w) OVER (PARTITION BY order_id, kind) AS tot FROM w
)
SELECT order_line_id,
       {
    ", ".join(
        f"coalesce(sum({_share('amount', 'cum', 'w', 'tot')}) FILTER (WHERE kind = '{k}'), 0)"
        f" AS {k}"
        for k in AMOUNTS
    )
}
FROM c GROUP BY order_line_id;

CREATE TEMP TABLE cogs AS
WITH j AS (
    SELECT p.movement_id, (p.amount * 100)::BIGINT AS a, l.order_line_id, l.quantity::HUGEINT AS w,
           sum(l.quantity) OVER (PARTITION BY p.movement_id ORDER BY l.order_line_id) AS cum,
           sum(l.quantity) OVER (PARTITION BY p.movement_id) AS tot
    FROM postings p JOIN ln l ON l.f = p.fulfilment_order_id AND l.sku = p.sku
)
SELECT order_line_id, sum({_share("a", "cum", "w", "tot")}) AS cogs FROM j GROUP BY 1;

CREATE TEMP TABLE frt AS
WITH base AS (
    SELECT s.shipment_id, (s.freight * 100)::BIGINT AS a, l.order_line_id,
           (l.quantity * k.weight_kg * 1000)::HUGEINT AS b
    FROM shipments s JOIN ln l ON l.f = s.order_id JOIN skus k ON k.sku = l.sku
), w AS (
    SELECT *, CASE WHEN sum(b) OVER (PARTITION BY shipment_id) = 0 THEN 1 ELSE b END AS w
    FROM base
), c AS (
    SELECT *, sum(w) OVER (PARTITION BY shipment_id ORDER BY order_line_id) AS cum,
              sum(w) OVER (PARTITION BY shipment_id) AS tot FROM w
)
SELECT order_line_id, sum({_share("a", "cum", "w", "tot")}) AS freight FROM c GROUP BY 1;

CREATE TEMP TABLE result AS
WITH r AS (
    SELECT order_line_id, least(sum(quantity), any_value(q)) AS rq
    FROM (SELECT r.*, l.quantity AS q FROM order_refunds r JOIN ln l USING (order_line_id))
    GROUP BY 1
), x AS (
    SELECT l.*, coalesce(r.rq, 0) AS rq,
           {", ".join(f"coalesce(a.{k}, 0) AS {k}" for k in AMOUNTS)},
           coalesce(c.cogs, 0) AS cogs, coalesce(fr.freight, 0) AS freight,
           CASE WHEN l.company = 'US01' THEN 100000000
                ELSE (fx.rate * 100000000)::BIGINT END AS fx_u
    FROM ln l LEFT JOIN r USING (order_line_id) LEFT JOIN alloc a USING (order_line_id)
    LEFT JOIN cogs c USING (order_line_id) LEFT JOIN frt fr USING (order_line_id)
    LEFT JOIN fx_rates fx ON fx.rate_date = l.d
), rev AS (
    SELECT *, {
    ", ".join(
        f"({c}::HUGEINT * 2 * rq + quantity) // (2 * quantity) AS {c}_r"
        for c in ("gross", "ldisc", "lfee", *AMOUNTS)
    )
} FROM x
), f AS (
    SELECT order_line_id,
           {_fx("gross")} - {_fx("ldisc")} - {_fx("promotion_discount")}
             - {_fx("coupon_discount")} - {_fx("points_discount")}
             - {
    _fx("(gross_r - ldisc_r - promotion_discount_r - coupon_discount_r - points_discount_r)")
}
             AS net,
           {_fx("(shipping_charged - shipping_charged_r)")} AS ship,
           {_fx("(commission_fee - commission_fee_r + lfee - lfee_r)")}
             + {_fx("(payment_fee - payment_fee_r)")} AS fees,
           cogs, freight
    FROM rev
)
SELECT order_line_id, net + ship - fees - cogs - freight AS margin_c FROM f;
"""


def sql_margins(inputs: ProfitInputs) -> pl.DataFrame:
    con = duckdb.connect()
    for name in ("orders", "order_lines", "order_refunds", "postings", "shipments", "skus"):
        source = {"order_lines": inputs.order_lines, "order_refunds": inputs.refunds}.get(
            name, getattr(inputs, name, None)
        )
        con.register(name, source.to_arrow())
    con.register("fx_rates", inputs.fx_rates.to_arrow())
    con.execute(SQL)
    out = con.sql("SELECT * FROM result").pl()
    con.close()
    return out


def engine_margins(inputs: ProfitInputs, lines_per_chunk: int) -> tuple[pl.DataFrame, Decimal]:
    """order_line_id, e (margin in cents) of every line, and the margins' total, by the
    engine chunk by chunk of order days (`order_profit_chunks`); 0: one call over all."""
    if lines_per_chunk == 0:
        results = iter([order_profit(inputs)])
    else:
        results = (c.result for c in order_profit_chunks(inputs, lines_per_chunk=lines_per_chunk))
    margins, total = [], Decimal(0)
    for result in results:
        lines = result.lines
        margins.append(
            lines.select("order_line_id", money_to_cents("contribution_margin").alias("e"))
        )
        total += lines["contribution_margin"].sum()
        del result, lines
    return pl.concat(margins), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--lines-per-chunk",
        type=int,
        default=LINES_PER_CHUNK,
        help="order days cut into chunks of about this many lines; 0: one call",
    )
    parser.add_argument("--json", type=str, default=None)
    args = parser.parse_args()
    began = time.perf_counter()
    inputs = prepare(args.lines)
    prepared = time.perf_counter() - began
    began, cpu = time.perf_counter(), time.process_time()
    ours, total = engine_margins(inputs, args.lines_per_chunk)
    engine_s, engine_cpu = time.perf_counter() - began, time.process_time() - cpu
    engine_peak = peak_mb()
    began, cpu = time.perf_counter(), time.process_time()
    sql = sql_margins(inputs)
    sql_s, sql_cpu = time.perf_counter() - began, time.process_time() - cpu
    joined = ours.join(sql, on="order_line_id", how="full")
    mismatches = joined.filter(pl.col("e").is_null() | (pl.col("e") != pl.col("margin_c"))).height
    emit(
        {
            "order_lines": inputs.order_lines.height,
            "orders": inputs.orders.height,
            "lines_per_chunk": args.lines_per_chunk,
            "prepare_s": round(prepared, 1),
            "engine_s": round(engine_s, 1),
            "engine_peak_mb": round(engine_peak),
            "duckdb_sql_s": round(sql_s, 1),
            "peak_mb_both": round(peak_mb()),
            "sql_to_engine_time": round(sql_s / engine_s, 2),
            "engine_cpu_s": round(engine_cpu, 1),
            "duckdb_sql_cpu_s": round(sql_cpu, 1),
            "margin_total_engine": str(total),
            "lines_differing_from_sql": mismatches,
            "at": datetime.now().isoformat(timespec="seconds"),
        },
        args.json and __import__("pathlib").Path(args.json),
    )
    if mismatches:
        raise SystemExit(f"{mismatches} lines differ from the SQL implementation")


if __name__ == "__main__":
    main()
