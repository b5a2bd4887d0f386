"""One finding per bill line, with billed and expected figures and the evidence.

DOMAIN.md "Bill reconciliation". Precedence when several apply (the first wins):
DUPLICATE / CREDIT / UNMATCHED_CREDIT (the line's billing role,
pipelines.reconciliation.matching) > UNKNOWN_SHIPMENT > UNCONTRACTED_CHARGE >
WEIGHT_DISCREPANCY > RATE_MISMATCH / FUEL_MISMATCH > OK.
Expected amount = what we owe for the line:
- FREIGHT: the contract price at the billed weight (rounded like ours), unless
  the billed weight exceeds our chargeable weight beyond the weight tolerance
  (WEIGHT_DISCREPANCY), then the price at our chargeable weight;
- FUEL: the month's % of the freight we approve on the same bill (else of our
  expected freight); a fuel line that is right on a disputed freight base takes
  the freight line's finding (`derived_from_freight`), since fixing the
  freight fixes it;
- REGISTRATION, REMOTE_AREA, always-on accessorials: our expected charge (0 if
  none is expected, e.g. a remote fee on a non-remote postcode);
- on-demand accessorials: the contract fee; pass-through charges: as billed;
- DUPLICATE, UNKNOWN_SHIPMENT, UNCONTRACTED_CHARGE: 0;
- CREDIT: the negated expected of the charge it reverses; UNMATCHED_CREDIT: as billed.
Approved = billed for OK and UNMATCHED_CREDIT (a credit we cannot match is taken, and
shown); min(billed, expected) for weight, rate and fuel findings (an undercharge is
reported but paid as billed); for a CREDIT the negated approved amount of the charge it
reverses, so the pair nets to zero in billed, expected, approved and disputed (a credit
of a disputed charge carries the negated dispute: it settles it); 0 for the rest.
Disputed = billed − approved, so billed = approved + disputed on every line.
"""

from __future__ import annotations

import polars as pl

from pipelines.contracts.reconciliation import FINDINGS
from pipelines.frames import LEFT
from pipelines.money import (
    PERCENT_SCALE,
    cents_to_money,
    div_half_up,
    kg_to_grams,
    money_to_cents,
    units_of,
)
from pipelines.rating.pricing import chargeable_grams, price_freight
from pipelines.rating.tables import RateCardTables
from pipelines.reconciliation.evidence import evidence

MILLION = 1_000_000
"""Relative tolerances are in 1/10000 %, i.e. parts per million."""
DISPUTED_BASE = ("WEIGHT_DISCREPANCY", "RATE_MISMATCH")
WORK_COLS = (
    "_lid",
    "carrier",
    "source_sha256",
    "bill_number",
    "tracking_number",
    "charge_type",
    "amount",
    "billed_weight_kg",
    "chargeable_weight_kg",
    "line_number",
    "billing_role",
    "reversed_source_sha256",
    "reversed_bill_number",
    "reversed_line_number",
    "shipment_id",
    "card_key",
    "contract_zone",
    "parcels",
    "unrated_reason",
    "fuel_percent",
    "is_remote",
)
"""What the judgement needs; the line's other columns rejoin it at the end by `_lid`."""
EVIDENCE_COLS = (
    "first_bill_number",
    "first_line_number",
    "first_bill_date",
    "first_amount",
    "other_carrier",
    "other_shipment_id",
    "actual_weight_kg",
    "volumetric_weight_kg",
    "reversed_bill_date",
    "reversed_amount",
)


def within_tolerance(billed_c: pl.Expr, expected_c: pl.Expr) -> pl.Expr:
    """|billed − expected| ≤ max(absolute, relative × |expected|), in integer cents."""
    gap = (billed_c - expected_c).abs() * MILLION
    return gap <= pl.max_horizontal(
        pl.col("tol_abs_c") * MILLION, pl.col("tol_rel_u") * expected_c.abs()
    )


