"""A few bad input rows and one damaged bill, dropped in by `reckon demo` so quarantine is
visible in the UI (issue 11): what an analyst sees when an extract or a bill is broken.

Kept apart from the generator: the generated data set and its ground truth stay clean (the
tests compare against them); the demo adds these on top, names them in its output, and
exits 0 when exactly these were quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from storage.files import write_bytes
from storage.layout import DataLayout

BAD_MOVEMENTS = 3
"""Rows in the extra movements extract, each breaking one rule of the contract."""
BAD_BILLS = 1


@dataclass(frozen=True)
class BadInput:
    movements_file: Path
    bill_file: Path


def inject_bad_input(layout: DataLayout, day: date) -> BadInput:
    """Add, for `day`, a second movements extract whose rows break the contract (an unknown
    SKU, a negative quantity on a receipt, an unknown movement type), and a damaged PDF
    bill from Yanwen. Idempotent: the same files, byte for byte, on every call."""
    extract = layout.input_dir("movements") / f"{day}.parquet"
    good = pl.read_parquet(extract).head(BAD_MOVEMENTS)
    broken = good.with_columns(
        pl.Series("movement_id", [f"MVBAD{day:%Y%m%d}{i}" for i in range(BAD_MOVEMENTS)]),
        pl.Series("sku", ["NO-SUCH-SKU", *good["sku"][1:].to_list()]),
        pl.Series("quantity", [good["quantity"][0], -abs(good["quantity"][1]) - 1,
                               *good["quantity"][2:].to_list()]),
        pl.Series("movement_type", [*good["movement_type"][:2].to_list(), "TELEPORT"]),
    )  # fmt: skip
    bad_movements = layout.input_dir("movements") / f"{day}-late-upload.csv"
    write_bytes(bad_movements, broken.write_csv().encode())
    bill = layout.bills_inbox / "YANWEN" / f"YWB-YW440317-{day:%Y%m%d}-damaged.pdf"
    damaged = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + b"\x00transfer cut" * 20
    write_bytes(bill, damaged)
    return BadInput(bad_movements, bill)


def quarantined_as_injected(layout: DataLayout, injected: BadInput) -> bool:
    """Whether what the run quarantined is exactly what `inject_bad_input` dropped in: its
    rows, from its file, and its bill, and nothing else."""
    import duckdb

    with duckdb.connect(str(layout.warehouse_db), read_only=True) as con:
        rows = con.sql("SELECT file FROM quarantine_rows").fetchall()
        bills = con.sql(
            "SELECT file_name FROM bill_file_status WHERE status = 'quarantined'"
        ).fetchall()
    files = {Path(file).name for (file,) in rows}
    return (
        len(rows) == BAD_MOVEMENTS
        and files == {injected.movements_file.name}
        and [name for (name,) in bills] == [injected.bill_file.name]
    )
