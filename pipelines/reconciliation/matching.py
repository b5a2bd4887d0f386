"""Bill lines to shipments: normalised tracking numbers, billing roles, duplicates, credits.

Settled rules (docs/reconciliation.md):
- a line matches a shipment of the *same carrier* with the same normalised
  tracking number (upper case, letters and digits only); a tracking number we
  shipped only with another carrier is an UNKNOWN_SHIPMENT for this carrier;
- the lines of one (carrier, tracking number, charge type), in the order bill date,
  bill number, line number (then file hash), across every bill of this and earlier
  periods, each take a billing role from the lines billed before it (never after, so a
  later bill never changes an earlier line's role):
  - a negative line that exactly reverses an earlier charge not yet reversed (same
    currency, amount negated) is a CREDIT of the latest such charge; the pair nets out;
  - any other negative line is an UNMATCHED_CREDIT (a goodwill credit, the refund of a
    charge we have no bill of, a partial credit);
  - a charge (amount >= 0) billed while no earlier charge is standing (billed and not
    reversed) is a CHARGE, judged normally: the first billing, or a re-billing after a
    credit;
  - a charge billed while an earlier one is standing is a DUPLICATE of the CHARGE that
    opened the standing billing, carrying its evidence.
"""

from __future__ import annotations

import polars as pl

from pipelines.frames import contiguous
from pipelines.tracking import with_normalised_tracking

ORDER = ["bill_date", "bill_number", "line_number", "source_sha256"]
DUP_KEY = ["tracking_number", "charge_type"]
BILLING_ROLE = pl.Enum(["CHARGE", "DUPLICATE", "CREDIT", "UNMATCHED_CREDIT"])
"""What a line is among the lines of its DUP_KEY (module docstring)."""
REVERSED_COLS = (
    "reversed_source_sha256",
    "reversed_bill_number",
    "reversed_line_number",
    "reversed_bill_date",
    "reversed_amount",
)
"""The charge a CREDIT reverses."""


class AmbiguousShipment(ValueError):
    """Two shipments of one carrier share a tracking number: a line cannot be matched."""


def only_carrier(frame: pl.DataFrame, carrier: str) -> pl.DataFrame:
    """The carrier's rows, without copying a frame that holds nothing else."""
    mine = frame["carrier"] == carrier
    return frame if mine.all() else frame.filter(mine)


def _may_repeat(key: list[str]) -> pl.Expr:
    """True for every row whose `key` occurs more than once, and perhaps for a few
    more: it compares 64-bit hashes (one integer pass instead of hashing and comparing
    the strings in a struct), so a hash collision can flag a unique row. Callers then
    work on the flagged rows with the exact key, where such a row is alone."""
    hashed = [pl.col(c).hash(seed=11) for c in key]
    combined = hashed[0]
    for h in hashed[1:]:
        combined = combined * 1_000_003 + h  # wraps modulo 2**64: still a hash
    return combined.is_duplicated()


def mark_billing_roles(lines: pl.DataFrame) -> pl.DataFrame:
    """Add `billing_role` (BILLING_ROLE), the first_* evidence of a DUPLICATE (the CHARGE it
    repeats) and the reversed_* evidence of a CREDIT (the charge it reverses) per DUP_KEY.

    Only lines whose key repeats go through the walk; a line alone on its key is a CHARGE,
    or an UNMATCHED_CREDIT when negative."""
    lines = with_normalised_tracking(contiguous(lines))
    repeated = (
        lines.with_row_index("line_row")
        .filter(_may_repeat(DUP_KEY))
        .sort(ORDER)
        .pipe(_billing_walk)
    )
    alone_role = (
        pl.when(pl.col("amount") < 0)
        .then(pl.lit("UNMATCHED_CREDIT"))
        .otherwise(pl.lit("CHARGE"))
        .cast(BILLING_ROLE)
    )
    # the repeated rows are few: written into full-length columns at their row ids
    # (every other line is alone on its key, with no first_* or reversed_* evidence)
    rows = repeated["line_row"]
    marks = []
    for name, column in repeated.drop("line_row").to_dict().items():
        if name == "billing_role":
            full = lines.select(alone_role.alias(name)).to_series()
        else:
            full = pl.repeat(None, lines.height, dtype=column.dtype, eager=True).alias(name)
        marks.append(full.scatter(rows, column) if rows.len() else full)
    return lines.hstack(marks)