def _with_tolerances(
    frame: pl.DataFrame, amount_tol: pl.DataFrame, weight_tol: pl.DataFrame
) -> pl.DataFrame:
    """Amount and weight tolerances (DOMAIN.md "Reconciliation tolerances") per line.

    They depend on (carrier, charge type) only: resolved once per distinct pair (the
    charge type's own tolerance, else the carrier's DEFAULT, else 0), then joined to
    the lines once instead of three times."""
    default = amount_tol.filter(pl.col("charge_type") == "DEFAULT").drop("charge_type")
    pairs = frame.select("carrier", "charge_type").unique(maintain_order=True)
    per_pair = (
        pairs.join(amount_tol, on=["carrier", "charge_type"], **LEFT)
        .join(default, on="carrier", suffix="_default", **LEFT)
        .with_columns(
            tol_abs_c=pl.coalesce("tol_abs_c", "tol_abs_c_default", pl.lit(0)),
            tol_rel_u=pl.coalesce("tol_rel_u", "tol_rel_u_default", pl.lit(0)),
        )
        .drop("tol_abs_c_default", "tol_rel_u_default")
        .join(weight_tol, on="carrier", **LEFT)
        .with_columns(pl.col("wtol_abs_g", "wtol_rel_u").fill_null(0))
    )
    return frame.join(per_pair, on=["carrier", "charge_type"], nulls_equal=True, **LEFT)


def _freight_at_billed_weight(frame: pl.DataFrame, tables: RateCardTables) -> pl.DataFrame:
    """Contract freight at the billed weight for FREIGHT lines of rated shipments,
    priced once per distinct (card, zone, parcels, weight)."""
    versions = tables.versions.select(
        "card_key", "shape", "min_weight_g", "increment_g", "min_charge_u"
    )
    todo = (
        frame.lazy()
        .filter(
            (pl.col("charge_type") == "FREIGHT")
            & pl.col("billed_g").is_not_null()
            & pl.col("unrated_reason").is_null()
            & pl.col("card_key").is_not_null()
        )
        .select("_lid", "card_key", pl.col("contract_zone").alias("zone"), "parcels", "billed_g")
        .join(versions.lazy(), on="card_key", how="inner")
        .with_columns(
            _rate_g=chargeable_grams(
                pl.col("billed_g"), pl.col("min_weight_g"), pl.col("increment_g")
            )
        )
    )
    key = ["card_key", "zone", "parcels", "_rate_g"]
    combos = todo.select(*key, "shape", "min_charge_u").unique()
    prices = price_freight(combos, tables, "_rate_g").select(
        *key, pl.col("freight_c").alias("freight_at_billed_c")
    )
    priced = todo.join(prices, on=key, how="left").select("_lid", "freight_at_billed_c", "_rate_g")
    return frame.join(priced.collect(), on="_lid", **LEFT)


def judge_lines(
    lines: pl.DataFrame,
    expected_charges: pl.DataFrame,
    tables: RateCardTables,
    amount_tol: pl.DataFrame,
    weight_tol: pl.DataFrame,
) -> pl.DataFrame:
    """Findings for matched lines (`matching.match_shipments` output of the period's lines)."""
    exp = expected_charges.select(
        "shipment_id", "charge_type", exp_c=money_to_cents(pl.col("expected_amount"))
    )
    exp_freight = exp.filter(pl.col("charge_type") == "FREIGHT").select(
        "shipment_id", exp_freight_c="exp_c"
    )
    wide = lines.with_row_index("_lid")
    frame = _with_tolerances(_work_frame(wide, exp, tables), amount_tol, weight_tol)
    frame = _judge(_freight_at_billed_weight(frame, tables))
    frame = _judge_fuel(frame, exp_freight)
    return _amounts_and_evidence(wide, frame)


