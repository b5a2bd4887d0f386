"""`reckon template new FILE`: a first draft of a template from a bill's header and rows.

Writing a template starts from the same questions every time (which row is the header,
which column is the tracking number, which columns are money); the draft answers what
the file itself shows and marks everything else `TODO`. It always loads as a template
(so `reckon parse FILE --templates-dir ... --explain` works on it at once): a header
field the draft could not find is a regex that cannot match ('TODO ...'), so parsing
stops on it with `missing_field` naming the field, never with a guessed value.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import yaml

from parsers.builtin.pdf_text import page_texts
from parsers.builtin.tabular import DELIMITERS, read_csv_grid, read_xlsx_grid
from parsers.builtin.template_engine import CHARGE_LIKE
from parsers.model import BillParseError
from parsers.templates_schema import Template

GUESSES = {
    "tracking_number": r"(?i)track|awb|waybill|shipment (?:no|number|id)|consignment|parcel|运单",
    "shipment_date": r"(?i)ship.*date|pick.?up.*date|发货日期",
    "billed_weight": r"(?i)weight|重量",
    "weight_unit": r"(?i)unit|uom|单位",
    "zone": r"(?i)zone|分区",
    "destination_country": r"(?i)country|dest|国家|目的",
}
HEADER_GUESSES = {
    "bill_number": r"(?i)invoice (?:no|number)|bill (?:no|number)|账单号",
    "bill_date": r"(?i)invoice date|bill date|账单日期",
    "currency": r"(?i)^currency$|^cur$|币种",
    "account": r"(?i)account|客户号",
}
NUMBER = r"^\(?-?[$€£¥]?\s*\d[\d.,\s]*\)?-?$"


def _skeleton(path: Path, fmt: str) -> dict:
    return {
        "id": re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") + f"-{fmt}",
        "version": 1,
        "carrier": "TODO_CARRIER",
        "format": fmt,
        "description": f"Draft from {path.name} by `reckon template new`: check every TODO",
    }


def _todo(field: str) -> dict[str, str]:
    return {"regex": f"TODO {field}: (\\S+)"}


def _tabular(path: Path, fmt: str) -> dict:
    """A CSV/XLSX draft: bill fields, then shipment fields, the row total and the charge
    columns guessed by name in that order (each column used once), the rest TODO."""
    names, data = _header_and_rows(path, fmt)
    columns = _Guesser(data)
    bill: dict = {}
    for field, pattern in HEADER_GUESSES.items():
        column = columns.pick(pattern)
        if column:
            bill[field] = {"column": column}
        elif field != "account":
            bill[field] = _todo(field)
    lines: dict = {}
    for field, pattern in GUESSES.items():
        column = columns.pick(pattern, True if field == "billed_weight" else None)
        if column:
            lines[field] = {"column": column}
    lines.setdefault("tracking_number", {"column": "TODO tracking number column"})
    total = columns.pick(r"(?i)total", True)
    if total:
        lines["row_total"] = {"column": total}
    charges = [
        c
        for c in data.columns
        if c not in columns.taken and columns.numeric[c] and re.search(CHARGE_LIKE, c)
    ]
    lines["charges"] = [{"amount_column": c} for c in charges] or [
        {"amount_column": "TODO charge amount column"}
    ]
    return {
        **_skeleton(path, fmt),
        "match": {"contains": [n for n in names if n][:3]},
        "read": _read_options(path, fmt, names),
        "bill": bill,
        "lines": lines,
    }


def _header_and_rows(path: Path, fmt: str) -> tuple[list[str], pl.DataFrame]:
    """The header row's names and up to 50 rows under it, read as the engines read the
    file. The header is the first of the top 40 rows filled (nearly) as much as the fullest:
    title rows above a table are shorter than its header."""
    probe = Template.model_validate(
        {
            **_skeleton(path, fmt),
            "match": {},
            "bill": {f: {"const": "x"} for f in ("bill_number", "bill_date", "currency")},
            "lines": {"tracking_number": {"column": "x"}, "charge": {"amount": {"column": "x"}}},
        }
    )
    if fmt == "csv":
        grid = read_csv_grid(path, probe, path.name)
    else:
        grid, _ = read_xlsx_grid(path, probe, path.name, 60)
    filled = grid.head(40).select(
        pl.sum_horizontal(pl.col(c).str.strip_chars().fill_null("").ne("") for c in grid.columns)
    )
    counts = filled.to_series().to_list()
    header_at = next((i for i, n in enumerate(counts) if n >= max(3, 0.6 * max(counts))), 0)
    names = [str(v).strip() if v is not None else "" for v in grid.row(header_at)]
    data = grid.slice(header_at + 1, 50)
    data.columns = [n or f"column_{i + 1}" for i, n in enumerate(names)]
    return names, data


class _Guesser:
    """Columns picked by name, in the file's order, each at most once (a tracking column is
    not also a charge), optionally only one holding numbers (weights, totals)."""

    def __init__(self, data: pl.DataFrame) -> None:
        self.data = data
        self.numeric = {
            c: bool(data[c].drop_nulls().len())
            and data[c].drop_nulls().str.strip_chars().str.contains(NUMBER).all()
            for c in data.columns
        }
        self.taken: set[str] = set()

    def pick(self, pattern: str, want_numeric: bool | None = None) -> str | None:
        for name in self.data.columns:
            if name in self.taken or not re.search(pattern, name):
                continue
            if want_numeric is not None and self.numeric[name] != want_numeric:
                continue
            self.taken.add(name)
            return name
        return None


def _read_options(path: Path, fmt: str, names: list[str]) -> dict:
    """`read:` for the draft: the header found by its first name, a CSV's delimiter as the
    header line's most frequent, and the decimal separator stated (a TODO to check)."""
    delimiter = None
    if fmt == "csv":
        header_line = next(
            (ln for ln in path.read_text(errors="replace").splitlines() if names[0] in ln), ""
        )
        delimiter = max(DELIMITERS, key=header_line.count)
    read = {"header_contains": names[0]} | ({"delimiter": delimiter} if delimiter else {})
    read["decimal_separator"] = "."  # TODO: ',' when the bill prints 12,50
    return read


