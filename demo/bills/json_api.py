"""UPS: bills served by a paged JSON billing API (demo/bills/FORMATS.md, "UPS").

The writer stores one JSON document per invoice under `bills/api/UPS/`; the demo
carrier API (demo/carrier_api.py) pages its `charges` on request, and the HTTP
connector (parsers/connectors/http_api.py) fetches them back into the inbox.
Amounts and weights are JSON strings holding the exact decimal, never JSON
numbers, because a JSON number is a float to most readers (DOMAIN.md, money is
exact).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from demo.bills import codes
from demo.bills._common import as_text, carrier_dir
from storage.files import write_bytes
from storage.layout import DataLayout


def invoice_metadata(header: dict, line_count: int) -> dict:
    """The `invoice` object, identical in the stored file and in every API page."""
    return {
        "invoiceNumber": header["bill_number"],
        "accountNumber": header["account"],
        "invoiceDate": header["bill_date"],
        "billingPeriod": {"start": header["period_start"], "end": header["period_end"]},
        "currencyCode": header["currency"],
        "invoiceAmount": header["stated_total"],
        "chargeCount": line_count,
    }


def charge_items(lines: pl.DataFrame) -> pl.DataFrame:
    """One JSON-ready row per canonical line, in line-number order, all text."""
    mapping = pl.DataFrame(
        {
            "charge_type": list(codes.UPS),
            "chargeCategoryCode": [v[0] for v in codes.UPS.values()],
            "chargeClassificationCode": [v[1] for v in codes.UPS.values()],
            "chargeDescription": [v[2] for v in codes.UPS.values()],
        }
    )
    return (
        lines.sort("bill_number", "line_number")
        .join(mapping, on="charge_type", how="left", maintain_order="left")
        .select(
            "bill_number",
            pl.col("line_number").alias("lineNumber"),
            pl.col("tracking_number").alias("trackingNumber"),
            pl.col("shipment_date").cast(pl.String).alias("shipmentDate"),
            pl.col("billed_weight_kg").cast(pl.String).alias("billedWeight"),
            pl.lit("KG").alias("billedWeightUnit"),
            pl.col("zone").alias("zone"),
            pl.col("destination_country").alias("receiverCountry"),
            "chargeCategoryCode",
            "chargeClassificationCode",
            "chargeDescription",
            pl.col("amount").cast(pl.String).alias("netAmount"),
        )
    )


def write(headers: pl.DataFrame, lines: pl.DataFrame, layout: DataLayout) -> list[Path]:
    """One `bills/api/UPS/<bill_number>.json` per bill: `{"invoice": ..., "charges": [...]}`."""
    folder = carrier_dir(layout.bills_api_dir, "UPS")
    items = charge_items(lines).partition_by("bill_number", as_dict=True, include_key=False)
    paths = []
    for header in as_text(headers).iter_rows(named=True):
        bill_items = items.get((header["bill_number"],))
        charges = bill_items.to_dicts() if bill_items is not None else []
        document = {"invoice": invoice_metadata(header, len(charges)), "charges": charges}
        path = folder / f"{header['bill_number']}.json"
        data = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
        write_bytes(path, data.encode("utf-8"))
        paths.append(path)
    return paths