def _work_frame(wide: pl.DataFrame, exp: pl.DataFrame, tables: RateCardTables) -> pl.DataFrame:
    """The columns the judgement needs, in integer units, with the line's expected charge
    and its (card, charge type) terms: on-demand fee, allowed, pass-through."""
    on_demand = tables.accessorials.filter(~pl.col("always")).select(
        "card_key", "charge_type", on_demand_c=pl.col("fee_u") // 100
    )
    allowed = tables.allowed.select(
        "card_key", "charge_type", "pass_through", _allowed=pl.lit(True)
    )
    # one small (card, charge type) table, so the lines are joined to it once
    by_card_charge = on_demand.join(
        allowed, on=["card_key", "charge_type"], how="full", coalesce=True
    )
    return (
        wide.select(*WORK_COLS)
        .with_columns(
            billed_c=money_to_cents(pl.col("amount")),
            billed_g=kg_to_grams(pl.col("billed_weight_kg")),
            our_g=kg_to_grams(pl.col("chargeable_weight_kg")),
        )
        .join(exp, on=["shipment_id", "charge_type"], **LEFT)
        .join(by_card_charge, on=["card_key", "charge_type"], **LEFT)
    )


def _judge(frame: pl.DataFrame) -> pl.DataFrame:
    """Each line's expected_c and finding by the precedence of the module docstring
    (fuel lines are judged again by `_judge_fuel`)."""
    ct = pl.col("charge_type")
    role = pl.col("billing_role")
    dup = role == "DUPLICATE"
    credit = role.is_in(["CREDIT", "UNMATCHED_CREDIT"])
    unknown = pl.col("shipment_id").is_null()
    uncontracted = pl.col("unrated_reason").is_not_null() | pl.col("_allowed").is_null()
    over = pl.col("billed_g") - pl.col("our_g")
    weight_over = (
        (ct == "FREIGHT")
        & pl.col("billed_g").is_not_null()
        & (
            over * MILLION
            > pl.max_horizontal(
                pl.col("wtol_abs_g") * MILLION, pl.col("our_g") * pl.col("wtol_rel_u")
            )
        )
    )
    expected_c = (
        pl.when(credit)
        .then(pl.col("billed_c"))  # a CREDIT's is the reversed charge's (`_mirror_credits`)
        .when(dup | unknown | uncontracted)
        .then(0)
        .when(ct == "FREIGHT")
        .then(
            pl.when(weight_over | pl.col("freight_at_billed_c").is_null())
            .then(pl.col("exp_c"))  # on a FREIGHT line: the shipment's expected freight
            .otherwise(pl.col("freight_at_billed_c"))
        )
        .when(pl.col("pass_through"))
        .then(pl.col("billed_c"))
        .when(pl.col("on_demand_c").is_not_null())
        .then(pl.col("on_demand_c"))
        .otherwise(pl.col("exp_c").fill_null(0))
    )
    frame = frame.with_columns(expected_c=expected_c, weight_over=weight_over.fill_null(False))
    finding = (
        pl.when(dup | credit)
        .then(role.cast(pl.String))
        .when(unknown)
        .then(pl.lit("UNKNOWN_SHIPMENT"))
        .when(uncontracted)
        .then(pl.lit("UNCONTRACTED_CHARGE"))
        .when(pl.col("weight_over"))
        .then(pl.lit("WEIGHT_DISCREPANCY"))
        .when(within_tolerance(pl.col("billed_c"), pl.col("expected_c")))
        .then(pl.lit("OK"))
        .otherwise(pl.lit("RATE_MISMATCH"))
    )
    return frame.with_columns(finding=finding, derived_from_freight=pl.lit(False))