def _billing_walk(repeated: pl.DataFrame) -> pl.DataFrame:
    """Billing roles of lines whose key repeats, sorted in billing ORDER.

    Per (key, currency, amount size) the charges of that size not yet reversed are
    counted as a walk clamped at zero (+1 a charge, -1 a negative line), computed as
    cum_sum - min(0, cum_min): a negative line finding the count above zero is a CREDIT.
    Per key, the standing charges are the charges less the credits so far: a charge
    finding none standing is a CHARGE, else a DUPLICATE."""
    is_charge = pl.col("amount") >= 0
    same_size = [*DUP_KEY, "currency", "amount_size"]
    walk = pl.col("size_walk")
    walked = (
        repeated.with_columns(
            amount_size=pl.col("amount").abs(), billing_position=pl.int_range(pl.len())
        )
        .with_columns(size_walk=pl.when(is_charge).then(1).otherwise(-1).cum_sum().over(same_size))
        .with_columns(
            open_after=walk - pl.min_horizontal(walk.cum_min().over(same_size), pl.lit(0))
        )
    )
    walked = walked.with_columns(
        open_before=pl.col("open_after").shift(1, fill_value=0).over(same_size)
    ).with_columns(is_credit=~is_charge & (pl.col("open_before") > 0))
    is_credit = pl.col("is_credit")
    standing_change = is_charge.cast(pl.Int64) - is_credit.cast(pl.Int64)
    walked = walked.with_columns(
        standing_before=standing_change.cum_sum().over(DUP_KEY) - standing_change
    ).with_columns(
        billing_role=pl.when(is_credit)
        .then(pl.lit("CREDIT"))
        .when(~is_charge)
        .then(pl.lit("UNMATCHED_CREDIT"))
        .when(pl.col("standing_before") > 0)
        .then(pl.lit("DUPLICATE"))
        .otherwise(pl.lit("CHARGE"))
        .cast(BILLING_ROLE)
    )
    opened = (pl.col("billing_role") == "CHARGE").cum_sum().over(DUP_KEY)
    first = [*DUP_KEY, "standing_billing"]
    with_first = walked.with_columns(standing_billing=opened).with_columns(
        first_bill_number=pl.col("bill_number").first().over(first),
        first_line_number=pl.col("line_number").first().over(first),
        first_bill_date=pl.col("bill_date").first().over(first),
        first_amount=pl.col("amount").first().over(first),
    )
    return with_first.join(_reversed_charges(walked, same_size), on="line_row", how="left").select(
        "line_row",
        "billing_role",
        "first_bill_number",
        "first_line_number",
        "first_bill_date",
        "first_amount",
        *REVERSED_COLS,
    )


def _reversed_charges(walked: pl.DataFrame, same_size: list[str]) -> pl.DataFrame:
    """For each CREDIT (`line_row`), the charge it reverses: the latest earlier charge of
    its size that brought the count of standing charges to the level the credit finds
    (the top of the stack: a credit reverses the most recent billing it matches, so a
    credited duplicate leaves the first billing standing)."""
    charges = walked.filter(pl.col("amount") >= 0).select(
        *same_size,
        "billing_position",
        depth=pl.col("open_after"),
        reversed_source_sha256=pl.col("source_sha256"),
        reversed_bill_number=pl.col("bill_number"),
        reversed_line_number=pl.col("line_number"),
        reversed_bill_date=pl.col("bill_date"),
        reversed_amount=pl.col("amount"),
    )
    credits = walked.filter(pl.col("billing_role") == "CREDIT").select(
        "line_row", *same_size, "billing_position", depth=pl.col("open_before")
    )
    return credits.join_asof(
        charges,
        on="billing_position",
        by=[*same_size, "depth"],
        strategy="backward",
        check_sortedness=False,  # both sides are in billing_position order
    ).select("line_row", *REVERSED_COLS)


