"""Output tables of the reconciliation (issue 5 items 3, 4, 6).

Amounts are MONEY in the bill's currency unless the column says `_functional`.
Every table carries carrier and the billing period it was computed for, so a
rerun of one partition replaces exactly its rows.
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts import types as t
from pipelines.contracts.bills import BILL_LINES, CHARGE_TYPES
from pipelines.contracts.spec import Column, TableContract

FINDING_CODES = (
    "OK",
    "DUPLICATE",
    "UNKNOWN_SHIPMENT",
    "UNCONTRACTED_CHARGE",
    "WEIGHT_DISCREPANCY",
    "RATE_MISMATCH",
    "FUEL_MISMATCH",
    "CREDIT",
    "UNMATCHED_CREDIT",
)
"""One per bill line. UNBILLED is a shipment state, reported in the accrual journal.
CREDIT: a negative line that exactly reverses an earlier charge (the pair nets out);
UNMATCHED_CREDIT: any other negative line (docs/reconciliation.md, "Duplicates and
credits")."""

_PERIOD = (
    Column("carrier", t.CODE),
    Column("period_start", t.DATE),
    Column("period_end", t.DATE),
)

FINDINGS = TableContract(
    name="reconciliation_findings",
    description="Exactly one finding per bill line of the period, with figures and evidence.",
    columns=(
        *_PERIOD,
        Column("source_sha256", t.ID),
        Column("bill_number", t.ID),
        Column("bill_date", t.DATE),
        Column("line_number", t.QUANTITY, positive=True),
        Column("locator", t.TEXT),
        Column("tracking_number", t.ID, description="Normalised."),
        Column("tracking_number_raw", t.TEXT),
        Column("charge_type", t.CODE, enum=CHARGE_TYPES),
        Column("charge_code", t.CODE, required=False),
        Column("currency", t.CODE),
        Column("finding", t.CODE, enum=FINDING_CODES),
        Column("billed_amount", t.MONEY),
        Column("expected_amount", t.MONEY, description="What we owe for the line (0: nothing)."),
        Column("difference", t.MONEY, description="billed − expected."),
        Column("approved_amount", t.MONEY, description="Payable."),
        Column("disputed_amount", t.MONEY, description="billed − approved."),
        Column("billed_weight_kg", t.WEIGHT_KG, required=False),
        Column("chargeable_weight_kg", t.WEIGHT_KG, required=False, description="Ours."),
        Column("actual_weight_kg", t.WEIGHT_KG, required=False),
        Column("volumetric_weight_kg", t.WEIGHT_KG, required=False),
        Column("shipment_id", t.ID, required=False),
        Column("order_id", t.ID, required=False),
        Column("company", t.ID, required=False),
        Column("ship_date", t.DATE, required=False),
        Column("card_key", t.CODE, required=False, description="Contract version used."),
        Column("contract_zone", t.CODE, required=False),
        Column("fuel_percent", t.PERCENT, required=False),
        Column(
            "derived_from_freight",
            pl.Boolean,
            description="Fuel line right on a disputed freight base: takes the freight's finding.",
        ),
        Column("duplicate_of", t.ID, required=False, description="bill_number#line_number."),
        Column(
            "evidence",
            t.TEXT,
            required=False,
            description=(
                "In words: which contract row, which weights, which bill. Null for OK lines, "
                "whose figures columns (card_key, contract_zone, weights, expected) say it all."
            ),
        ),
    ),
    key=BILL_LINES.key,  # exactly one finding per bill line
    exported=True,
)

PERIOD_SUMMARY = TableContract(
    name="reconciliation_period_summary",
    description="Per carrier, billing period and bill currency: totals, counts, shares.",
    columns=(
        *_PERIOD,
        Column("currency", t.CODE),
        Column("bill_count", t.QUANTITY, non_negative=True),
        Column("line_count", t.QUANTITY, non_negative=True),
        Column("billed_total", t.MONEY),
        Column("expected_total", t.MONEY),
        Column("approved_total", t.MONEY),
        Column("disputed_total", t.MONEY),
        *(Column(f"count_{c.lower()}", t.QUANTITY, non_negative=True) for c in FINDING_CODES),
        Column("auto_approved_share", t.PERCENT, description="OK lines / lines, in %."),
        Column("unbilled_count", t.QUANTITY, non_negative=True),
        Column("unrated_unbilled_count", t.QUANTITY, non_negative=True),
        Column(
            "accrued_total", t.MONEY, description="New accruals of the period (contract currency)."
        ),
        Column("released_total", t.MONEY),
        Column("quarantined_count", t.QUANTITY, non_negative=True),
        Column(
            "parse_coverage",
            t.PERCENT,
            description="lines / (lines + quarantined items) in %: the share parsed automatically.",
        ),
        Column(
            "bills_total_mismatch",
            t.QUANTITY,
            non_negative=True,
            description="Bills whose stated total differs from the sum of parsed lines.",
        ),
    ),
    key=("carrier", "period_start", "currency"),
    exported=True,
)

PAYABLE_VOUCHERS = TableContract(
    name="payable_vouchers",
    description="One payable voucher per carrier bill for the ERP: the approved amount.",
    columns=(
        *_PERIOD,
        Column("voucher_id", t.ID, description="CARRIER-bill_number."),
        Column("source_sha256", t.ID),
        Column("bill_number", t.ID),
        Column("bill_date", t.DATE),
        Column("currency", t.CODE),
        Column("line_count", t.QUANTITY, non_negative=True),
        Column("billed_total", t.MONEY),
        Column("approved_total", t.MONEY),
        Column("disputed_total", t.MONEY),
        Column("stated_total", t.MONEY, required=False),
    ),
    key=("voucher_id", "source_sha256"),
    exported=True,
)

DISPUTES = TableContract(
    name="carrier_disputes",
    description="Lines we do not pay in full, in words a carrier can act on.",
    columns=(
        *_PERIOD,
        Column("bill_number", t.ID),
        Column("line_number", t.QUANTITY, positive=True),
        Column("tracking_number", t.ID),
        Column("charge_type", t.CODE),
        Column("charge_code", t.CODE, required=False),
        Column("currency", t.CODE),
        Column("billed_amount", t.MONEY),
        Column("expected_amount", t.MONEY),
        Column("disputed_amount", t.MONEY),
        Column("reason", t.CODE, enum=FINDING_CODES),
        Column("evidence", t.TEXT),
    ),
    key=("bill_number", "line_number"),
    exported=True,
)

ACCRUAL_ENTRIES = ("ACCRUE", "RELEASE")

ACCRUAL_JOURNAL = TableContract(
    name="accrual_journal",
    description=(
        "ACCRUE: shipped in the period and not billed by its end, at the expected price. "
        "RELEASE: accrued earlier and billed in this period."
    ),
    columns=(
        *_PERIOD,
        Column("entry", t.CODE, enum=ACCRUAL_ENTRIES),
        Column("company", t.ID),
        Column("shipment_id", t.ID),
        Column("tracking_number", t.ID),
        Column("order_id", t.ID, required=False),
        Column("ship_date", t.DATE),
        Column("currency", t.CODE, required=False, description="Contract currency."),
        Column("amount", t.MONEY, description="Positive for ACCRUE, negative for RELEASE."),
        Column("functional_currency", t.CODE, required=False),
        Column("amount_functional", t.MONEY),
        Column(
            "unrated_reason", t.TEXT, required=False, description="Accrued at 0: cannot be priced."
        ),
    ),
    key=("carrier", "period_start", "entry", "shipment_id"),
    exported=True,
)

ACCRUAL_ROLLFORWARD = TableContract(
    name="accrual_rollforward",
    description="opening + accrued − released = closing, per company and functional currency.",
    columns=(
        *_PERIOD,
        Column("company", t.ID),
        Column("functional_currency", t.CODE),
        Column("opening", t.MONEY),
        Column("accrued", t.MONEY),
        Column("released", t.MONEY),
        Column("closing", t.MONEY, description="Computed directly from unbilled shipments."),
    ),
    key=("carrier", "period_start", "company", "functional_currency"),
    exported=True,
)

ORDER_LOGISTICS_COST = TableContract(
    name="order_logistics_cost",
    description="Freight per order (functional currency): approved if billed, else expected.",
    columns=(
        Column("order_id", t.ID),
        Column("company", t.ID),
        Column("functional_currency", t.CODE),
        Column("shipment_count", t.QUANTITY, positive=True),
        Column("billed_shipments", t.QUANTITY, non_negative=True),
        Column("approved_freight_functional", t.MONEY, description="Billed shipments, approved."),
        Column("expected_unbilled_functional", t.MONEY, description="Not yet billed: expected."),
        Column("logistics_cost_functional", t.MONEY),
        Column("status", t.CODE, enum=("BILLED", "PARTIAL", "UNBILLED")),
        Column(
            "unpriced_shipments",
            t.QUANTITY,
            non_negative=True,
            description="Not billed and cannot be priced: in no total (unpriceable_shipments "
            "says why).",
        ),
    ),
    key=("order_id", "company"),
    exported=True,
)

UNPRICEABLE_REASONS = ("carrier_not_configured", "no_valid_rate_card", "not_priceable")

UNPRICEABLE_SHIPMENTS = TableContract(
    name="unpriceable_shipments",
    description=(
        "Every shipment that cannot be priced, with why: its carrier is not in carriers.yaml, "
        "no rate-card version of its carrier is valid on its ship date, or the card found "
        "cannot price it (no zone, no price, no fuel %). Accrued at 0, never dropped."
    ),
    columns=(
        Column("shipment_id", t.ID),
        Column("carrier", t.CODE),
        Column("ship_date", t.DATE),
        Column("company", t.ID),
        Column("order_id", t.ID, required=False),
        Column("reason_code", t.CODE, enum=UNPRICEABLE_REASONS),
        Column("reason", t.TEXT),
    ),
    key=("shipment_id",),
    exported=True,
)

RECONCILIATION_TABLES: tuple[TableContract, ...] = (
    FINDINGS,
    PERIOD_SUMMARY,
    PAYABLE_VOUCHERS,
    DISPUTES,
    ACCRUAL_JOURNAL,
    ACCRUAL_ROLLFORWARD,
    ORDER_LOGISTICS_COST,
    UNPRICEABLE_SHIPMENTS,
)