def _judge_fuel(frame: pl.DataFrame, exp_freight: pl.DataFrame) -> pl.DataFrame:
    """Fuel lines: the month's % of the approved freight on the same bill.

    Only FUEL lines are joined to their bill's judged freight and to the shipment's
    expected freight (`exp_freight`: shipment_id, exp_freight_c), on a narrow frame;
    their results go back to the lines by the integer `_lid`."""
    fuel = _fuel_lines(frame, exp_freight)
    pct_u = units_of(pl.col("fuel_percent"), 4)
    approved_freight = pl.max_horizontal(  # a credited (negative) freight carries no fuel
        pl.when(pl.col("freight_finding").is_null())
        .then(pl.col("exp_freight_c"))
        .when(pl.col("freight_finding") == "OK")
        .then(pl.col("freight_billed_c"))
        .otherwise(pl.min_horizontal("freight_billed_c", "freight_expected_c")),
        pl.lit(0),
    )

    def fuel_of(base: pl.Expr) -> pl.Expr:
        return div_half_up(base * pct_u, 100 * PERCENT_SCALE)

    is_fuel = pl.col("finding").is_in(["OK", "RATE_MISMATCH"])
    fuel = fuel.with_columns(
        fuel_base_c=pl.when(is_fuel).then(approved_freight),
        expected_c=pl.when(is_fuel).then(fuel_of(approved_freight)).otherwise(pl.col("expected_c")),
    )
    on_billed_base = within_tolerance(pl.col("billed_c"), fuel_of(pl.col("freight_billed_c")))
    derived = (
        is_fuel
        & ~within_tolerance(pl.col("billed_c"), pl.col("expected_c"))
        & pl.col("freight_finding").is_in(DISPUTED_BASE)
        & on_billed_base
    ).fill_null(False)
    fuel = fuel.select(
        "_lid",
        "fuel_base_c",
        _fuel_row=pl.lit(True),
        _fuel_expected_c="expected_c",
        _fuel_finding=pl.when(~is_fuel)
        .then(pl.col("finding"))
        .when(derived)
        .then(pl.col("freight_finding"))
        .when(within_tolerance(pl.col("billed_c"), pl.col("expected_c")))
        .then(pl.lit("OK"))
        .otherwise(pl.lit("FUEL_MISMATCH")),
        _fuel_derived=derived,
    )
    return _fold_fuel_back(frame, fuel)


def _fuel_lines(frame: pl.DataFrame, exp_freight: pl.DataFrame) -> pl.DataFrame:
    """The FUEL lines (narrow) with their bill's judged freight and the expected freight."""
    keys = ["source_sha256", "bill_number", "tracking_number"]
    judged_freight = (
        _standing_freight(frame)
        .group_by(keys)
        .agg(
            freight_finding=pl.col("finding").first(),
            freight_billed_c=pl.col("billed_c").first(),
            freight_expected_c=pl.col("expected_c").first(),
        )
    )
    fuel = frame.filter(pl.col("charge_type") == "FUEL").select(
        "_lid",
        *keys,
        "shipment_id",
        "finding",
        "fuel_percent",
        "billed_c",
        "expected_c",
        "tol_abs_c",
        "tol_rel_u",
    )
    return fuel.join(judged_freight, on=keys, **LEFT).join(exp_freight, on="shipment_id", **LEFT)


def _standing_freight(frame: pl.DataFrame) -> pl.DataFrame:
    """The FREIGHT charges a bill's fuel is judged on: its CHARGE lines (not duplicates,
    not credits) but for those the same bill reverses (a bill that credits its freight and
    bills it again charges fuel on the new freight)."""
    keys = ["source_sha256", "bill_number", "tracking_number", "line_number"]
    freight = frame.filter(
        (pl.col("charge_type") == "FREIGHT") & (pl.col("billing_role") == "CHARGE")
    )
    reversed_here = frame.filter(
        (pl.col("billing_role") == "CREDIT")
        & (pl.col("reversed_source_sha256") == pl.col("source_sha256"))
        & (pl.col("reversed_bill_number") == pl.col("bill_number"))
    ).select("source_sha256", "bill_number", "tracking_number", line_number="reversed_line_number")
    if reversed_here.is_empty():
        return freight
    return freight.join(reversed_here, on=keys, how="anti")


def _fold_fuel_back(frame: pl.DataFrame, fuel: pl.DataFrame) -> pl.DataFrame:
    """The fuel lines' finding, expected_c and derived_from_freight back on every line."""
    row = pl.col("_fuel_row").fill_null(False)
    return (
        frame.join(fuel, on="_lid", **LEFT)
        .with_columns(
            finding=pl.when(row).then(pl.col("_fuel_finding")).otherwise(pl.col("finding")),
            expected_c=pl.when(row)
            .then(pl.col("_fuel_expected_c"))
            .otherwise(pl.col("expected_c")),
            derived_from_freight=pl.when(row)
            .then(pl.col("_fuel_derived"))
            .otherwise(pl.col("derived_from_freight")),
        )
        .drop("_fuel_row", "_fuel_expected_c", "_fuel_finding", "_fuel_derived")
    )


