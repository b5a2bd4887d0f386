"""DHL: a wide CSV export in the style of DHL MyBill (demo/bills/FORMATS.md, "DHL").

One row per shipment with up to ten charge code/description/amount triplets,
UTF-8 with a byte-order mark, CRLF line ends, and a total row at the bottom.
Carriers really send this shape, and it is the one where a careless parser
loses lines (an empty triplet, the total row, a shipment billed twice), which
is why DOMAIN.md insists nothing is silently dropped.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from demo.bills import codes
from demo.bills._common import carrier_dir
from storage.files import write_bytes
from storage.layout import DataLayout

CHARGE_SLOTS = 10
SHIPMENT_COLUMNS = [
    "Line Type",
    "Billing Source",
    "Invoice Number",
    "Invoice Date",
    "Billing Account",
    "Billing Period Start",
    "Billing Period End",
    "Currency",
    "Shipment Number",
    "Shipment Date",
    "Product",
    "Dest Country Code",
    "Zone",
    "Weight",
    "Weight Unit",
    "Total Charge",
]
CHARGE_COLUMNS = [
    f"Charge {i} {part}"
    for i in range(1, CHARGE_SLOTS + 1)
    for part in ("Code", "Description", "Amount")
]
COLUMNS = SHIPMENT_COLUMNS + CHARGE_COLUMNS
RUN_KEY = ["tracking_number", "shipment_date", "billed_weight_kg", "zone", "destination_country"]


def _yyyymmdd(col: str) -> pl.Expr:
    return pl.col(col).dt.strftime("%Y%m%d")


def shipment_rows(headers: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """Fold the long lines into one wide row per shipment run, all text.

    A row holds a contiguous run of lines (in line-number order) of one shipment with
    the same shipment-level fields; an eleventh charge, or a shipment billed again
    later in the bill, starts a new row. So reading rows top to bottom and triplets
    left to right gives back the lines in their original order.
    """
    mapping = pl.DataFrame(
        {
            "charge_type": list(codes.DHL),
            "code": [v[0] for v in codes.DHL.values()],
            "description": [v[1] for v in codes.DHL.values()],
        }
    )
    key = pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("\x00") for c in RUN_KEY], separator="\x1f"
    )
    ordered = (
        lines.sort("bill_number", "line_number")
        .join(mapping, on="charge_type", how="left")
        .with_columns(_key=key)
        .with_columns(
            _new_run=(pl.col("_key") != pl.col("_key").shift(1).over("bill_number")).fill_null(True)
        )
        .with_columns(_run=pl.col("_new_run").cum_sum().over("bill_number"))
        .with_columns(_pos=pl.int_range(pl.len()).over("bill_number", "_run"))
        .with_columns(_row=pl.col("_pos") // CHARGE_SLOTS)
    )
    rows = ordered.group_by("bill_number", "_run", "_row", maintain_order=True).agg(
        pl.first(*RUN_KEY),
        pl.col("code"),
        pl.col("description"),
        pl.col("amount").cast(pl.String).alias("amounts"),
        pl.col("amount").sum().alias("row_total"),
    )
    triplets = []
    for i in range(CHARGE_SLOTS):
        n = i + 1
        triplets += [
            pl.col("code").list.get(i, null_on_oob=True).alias(f"Charge {n} Code"),
            pl.col("description").list.get(i, null_on_oob=True).alias(f"Charge {n} Description"),
            pl.col("amounts").list.get(i, null_on_oob=True).alias(f"Charge {n} Amount"),
        ]
    return rows.join(headers, on="bill_number", how="left", maintain_order="left").select(
        pl.lit("S").alias("Line Type"),
        pl.lit("MYBILL").alias("Billing Source"),
        pl.col("bill_number").alias("Invoice Number"),
        _yyyymmdd("bill_date").alias("Invoice Date"),
        pl.col("account").alias("Billing Account"),
        _yyyymmdd("period_start").alias("Billing Period Start"),
        _yyyymmdd("period_end").alias("Billing Period End"),
        pl.col("currency").alias("Currency"),
        pl.col("tracking_number").alias("Shipment Number"),
        _yyyymmdd("shipment_date").alias("Shipment Date"),
        pl.lit("P").alias("Product"),
        pl.col("destination_country").alias("Dest Country Code"),
        pl.col("zone").alias("Zone"),
        pl.col("billed_weight_kg").cast(pl.String).alias("Weight"),
        pl.lit("K").alias("Weight Unit"),
        pl.col("row_total").cast(pl.String).alias("Total Charge"),
        *triplets,
    )


def total_rows(headers: pl.DataFrame) -> pl.DataFrame:
    """The closing row: Line Type "T" and the bill's stated total in "Total Charge"."""
    return headers.select(
        pl.lit("T").alias("Line Type"),
        pl.lit("MYBILL").alias("Billing Source"),
        pl.col("bill_number").alias("Invoice Number"),
        _yyyymmdd("bill_date").alias("Invoice Date"),
        pl.col("account").alias("Billing Account"),
        _yyyymmdd("period_start").alias("Billing Period Start"),
        _yyyymmdd("period_end").alias("Billing Period End"),
        pl.col("currency").alias("Currency"),
        pl.col("stated_total").cast(pl.String).alias("Total Charge"),
    )


def write(headers: pl.DataFrame, lines: pl.DataFrame, layout: DataLayout) -> list[Path]:
    """One `bills/inbox/DHL/<bill_number>.csv` per bill."""
    folder = carrier_dir(layout.bills_inbox, "DHL")
    empty = pl.DataFrame(schema=dict.fromkeys(COLUMNS, pl.String))
    rows = pl.concat([empty, shipment_rows(headers, lines)], how="diagonal")
    totals = pl.concat([empty, total_rows(headers)], how="diagonal")
    by_bill = rows.partition_by("Invoice Number", as_dict=True, maintain_order=True)
    paths = []
    for bill_number, total in zip(headers["bill_number"], totals.iter_slices(1), strict=True):
        body = by_bill.get((bill_number,), empty)
        buffer = io.BytesIO()
        pl.concat([body, total]).write_csv(buffer, include_bom=True, line_terminator="\r\n")
        path = folder / f"{bill_number}.csv"
        write_bytes(path, buffer.getvalue())
        paths.append(path)
    return paths
