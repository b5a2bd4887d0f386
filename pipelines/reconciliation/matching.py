"""Bill lines to shipments: normalised tracking numbers, first occurrences, duplicates.

Settled rules (docs/reconciliation.md):
- a line matches a shipment of the *same carrier* with the same normalised
  tracking number (upper case, letters and digits only); a tracking number we
  shipped only with another carrier is an UNKNOWN_SHIPMENT for this carrier;
- the first billed occurrence of (carrier, tracking number, charge type), in
  the order bill date, bill number, line number (then file hash), is judged
  normally; every later occurrence, in the same bill or another bill of any
  earlier or the same period, is a DUPLICATE carrying the first one's evidence.
"""

from __future__ import annotations

import polars as pl

from pipelines.frames import contiguous
from pipelines.tracking import with_normalised_tracking

ORDER = ["bill_date", "bill_number", "line_number", "source_sha256"]
DUP_KEY = ["tracking_number", "charge_type"]


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


def mark_first_occurrences(lines: pl.DataFrame) -> pl.DataFrame:
    """Add occurrence (0 = first billed) and first_* evidence columns per DUP_KEY.

    Only lines whose key repeats are ordered; the rest are first occurrences.
    """
    lines = with_normalised_tracking(contiguous(lines))
    first = {
        c: pl.col(c).first().over(DUP_KEY) for c in ("bill_number", "line_number", "bill_date")
    }
    repeated = (
        lines.with_row_index("_occ_rid")
        .filter(_may_repeat(DUP_KEY))
        .sort(ORDER)
        .select(
            "_occ_rid",
            occurrence=pl.int_range(pl.len()).over(DUP_KEY),
            first_bill_number=first["bill_number"],
            first_line_number=first["line_number"],
            first_bill_date=first["bill_date"],
            first_amount=pl.col("amount").first().over(DUP_KEY),
        )
    )
    # the repeated rows are few: written into full-length columns at their row ids
    # (every other line is a first occurrence with no first_* evidence)
    rows = repeated["_occ_rid"]
    marks = []
    for name, column in repeated.drop("_occ_rid").to_dict().items():
        fill = 0 if name == "occurrence" else None
        full = pl.repeat(fill, lines.height, dtype=column.dtype, eager=True).alias(name)
        marks.append(full.scatter(rows, column) if rows.len() else full)
    return lines.hstack(marks)


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
