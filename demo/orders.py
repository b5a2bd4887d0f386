"""The order centre's view of each day's sales: orders, lines and refunds (issue 5/6).

Derived from the day's movements after the simulation wrote them, with a random stream of
its own, so adding orders changes no movement, shipment or bill. Every ISSUE is one order
line (`OL` + the issue's number) of the order it references; a RETURN is a refund of kind
RETURN on the line of the issue it returns. On top:

- split orders (拆单): pairs of orders of one company and currency become the children of a
  parent order (`SP...`) that carries the order-level amounts; each child keeps its own
  parcel (the shipments are per warehouse order);
- merged parcels (合并发货): an order of two or more lines from a warehouse that ships loses
  its last line to a second order of the same buyer (`MG...`) that names the first as its
  `fulfilment_order_id`: one parcel, two orders;
- cancelled orders: order numbers of the day with no issue at all (every line found no
  stock) are orders cancelled before they shipped;
- partial refunds: a few lines of two or more units get one unit refunded, goods kept;
- price adjustments: every `AMOUNT_REFUND_EVERY`-th line by issue number that no customer
  sends back gets 5% of its amount refunded, goods kept (a refund of an amount; chosen by
  number, so the random stream, and everything drawn from it, is what it was without them).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from demo.ledger import Simulation
from demo.reference import scaled_decimal
from demo.world import WAREHOUSES
from pipelines.contracts import types as t
from pipelines.contracts.orders import ORDER_LINES, ORDER_REFUNDS, ORDERS

SPLIT_RATE = 0.03
MERGE_RATE = 0.03
PARTIAL_REFUND_RATE = 0.01
AMOUNT_REFUND_EVERY = 150
AMOUNT_REFUND_PERCENT = 5
CHANNELS: dict[str, tuple[tuple[str, float], ...]] = {
    "CNSZ01": (("OWN_SITE", 0.4), ("ALIEXPRESS", 0.3), ("AMAZON", 0.3)),
    "CNYW01": (("OWN_SITE", 0.4), ("ALIEXPRESS", 0.3), ("AMAZON", 0.3)),
    "USLA01": (("AMAZON", 0.6), ("OWN_SITE", 0.4)),
    "DEFR01": (("AMAZON", 0.7), ("OWN_SITE", 0.3)),
    "USAMZ1": (("AMAZON", 1.0),),
}
COMMISSION_PERMILLE = {"AMAZON": 150, "ALIEXPRESS": 80, "OWN_SITE": 0}
MINUTE_US = 60_000_000


def _money(cents: pl.Expr) -> pl.Expr:
    return scaled_decimal(cents, 2, t.MONEY)


class OrderMaker:
    """Turns each day's movements into the order centre's extracts of that day."""

    def __init__(self, sim: Simulation, rng: np.random.Generator) -> None:
        self.sim = sim
        self.rng = rng

    def day(
        self, index: int, moves: pl.DataFrame, order_numbers: range
    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """(orders, order_lines, order_refunds) of day `index`; `moves` are the movements
        that occurred that day, `order_numbers` the order counter values the day used."""
        lines = self._merge(self._lines(index, moves))
        headers = self._headers(lines)
        cancelled, cancelled_lines = self._cancelled(index, lines, order_numbers)
        headers = _same_buyer_when_merged(pl.concat([headers, cancelled]))
        lines = line_prices(pl.concat([lines, cancelled_lines]))
        headers = self._split(headers, lines)
        return (
            headers.select(ORDERS.column_names).cast(dict(ORDERS.schema)).sort("order_id"),
            lines.select(ORDER_LINES.column_names)
            .cast(dict(ORDER_LINES.schema))
            .sort("order_line_id"),
            self._refunds(moves, lines),
        )

    def _prices(self, sku_index: np.ndarray, index: int, currency: np.ndarray) -> np.ndarray:
        """Unit prices in cents: purchase cost marked up 1.8-3.2×, in USD or EUR."""
        fx = self.sim.fx
        usd_cny = fx.usd_cny[index] / 1e8
        eur_usd = fx.eur_usd[index] / 1e8
        cost_fen = self.sim.catalogue.cost_fen[sku_index]
        usd_cents = cost_fen / usd_cny * self.rng.uniform(1.8, 3.2, len(sku_index))
        cents = np.where(currency == "EUR", usd_cents / eur_usd, usd_cents)
        return np.maximum(np.round(cents / 100) * 100 - 1, 99).astype(np.int64)

    def _lines(self, index: int, moves: pl.DataFrame) -> pl.DataFrame:
        issues = moves.filter(pl.col("movement_type") == "ISSUE").sort("movement_id")
        rng, n = self.rng, issues.height
        currency = np.where(issues["warehouse"].to_numpy() == "DEFR01", "EUR", "USD")
        sku_index = issues["sku"].str.slice(3).cast(pl.Int64).to_numpy() - 1
        price = self._prices(sku_index, index, currency)
        qty = issues["quantity"].to_numpy()
        discounted = rng.random(n) < 0.1
        discount = np.where(discounted, np.round(price * qty * rng.uniform(0.05, 0.2, n)), 0)
        return issues.select(
            ("OL" + pl.col("movement_id").str.slice(2)).alias("order_line_id"),
            pl.col("reference").alias("order_id"),
            pl.lit(None, pl.String).alias("fulfilment_order_id"),
            "sku",
            "quantity",
            "company",
            "warehouse",
            "occurred_at",
            pl.Series("currency", currency, dtype=pl.String),
            pl.Series("price_c", price, dtype=pl.Int64),
            pl.Series("discount_c", discount.astype(np.int64), dtype=pl.Int64),
        )

    def _merge(self, lines: pl.DataFrame) -> pl.DataFrame:
        """Move the last line of a few multi-line orders that ship to an MG order."""
        ships = [w.code for w in WAREHOUSES if w.carriers]
        multi = (
            lines.filter(pl.col("warehouse").is_in(ships))
            .group_by("order_id")
            .agg(pl.len().alias("n"), pl.col("order_line_id").max().alias("last"))
            .filter(pl.col("n") >= 2)
            .sort("order_id")
        )
        chosen = multi.filter(pl.Series(self.rng.random(multi.height) < MERGE_RATE))
        moved = pl.col("order_line_id").is_in(chosen["last"].implode())
        return lines.with_columns(
            pl.when(moved)
            .then("MG" + pl.col("order_id").str.slice(2))
            .otherwise("order_id")
            .alias("order_id"),
            pl.when(moved).then(pl.col("order_id")).alias("fulfilment_order_id"),
        )

    def _headers(self, lines: pl.DataFrame) -> pl.DataFrame:
        rng = self.rng
        orders = (
            lines.group_by("order_id")
            .agg(
                pl.col("company", "warehouse", "currency").first(),
                pl.col("occurred_at").min().alias("ordered_at"),
                (pl.col("price_c") * pl.col("quantity") - pl.col("discount_c"))
                .sum()
                .alias("goods_c"),
            )
            .sort("order_id")
        )
        n = orders.height
        warehouse = orders["warehouse"].to_numpy()
        channel = np.empty(n, dtype=object)
        for code, options in CHANNELS.items():
            sel = np.flatnonzero(warehouse == code)
            names, shares = zip(*options, strict=True)
            channel[sel] = rng.choice(names, len(sel), p=np.array(shares) / sum(shares))
        goods = orders["goods_c"].to_numpy()
        own_site = channel == "OWN_SITE"
        promotion = np.where(rng.random(n) < 0.25, np.round(goods * rng.uniform(0.05, 0.15, n)), 0)
        coupon = np.where(
            rng.random(n) < 0.15, np.minimum(rng.choice([100, 200, 300, 500], n), goods // 4), 0
        )
        points = np.where(rng.random(n) < 0.1, rng.integers(0, goods // 20 + 1), 0)
        shipping = np.where(own_site & (rng.random(n) < 0.5), rng.choice([399, 499, 699], n), 0)
        permille = np.array([COMMISSION_PERMILLE[c] for c in channel], dtype=np.int64)
        commission = np.round(goods * permille / 1000)
        paid = goods - promotion - coupon - points + shipping
        payment = np.where(own_site, np.round(paid * 0.029) + 30, 0)
        country = np.array([next(w.country for w in WAREHOUSES if w.code == c) for c in warehouse])
        buyer = rng.integers(1, 10**8, n)
        paid_after = rng.integers(1, 30, n) * MINUTE_US
        return orders.select(
            "order_id",
            pl.lit(None, pl.String).alias("parent_order_id"),
            pl.Series("channel", channel.astype(str), dtype=pl.String),
            pl.Series("shop", (channel.astype(str) + "-" + country) if n else [], dtype=pl.String),
            "company",
            "currency",
            pl.Series("buyer", buyer, dtype=pl.Int64),
            "ordered_at",
            pl.lit(None, t.TIMESTAMP).alias("cancelled_at"),
            *(
                pl.Series(name, values.astype(np.int64), dtype=pl.Int64)
                for name, values in (
                    ("shipping_charged", shipping),
                    ("promotion_discount", promotion),
                    ("coupon_discount", coupon),
                    ("points_discount", points),
                    ("commission_fee", commission),
                    ("payment_fee", payment),
                )
            ),
            pl.Series("_paid_after", paid_after, dtype=pl.Int64),
        ).pipe(_finish_headers)

    def _cancelled(
        self, index: int, lines: pl.DataFrame, numbers: range
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Order numbers with no issue: every line found no stock, the order was cancelled
        (headers, and one line each for a SKU of the catalogue)."""
        seen = set(lines["order_id"].str.slice(2).cast(pl.Int64).to_list())
        missing = np.array([k for k in numbers if k not in seen], dtype=np.int64)
        n = len(missing)
        start_us = self.sim.day_us(index)
        ordered = start_us + self.rng.integers(9 * 3600, 22 * 3600, n) * 1_000_000
        frame = pl.DataFrame(
            {
                "order_id": ("SO" + pl.Series(missing).cast(pl.String).str.zfill(10))
                if n
                else pl.Series([], dtype=pl.String),
                "ordered_at": pl.Series(ordered, dtype=pl.Int64).cast(pl.Datetime("us")),
            }
        )
        zero = pl.lit(0, pl.Int64)
        sku_index = self.rng.integers(0, self.sim.catalogue.size, n)
        price = self._prices(sku_index, index, np.full(n, "USD"))
        cancelled_lines = frame.select(
            ("OC" + pl.col("order_id").str.slice(2)).alias("order_line_id"),
            "order_id",
            pl.lit(None, pl.String).alias("fulfilment_order_id"),
            pl.Series("sku", self.sim.catalogue.sku[sku_index].astype(str), dtype=pl.String),
            pl.lit(1, pl.Int64).alias("quantity"),
            pl.lit("CN01").alias("company"),
            pl.lit("CNSZ01").alias("warehouse"),
            pl.col("ordered_at").alias("occurred_at"),
            pl.lit("USD").alias("currency"),
            pl.Series("price_c", price, dtype=pl.Int64),
            pl.lit(0, pl.Int64).alias("discount_c"),
        )
        headers = frame.select(
            "order_id",
            pl.lit(None, pl.String).alias("parent_order_id"),
            pl.lit("OWN_SITE").alias("channel"),
            pl.lit("OWN_SITE-CN").alias("shop"),
            pl.lit("CN01").alias("company"),
            pl.lit("USD").alias("currency"),
            pl.Series("buyer", self.rng.integers(1, 10**8, n), dtype=pl.Int64),
            "ordered_at",
            (pl.col("ordered_at") + pl.duration(minutes=10)).alias("cancelled_at"),
            *(zero.alias(c) for c in _AMOUNTS),
            pl.lit(MINUTE_US, pl.Int64).alias("_paid_after"),
        ).pipe(_finish_headers)
        return headers, cancelled_lines

    def _split(self, headers: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
        """Pairs of SO orders (one company and currency, neither merged nor cancelled) become
        the children of a parent carrying both orders' order-level amounts."""
        eligible = (
            headers.filter(
                pl.col("order_id").str.starts_with("SO")
                & pl.col("cancelled_at").is_null()
                & ~pl.col("order_id").is_in(lines["fulfilment_order_id"].drop_nulls().implode())
            )
            .sort("company", "currency", "order_id")
            .with_columns((pl.int_range(pl.len()) // 2).over("company", "currency").alias("_pair"))
        )
        pairs = (
            eligible.group_by("company", "currency", "_pair")
            .agg(pl.col("order_id"), pl.len().alias("n"))
            .filter(pl.col("n") == 2)
            .sort("company", "currency", "_pair")
        )
        pairs = pairs.filter(pl.Series(self.rng.random(pairs.height) < SPLIT_RATE))
        children = pairs.select(
            pl.col("order_id").list.first().alias("_first"), pl.col("order_id").alias("child")
        ).explode("child")
        parent_id = "SP" + pl.col("_first").str.slice(2)
        mapping = children.select(pl.col("child").alias("order_id"), parent_id.alias("_parent"))
        kids = headers.join(mapping, on="order_id", how="inner")
        first = (
            kids.sort("order_id")
            .group_by("_parent")
            .agg(
                pl.col("channel", "shop", "company", "currency", "buyer_id").first(),
                pl.col("ordered_at", "paid_at").min(),
                *(pl.col(c).sum() for c in _MONEY_AMOUNTS),
            )
        )
        parents = first.select(
            pl.col("_parent").alias("order_id"),
            pl.lit(None, pl.String).alias("parent_order_id"),
            "channel",
            "shop",
            "company",
            "currency",
            "buyer_id",
            "ordered_at",
            "paid_at",
            pl.lit(None, t.TIMESTAMP).alias("cancelled_at"),
            *_MONEY_AMOUNTS,
        )
        parent_of = first.select("_parent", "channel", "shop", "buyer_id")
        children_rows = (
            kids.drop("channel", "shop", "buyer_id")
            .join(parent_of, on="_parent")
            .with_columns(
                pl.col("_parent").alias("parent_order_id"),
                *(pl.lit(0).cast(t.MONEY).alias(c) for c in _MONEY_AMOUNTS),
            )
            .select(headers.columns)
        )
        rest = headers.join(mapping, on="order_id", how="anti")
        return pl.concat([rest, children_rows, parents.select(headers.columns)])

    def _refunds(self, moves: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
        returns = moves.filter(pl.col("movement_type") == "RETURN").select(
            ("RF" + pl.col("movement_id").str.slice(2)).alias("refund_id"),
            pl.col("occurred_at").alias("refunded_at"),
            ("OL" + pl.col("reference").str.slice(2)).alias("order_line_id"),
            pl.lit("RETURN").alias("kind"),
            "quantity",
        )
        multi = lines.filter(pl.col("quantity") >= 2).sort("order_line_id")
        chosen = multi.filter(pl.Series(self.rng.random(multi.height) < PARTIAL_REFUND_RATE))
        partial = chosen.select(
            ("RP" + pl.col("order_line_id").str.slice(2)).alias("refund_id"),
            (pl.col("occurred_at") + pl.duration(minutes=30)).alias("refunded_at"),
            "order_line_id",
            pl.lit("REFUND").alias("kind"),
            pl.lit(1, pl.Int64).alias("quantity"),
        )
        return (
            pl.concat([returns, partial, self._price_adjustments(lines)], how="diagonal")
            .with_columns(pl.lit(None, pl.String).alias("order_id"))  # each names its line
            .select(ORDER_REFUNDS.column_names)
            .cast(dict(ORDER_REFUNDS.schema))
            .sort("refund_id")
        )

    def _price_adjustments(self, lines: pl.DataFrame) -> pl.DataFrame:
        """Refunds of an amount: 5% of the line's amount, an hour after it sold, on every
        `AMOUNT_REFUND_EVERY`-th sold line (`OL` + its issue's number) not sent back later
        (a return would refund the units again: more than the line has left)."""
        number = pl.col("order_line_id").str.slice(2).cast(pl.Int64, strict=False)
        returned = pl.Series(self.sim.returned_issues(), dtype=pl.Int64).implode()
        goods_c = pl.col("price_c") * pl.col("quantity") - pl.col("discount_c")
        chosen = lines.filter(
            pl.col("order_line_id").str.starts_with("OL")
            & (number % AMOUNT_REFUND_EVERY == 0)
            & ~number.is_in(returned)
        )
        return chosen.select(
            ("RA" + pl.col("order_line_id").str.slice(2)).alias("refund_id"),
            (pl.col("occurred_at") + pl.duration(hours=1)).alias("refunded_at"),
            "order_line_id",
            pl.lit("REFUND").alias("kind"),
            _money(((goods_c * AMOUNT_REFUND_PERCENT + 50) // 100).clip(lower_bound=1)).alias(
                "amount"
            ),
        )


_AMOUNTS = (
    "shipping_charged",
    "promotion_discount",
    "coupon_discount",
    "points_discount",
    "commission_fee",
    "payment_fee",
)
_MONEY_AMOUNTS = _AMOUNTS


def _finish_headers(frame: pl.DataFrame) -> pl.DataFrame:
    """Cents as MONEY, the buyer id, the payment time; the ORDERS columns in order."""
    return frame.select(
        "order_id",
        "parent_order_id",
        "channel",
        "shop",
        "company",
        "currency",
        ("B" + pl.col("buyer").cast(pl.String).str.zfill(8)).alias("buyer_id"),
        "ordered_at",
        (pl.col("ordered_at") + pl.duration(microseconds=pl.col("_paid_after"))).alias("paid_at"),
        "cancelled_at",
        *(_money(pl.col(c)).alias(c) for c in _AMOUNTS),
    )


def line_prices(lines: pl.DataFrame) -> pl.DataFrame:
    """The demo's internal line columns as ORDER_LINES money."""
    return lines.with_columns(
        _money(pl.col("price_c")).alias("unit_price"),
        _money(pl.col("discount_c")).alias("line_discount"),
        pl.lit(None, t.MONEY).alias("line_fee"),
    )


def _same_buyer_when_merged(headers: pl.DataFrame) -> pl.DataFrame:
    """A merged parcel carries orders of one buyer: an MG order takes its SO's buyer."""
    buyers = headers.filter(pl.col("order_id").str.starts_with("SO")).select(
        ("MG" + pl.col("order_id").str.slice(2)).alias("order_id"), pl.col("buyer_id").alias("_b")
    )
    return (
        headers.join(buyers, on="order_id", how="left")
        .with_columns(pl.coalesce("_b", "buyer_id").alias("buyer_id"))
        .drop("_b")
    )