def match_shipments(
    lines: pl.DataFrame,
    ratings: pl.DataFrame,
    carrier: str,
    all_ratings: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Join each line to its shipment rating (same carrier) and, if none, name the
    other carrier that shipped the tracking number (evidence for UNKNOWN_SHIPMENT).

    `ratings` may hold only the carrier's shipments; `all_ratings` (default
    `ratings`) is searched for other carriers' shipments."""
    lines = contiguous(lines)
    # the columns the lines take, then the carrier's rows: a filter copies only these
    shipment_side = only_carrier(
        ratings.select(
            "carrier",
            "tracking_number",
            "shipment_id",
            "order_id",
            "company",
            "ship_date",
            "card_key",
            pl.col("currency").alias("contract_currency"),
            pl.col("zone").alias("contract_zone"),
            "is_remote",
            "parcels",
            "actual_weight_kg",
            "volumetric_weight_kg",
            "chargeable_weight_kg",
            "fuel_percent",
            "unrated_reason",
            "functional_currency",
            "fx_rate",
        ),
        carrier,
    ).drop("carrier")
    ratings = ratings if all_ratings is None else all_ratings
    candidates = shipment_side.filter(_may_repeat(["tracking_number"]))
    repeated = candidates.filter(pl.col("tracking_number").is_duplicated())
    if repeated.height:
        clash = (
            repeated.group_by("tracking_number")
            .agg(pl.col("shipment_id").sort())
            .sort("tracking_number")
        )
        sample = "; ".join(f"{t}: {', '.join(ids)}" for t, ids in clash.head(5).iter_rows())
        raise AmbiguousShipment(
            f"{clash.height} {carrier} tracking numbers belong to more than one shipment "
            f"(shipments input), e.g. {sample}"
        )
    # tracking numbers are unique on the right side (checked above), so a left join
    # keeps the lines' rows: join the key column alone and attach the result instead
    # of copying every column of the lines
    key = lines.select("tracking_number")
    found = key.join(shipment_side, on="tracking_number", how="left", maintain_order="left")
    if found.height != lines.height:
        raise AssertionError("a tracking number matched more than one shipment")
    other = _other_carriers(found, ratings, carrier)
    return lines.hstack([*found.drop("tracking_number").get_columns(), *other])


def _other_carriers(found: pl.DataFrame, ratings: pl.DataFrame, carrier: str) -> list[pl.Series]:
    """other_carrier and other_shipment_id, row-aligned with `found`: for a tracking
    number we did not ship with `carrier`, the (first) other carrier that shipped it.
    Only the unmatched lines (few) are searched for."""
    unmatched = found.with_row_index("_row").filter(pl.col("shipment_id").is_null())
    others = (
        ratings.filter(pl.col("tracking_number").is_in(unmatched["tracking_number"].implode()))
        .filter(pl.col("carrier") != carrier)
        .group_by("tracking_number")
        .agg(
            other_carrier=pl.col("carrier").min(),
            other_shipment_id=pl.col("shipment_id").min(),
        )
    )
    located = unmatched.select("_row", "tracking_number").join(
        others, on="tracking_number", how="inner"
    )
    columns = []
    for name in ("other_carrier", "other_shipment_id"):
        empty = pl.repeat(None, found.height, dtype=pl.String, eager=True).alias(name)
        columns.append(empty.scatter(located["_row"], located[name]) if located.height else empty)
    return columns
