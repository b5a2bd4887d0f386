"""Per-order logistics cost: the bridge from payables to landed margin (issue 5 item 6).

For each order, in the company's functional currency: the approved amounts of
its shipments' bill lines where billed (what we will actually pay), and the
expected price where a shipment is not billed yet (what the accrual carries).
Joined with COGS per order (the costing engine) this is the landed margin.
Approved amounts are in the bill currency, which reconcile() requires to be the
contract currency, so the shipment's own ship-date FX rate converts them.
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts.reconciliation import ORDER_LOGISTICS_COST, UNPRICEABLE_SHIPMENTS
from pipelines.fx import functional_cents, fx_units, int64_is_enough
from pipelines.money import cents_to_money, money_to_cents


def order_logistics_cost(
    findings: pl.DataFrame, shipment_ratings: pl.DataFrame, companies: pl.DataFrame
) -> pl.DataFrame:
    """One row per (order, company); `findings` of all periods reconciled so far.

    The functional currency is the company's (`companies`), not the rating's: a shipment
    that cannot be priced has no rating currency, and taking it from there gave such an
    order an empty currency and a second row. Such a shipment, unbilled, is in no total
    and counted in `unpriced_shipments`."""
    ships = _shipments_with_approved(findings, shipment_ratings, companies)
    return _per_order(_with_approved_functional(ships))


def _shipments_with_approved(
    findings: pl.DataFrame, shipment_ratings: pl.DataFrame, companies: pl.DataFrame
) -> pl.DataFrame:
    """Each shipment of an order with its company's functional currency, whether any bill
    line names it (`is_billed`) and the sum of its lines' approved amounts in cents."""
    approved = (
        findings.filter(pl.col("shipment_id").is_not_null())
        .group_by("shipment_id")
        .agg(approved_cents=money_to_cents(pl.col("approved_amount")).sum())
    )
    return (
        shipment_ratings.filter(pl.col("order_id").is_not_null())
        .drop("functional_currency")
        .join(
            companies.select("company", "functional_currency"),
            on="company",
            how="left",
            validate="m:1",
        )
        .join(approved, on="shipment_id", how="left")
        # an unpriced shipment has no rate; its approved amount can only be 0
        # (UNCONTRACTED_CHARGE). Nulls filled: Polars failed on the Int128 product when a
        # null rate met an all-null approved column
        .with_columns(
            is_billed=pl.col("approved_cents").is_not_null(),
            approved_cents=pl.col("approved_cents").fill_null(0),
            _fx_u=fx_units(pl.col("fx_rate")).fill_null(0),
        )
    )


def _with_approved_functional(ships: pl.DataFrame) -> pl.DataFrame:
    """`approved_functional`: the approved cents at the shipment's ship-date rate, in Int64
    when the bounds show it cannot overflow (pipelines/fx.py), about 3x faster than Int128."""
    bounds = ships.select(pl.col("approved_cents").abs().max(), pl.col("_fx_u").max()).row(0)
    fits = int64_is_enough(*bounds)
    return ships.with_columns(
        approved_functional=cents_to_money(
            functional_cents(pl.col("approved_cents"), fits_int64=fits)
        )
    )


def _per_order(ships: pl.DataFrame) -> pl.DataFrame:
    """ORDER_LOGISTICS_COST: approved where billed, expected where not, and the status."""
    billed = pl.col("is_billed")
    return (
        ships.group_by("order_id", "company", "functional_currency")
        .agg(
            shipment_count=pl.len(),
            billed_shipments=billed.sum(),
            approved_freight_functional=pl.col("approved_functional").filter(billed).sum(),
            expected_unbilled_functional=pl.col("expected_total_functional").filter(~billed).sum(),
            unpriced_shipments=(~billed & pl.col("unrated_reason").is_not_null()).sum(),
        )
        .with_columns(
            pl.col("approved_freight_functional", "expected_unbilled_functional").fill_null(0),
        )
        .with_columns(
            logistics_cost_functional=pl.col("approved_freight_functional")
            + pl.col("expected_unbilled_functional"),
            status=pl.when(pl.col("billed_shipments") == pl.col("shipment_count"))
            .then(pl.lit("BILLED"))
            .when(pl.col("billed_shipments") == 0)
            .then(pl.lit("UNBILLED"))
            .otherwise(pl.lit("PARTIAL")),
        )
        .select(ORDER_LOGISTICS_COST.column_names)
        .cast(ORDER_LOGISTICS_COST.schema)
        .sort("order_id", "company")
    )


def unpriceable_shipments(
    shipments: pl.DataFrame, shipment_ratings: pl.DataFrame, configured: list[str]
) -> pl.DataFrame:
    """UNPRICEABLE_SHIPMENTS: every shipment whose carrier is not in `configured` (it is
    never rated), and every rated shipment with an `unrated_reason`; `shipments` has
    shipment_id, carrier, ship_date, company and order_id."""
    columns = ["shipment_id", "carrier", "ship_date", "company", "order_id"]
    unconfigured = shipments.filter(~pl.col("carrier").is_in(configured)).select(
        *columns,
        reason_code=pl.lit("carrier_not_configured"),
        reason=pl.format("carrier {} is not in carriers.yaml: not rated", pl.col("carrier")),
    )
    unrated = shipment_ratings.filter(pl.col("unrated_reason").is_not_null()).select(
        *columns,
        reason_code=pl.when(pl.col("card_key").is_null())
        .then(pl.lit("no_valid_rate_card"))
        .otherwise(pl.lit("not_priceable")),
        reason=pl.col("unrated_reason"),
    )
    return (
        pl.concat([unconfigured, unrated], how="vertical_relaxed")
        .cast(UNPRICEABLE_SHIPMENTS.schema)
        .sort("shipment_id")
    )
