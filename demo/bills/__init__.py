"""Demo carrier bills, each carrier in its own real-world style (demo/bills/FORMATS.md).

The demo generator decides what is billed (including the anomalies it injects);
these writers only decide how each carrier prints it, losslessly, so the
parsers can be measured against the generator's ground truth.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from demo.bills import csv_wide, json_api, pdf_invoice, xlsx_cn, xml_bill
from demo.bills._common import BillWriteError, validate
from storage.layout import DataLayout

Writer = Callable[[pl.DataFrame, pl.DataFrame, DataLayout], list[Path]]

WRITERS: dict[str, Writer] = {
    "DHL": csv_wide.write,
    "UPS": json_api.write,
    "FOURPX": xml_bill.write,
    "YUNEXPRESS": xlsx_cn.write,
    "YANWEN": pdf_invoice.write,
}

__all__ = ["WRITERS", "BillWriteError", "write_bills"]


def write_bills(
    carrier: str, headers: pl.DataFrame, lines: pl.DataFrame, layout: DataLayout
) -> list[Path]:
    """Write `carrier`'s bills in its own style; returns one path per header row, in order.

    DHL, FOURPX, YUNEXPRESS and YANWEN land in `layout.bills_inbox/<CARRIER>/`; UPS in
    `layout.bills_api_dir/UPS/`, from where the demo carrier API serves it. Files are named
    `<bill_number>.<ext>` and rewritten whole (atomically), so rerunning is idempotent.
    Raises BillWriteError, naming the bill/line and the reason, for input that cannot be
    written without loss.
    """
    writer = WRITERS.get(carrier)
    if writer is None:
        raise BillWriteError(f"no bill writer for carrier {carrier!r}; known: {sorted(WRITERS)}")
    return writer(*validate(carrier, headers, lines), layout)