def _amounts_and_evidence(wide: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    f = pl.col("finding")
    approved_c = (
        pl.when(f.is_in(["OK", "UNMATCHED_CREDIT"]))
        .then(pl.col("billed_c"))
        .when(f.is_in(["WEIGHT_DISCREPANCY", "RATE_MISMATCH", "FUEL_MISMATCH"]))
        .then(pl.min_horizontal("billed_c", "expected_c"))
        .otherwise(0)
    )
    frame = _mirror_credits(frame.with_columns(approved_c=approved_c)).with_columns(
        disputed_c=pl.col("billed_c") - pl.col("approved_c")
    )
    flagged = frame.filter(f != "OK").join(
        wide.select("_lid", *EVIDENCE_COLS), on="_lid", how="left"
    )
    evidence_by_line = flagged.select("_lid", evidence=evidence())
    judged = frame.select(
        "_lid",
        "finding",
        "derived_from_freight",
        "fuel_percent",
        "_rate_g",
        "billed_c",
        "expected_c",
        "approved_c",
        "disputed_c",
    )
    passthrough = [
        *(c for c in FINDINGS.column_names if c in wide.columns and c not in judged.columns),
        "amount",
        "first_bill_number",
        "first_line_number",
    ]
    # evidence exists for the few flagged lines: look it up on the line id alone and
    # attach the column, rather than a join that would copy every wide column
    evidence_col = judged.select("_lid").join(evidence_by_line, on="_lid", **LEFT)["evidence"]
    return (
        pl.concat([wide.select(passthrough), judged], how="horizontal")
        .with_columns(evidence_col)
        .with_columns(
            billed_amount=pl.col("amount"),
            expected_amount=cents_to_money(pl.col("expected_c")),
            difference=cents_to_money(pl.col("billed_c") - pl.col("expected_c")),
            approved_amount=cents_to_money(pl.col("approved_c")),
            disputed_amount=cents_to_money(pl.col("disputed_c")),
            duplicate_of=pl.when(f == "DUPLICATE").then(
                pl.format("{}#{}", pl.col("first_bill_number"), pl.col("first_line_number"))
            ),
        )
        .select(FINDINGS.column_names)
        .cast(FINDINGS.schema)
    )


def _mirror_credits(frame: pl.DataFrame) -> pl.DataFrame:
    """A CREDIT takes the negated expected and approved amounts of the charge it reverses
    (judged in the same frame: the engine judges it again when it was billed in an
    earlier period), and its finding as `reversed_finding` for the evidence."""
    keys = ["tracking_number", "source_sha256", "bill_number", "line_number"]
    credits = frame.filter(pl.col("finding") == "CREDIT").select(
        "_lid",
        "tracking_number",
        source_sha256="reversed_source_sha256",
        bill_number="reversed_bill_number",
        line_number="reversed_line_number",
    )
    if credits.is_empty():
        return frame.with_columns(reversed_finding=pl.lit(None, dtype=pl.String))
    reversed_charges = frame.join(credits.select(keys), on=keys, how="semi").select(
        *keys,
        reversed_finding="finding",
        reversed_expected_c="expected_c",
        reversed_approved_c="approved_c",
    )
    mirrored = credits.join(reversed_charges, on=keys, how="left").drop(keys)
    if mirrored["reversed_finding"].null_count():
        raise AssertionError("a credit's reversed charge was not judged with it")
    is_credit = pl.col("finding") == "CREDIT"
    return (
        frame.join(mirrored, on="_lid", **LEFT)
        .with_columns(
            expected_c=pl.when(is_credit)
            .then(-pl.col("reversed_expected_c"))
            .otherwise(pl.col("expected_c")),
            approved_c=pl.when(is_credit)
            .then(-pl.col("reversed_approved_c"))
            .otherwise(pl.col("approved_c")),
        )
        .drop("reversed_expected_c", "reversed_approved_c")
    )