def _pdf(path: Path) -> dict:
    first = page_texts(path, path.name, layout=False, first_only=True)[0]
    top = [line.strip() for line in first.splitlines() if line.strip()][:2]
    return {
        **_skeleton(path, "pdf"),
        "match": {"contains": top},
        "read": {
            "table_start": "TODO the table's header line",
            "line_regex": "(?P<tracking>TODO\\S+) (?P<amount>-?\\d+\\.\\d{2})",
            "decimal_separator": ".",
        },
        "bill": {f: _todo(f) for f in ("bill_number", "bill_date", "currency")},
        "lines": {
            "tracking_number": {"column": "tracking"},
            "charge": {"amount": {"column": "amount"}},
        },
    }


def draft_template(path: Path) -> str:
    """The YAML text of a draft template for `path` (CSV, XLSX or PDF)."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        draft = _tabular(path, "csv")
    elif suffix in (".xlsx", ".xlsm"):
        draft = _tabular(path, "xlsx")
    elif suffix == ".pdf":
        draft = _pdf(path)
    else:
        raise BillParseError(
            "no_parser", f"{path.name}: drafts are made for CSV, XLSX and PDF bills, not {suffix}"
        )
    Template.model_validate(draft)  # the draft always loads
    header = (
        f"# Draft template for {path.name} (reckon template new). Replace every TODO, then\n"
        f"# check it with: reckon parse {path.name} --templates-dir DIR --explain --text\n"
    )
    return header + yaml.safe_dump(draft, sort_keys=False, allow_unicode=True)
