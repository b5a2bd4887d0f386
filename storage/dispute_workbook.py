"""The dispute list in a form a carrier's billing desk can read (issue 5 item 4).

CSV (UTF-8 with BOM, so Excel opens it with the right characters) or an Excel
workbook, chosen by the file suffix; plain headings and reasons in words, the
evidence kept verbatim (text Excel would run as a formula, such as a carrier's charge
code `=HYPERLINK(...)`, is escaped with a leading quote). Written atomically
(storage/files.py), so a reader never sees half a list and a rerun replaces it whole.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from storage.files import EXPORT_FILE_MODE, write_csv, write_xlsx

REASONS = {
    "DUPLICATE": "Charge billed more than once",
    "CREDIT": "Credit of a charge we disputed (settles the dispute)",
    "UNMATCHED_CREDIT": "Credit matching no charge billed",
    "UNKNOWN_SHIPMENT": "No such shipment from us with this carrier",
    "UNCONTRACTED_CHARGE": "Charge not in the contract",
    "WEIGHT_DISCREPANCY": "Billed weight above the weight we measured",
    "RATE_MISMATCH": "Amount differs from the contract rate",
    "FUEL_MISMATCH": "Fuel surcharge differs from the contract percentage",
}

HEADINGS = {
    "tracking_number": "Tracking number",
    "bill_number": "Invoice",
    "line_number": "Invoice line",
    "charge_type": "Charge",
    "charge_code": "Your charge code",
    "currency": "Currency",
    "billed_amount": "Billed",
    "expected_amount": "Contract amount",
    "disputed_amount": "Disputed",
    "reason": "Reason",
    "evidence": "Details",
}


def dispute_sheet(disputes: pl.DataFrame) -> pl.DataFrame:
    """DISPUTES rows with carrier-facing headings and reasons in words."""
    return disputes.with_columns(
        reason=pl.col("reason").replace_strict(REASONS, default=pl.col("reason"))
    ).select(pl.col(c).alias(h) for c, h in HEADINGS.items())


def write_dispute_list(disputes: pl.DataFrame, path: Path) -> Path:
    """Write `disputes` (DISPUTES contract) to `path` (.csv or .xlsx), atomically."""
    sheet = dispute_sheet(disputes)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ValueError(f"{path}: a dispute list is written as .csv or .xlsx")
    if suffix == ".csv":
        return write_csv(sheet, path, bom=True, mode=EXPORT_FILE_MODE)
    return write_xlsx(sheet, path, worksheet="Disputes", mode=EXPORT_FILE_MODE)
