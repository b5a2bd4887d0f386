"""What every template engine shares: sniffing by match rules, decoding text, naming
columns from header rows, cells -> charge lines, header fields, and the hand-over to
the canonical builder.

Each format engine (tabular, XML, JSON, PDF) only turns a file into a *cells*
frame: one row per printed row or element, text columns keyed by the template's
source (a column header, an XPath, a JSON path, a regex group), plus `locator`.
From there the same set-based code builds lines, so a template means the same
thing whatever the format (issue 4: the template engine covers most carriers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from typing import Any, TypeVar

import polars as pl

from parsers.base import Candidate, ParseContext, Parser, Sniff
from parsers.model import (
    DEFAULT_CHARGE_RULES,
    BillParseError,
    ParseResult,
    RawBill,
    canonical_frames,
    parse_date_text,
)
from parsers.templates_schema import FieldRule, LineRules, LongCharge, Template, WideCharge

SUFFIXES = {
    "csv": (".csv", ".txt", ".tsv"),
    "xlsx": (".xlsx", ".xlsm"),
    "xml": (".xml",),
    "json": (".json",),
    "pdf": (".pdf",),
}
SHIPMENT_FIELDS = (
    "tracking_number_raw",
    "shipment_date",
    "billed_weight",
    "weight_unit",
    "zone",
    "destination_country",
)


_SEEN: ContextVar[list[tuple[str, Any]] | None] = ContextVar("reckon_rules_see", default=None)


@contextmanager
def watching() -> Iterator[list[tuple[str, Any]]]:
    """Collect what the rules of a sniff or parse run over (`reckon parse --text`):
    ('match text', (template id, the text `match.contains` searches)), ('first row',
    (template id, the cells `match.first_row` checks)), ('pages', page texts), ('grid',
    the raw table), ('cells', the cells frame), ('header text', the text header regexes
    search), ('header field', (name, where its rule reads, the value found)). Outside
    this block nothing is recorded."""
    seen: list[tuple[str, Any]] = []
    token = _SEEN.set(seen)
    try:
        yield seen
    finally:
        _SEEN.reset(token)


def record(what: str, payload: Any) -> None:
    seen = _SEEN.get()
    if seen is not None:
        seen.append((what, payload))


def template_sniff(
    candidate: Candidate,
    template: Template,
    text: Callable[[], str],
    first_row: Callable[[], list[str]] | None = None,
) -> Sniff:
    """Score = 0.7 if every `contains` text is present (or, for a header-less layout, the
    first row's cells fit `match.first_row`) + 0.2 if the name matches.

    `text` is called lazily (a PDF's first page is only extracted when the name
    and suffix already fit), and a template with no match rules never wins alone.
    """
    if candidate.suffix not in SUFFIXES[template.format]:
        return Sniff(0.0, f"{template.id}: not a {template.format} file")
    rules, score, reasons = template.match, 0.0, []
    if rules.filename:
        if not re.search(rules.filename, candidate.name):
            return Sniff(0.0, f"{template.id}: name does not match {rules.filename!r}")
        score += 0.2
        reasons.append(f"name matches {rules.filename!r}")
    if rules.contains:
        hay = text()
        record("match text", (template.id, hay))
        missing = [c for c in rules.contains if c not in hay]
        if missing:
            return Sniff(0.0, f"{template.id}: text lacks {missing}")
        score += 0.7
        reasons.append(f"text contains {rules.contains}")
    if rules.first_row:
        cells = first_row() if first_row else []
        record("first row", (template.id, cells))
        misfits = [
            n
            for n, pattern in sorted(rules.first_row.items())
            if not re.search(pattern, cells[n - 1] if n <= len(cells) else "")
        ]
        if misfits:
            n = misfits[0]
            got = cells[n - 1] if n <= len(cells) else None
            return Sniff(
                0.0,
                f"{template.id}: first row's cell {n} {got!r} does not match "
                f"{rules.first_row[n]!r}",
            )
        score += 0.7 if not rules.contains else 0.0
        reasons.append(f"first row fits cells {sorted(rules.first_row)}")
    if not reasons:
        return Sniff(0.05, f"{template.id}: right format, no match rules")
    return Sniff(score, f"template {template.id}: " + "; ".join(reasons))


def rule_key(rule: FieldRule) -> str | None:
    """The cells column a rule reads (None for constants and regexes)."""
    return rule.column or rule.xpath or rule.path


def line_sources(template: Template) -> list[str]:
    """Every cells column the template's line rules read (XML/JSON engines extract these)."""
    lines = template.lines
    rules = [
        getattr(lines, f)
        for f in ("tracking_number", *SHIPMENT_FIELDS[1:], "row_total", "currency")
    ]
    if lines.charge:
        rules += [
            lines.charge.amount,
            lines.charge.code,
            lines.charge.description,
            lines.charge.type,
        ]
    keys = [rule_key(r) for r in rules if r is not None]
    for wide in lines.charges:
        keys += [c for c in (wide.amount_column, wide.code_column, wide.description_column) if c]
    return [k for k in dict.fromkeys(keys) if k]


CHARGE_LIKE = (
    r"(?i)charge|surcharge|\bfees?\b|amount|\bamt\b|fuel|freight|dut(?:y|ies)|\bvat\b|\btax"
    r"|insurance|handling|postage|运费|附加费|费用|金额|燃油|关税"
)
"""Column names that look like money the bill charges (for the unmapped-column report)."""


def unmapped_charge_columns(cells: pl.DataFrame, template: Template) -> list[str]:
    """Warnings for columns that look like charges (by name, holding non-zero numbers) but
    that no rule of the template reads: a charge the template forgot is reported, not
    dropped silently."""
    used = set(line_sources(template)) | {template.read.total_row_column}
    used |= {rule.column for _, rule in template.bill if isinstance(rule, FieldRule)}
    for wide in template.lines.charges:
        for _, slot in _wide_slots(wide):
            used |= {slot.amount_column, slot.code_column, slot.description_column}
    numeric = r"^\(?-?[$€£¥]?\s*\d[\d.,\s]*\)?-?$"
    informational = [
        re.compile(re.escape(name).replace(r"\{n\}", r"\d+"))
        for name in template.read.informational_columns
    ]
    warnings = []
    for column in cells.columns:
        if column in used or column == "locator" or not re.search(CHARGE_LIKE, column):
            continue
        if any(pattern.fullmatch(column) for pattern in informational):
            continue
        values = cells[column].drop_nulls()
        charged = values.str.contains(numeric) & values.str.contains(r"[1-9]")
        if charged.any():
            warnings.append(
                f"column {column!r} looks like a charge ({int(charged.sum())} non-zero amounts) "
                f"but template {template.id} does not map it"
            )
    return warnings


def clean_cells(cells: pl.DataFrame, null_values: list[str]) -> pl.DataFrame:
    """Strip text, empty or 'no value' markers -> null, drop rows with nothing in them."""
    data = [c for c in cells.columns if c != "locator"]
    cells = cells.with_columns(
        pl.when(pl.col(c).str.strip_chars().is_in(["", *null_values]))
        .then(None)
        .otherwise(pl.col(c).str.strip_chars())
        .alias(c)
        for c in data
    )
    return cells.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in data))


def header_names(block: pl.DataFrame) -> list[str]:
    """Column names from 1+ header rows: upper rows forward-filled across merged cells,
    parts joined with a space ('运单信息 运单号'); blanks become 'column_N'."""
    rows = [list(r) for r in block.iter_rows()]
    for r in rows[:-1]:
        for i in range(1, len(r)):
            if r[i] is None or str(r[i]).strip() == "":
                r[i] = r[i - 1]
    names: list[str] = []
    seen: dict[str, int] = {}
    for i in range(block.width):
        parts = [str(r[i]).strip() for r in rows if r[i] is not None and str(r[i]).strip()]
        name = " ".join(dict.fromkeys(parts)) or f"column_{i + 1}"
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return names


class _Columns:
    def __init__(self, cells: pl.DataFrame) -> None:
        self.cells = cells
        self.missing: list[str] = []

    def expr(self, rule: FieldRule | None, name: str) -> pl.Expr:
        if rule is None:
            return pl.lit(None, dtype=pl.String).alias(name)
        if rule.const is not None:
            return pl.lit(rule.const).alias(name)
        return self.col(rule_key(rule) or "", name)

    def col(self, key: str, name: str) -> pl.Expr:
        if key not in self.cells.columns:
            self.missing.append(key)
            return pl.lit(None, dtype=pl.String).alias(name)
        return pl.col(key).cast(pl.String).alias(name)


def _wide_slots(wide: WideCharge) -> list[tuple[int, WideCharge]]:
    """(slot number, its columns): numbered titles ('Charge {n} Amount') with `pairs`, the
    n-th copy of a repeated title (header_names names copies 'Title_n') with `repeated`."""
    if wide.pairs is None and wide.repeated is None:
        return [(0, wide)]

    def name(title: str | None, n: int) -> str | None:
        if title is None:
            return None
        if wide.pairs is not None:
            return title.format(n=n)
        return title if n == 1 else f"{title}_{n}"

    return [
        (
            n,
            WideCharge(
                amount_column=name(wide.amount_column, n) or "",
                code_column=name(wide.code_column, n),
                description_column=name(wide.description_column, n),
                type=wide.type,
                code=wide.code,
                description=wide.description,
            ),
        )
        for n in range(1, (wide.pairs or wide.repeated or 0) + 1)
    ]


_ROW_ORDER = pl.int_range(pl.len(), dtype=pl.Int64).alias("_row")
"""Each cells row's position: unpivoted slots are sorted back into row-then-slot order."""


def lines_from_cells(cells: pl.DataFrame, template: Template) -> pl.DataFrame:
    """Cells -> raw charge lines (text), wide bills unpivoted in row-then-slot order."""
    record("cells", cells)
    rules, cols = template.lines, _Columns(cells)
    shipment = _shipment_exprs(rules, cols)
    parts: list[pl.DataFrame] = []
    if rules.charge is not None:
        parts += _long_part(cells, rules.charge, cols, shipment)
    parts += _wide_parts(cells, rules.charges, cols, shipment)
    if cols.missing:
        shown = ", ".join(c for c in cells.columns if c != "locator")
        raise BillParseError(
            "missing_columns",
            f"{', '.join(repr(m) for m in dict.fromkeys(cols.missing))} not found; "
            f"the file has: {shown[:400]}",
            "header",
        )
    # One part (a long bill) is already in row order; only unpivoted slots need sorting.
    lines = parts[0] if len(parts) == 1 else pl.concat(parts).sort("_row", "_slot")
    if rules.charges:
        _refuse_rows_without_charges(cells, lines, rules.tracking_number)
    lines = lines.drop("_row", "_slot")
    _refuse_orphan_charges(lines)
    return lines


def _shipment_exprs(rules: LineRules, cols: _Columns) -> list[pl.Expr]:
    """The shipment fields every line of a row repeats (tracking, date, weight ... and the
    row's total and currency when the template reads them): one set for long and wide."""
    shipment = [
        cols.expr(rules.tracking_number, "tracking_number_raw"),
        *(cols.expr(getattr(rules, f), f) for f in SHIPMENT_FIELDS[1:]),
    ]
    if rules.row_total is not None:
        shipment.append(cols.expr(rules.row_total, "row_total"))
    if rules.currency is not None:
        shipment.append(cols.expr(rules.currency, "row_currency"))
    return shipment


def _long_part(
    cells: pl.DataFrame, charge: LongCharge, cols: _Columns, shipment: list[pl.Expr]
) -> list[pl.DataFrame]:
    """A long bill's lines (one charge per row), or none while a column is missing: the
    caller refuses the bill naming every missing column at once."""
    exprs = [
        *shipment,
        cols.expr(charge.amount, "amount"),
        cols.expr(charge.code, "charge_code"),
        cols.expr(charge.description, "charge_description"),
        cols.expr(charge.type, "charge_type"),
    ]
    if cols.missing:
        return []
    return [cells.select(*exprs, pl.col("locator"), _ROW_ORDER, pl.lit(0).alias("_slot"))]


def _wide_parts(
    cells: pl.DataFrame, groups: list[WideCharge], cols: _Columns, shipment: list[pl.Expr]
) -> list[pl.DataFrame]:
    """A wide bill's lines, one part per charge slot (empty amounts are unused slots).

    Slots are numbered across all groups, so two groups never share a locator; a slot
    with a code or description but no amount is refused rather than dropped."""
    parts: list[pl.DataFrame] = []
    slot_index = 0
    for wide in groups:
        for n, slot in _wide_slots(wide):
            if wide.repeated and n > 1 and slot.amount_column not in cells.columns:
                break  # `repeated` is a most: a file printing fewer copies has fewer slots
            slot_index += 1
            exprs = [
                *shipment,
                cols.col(slot.amount_column, "amount"),
                cols.col(slot.code_column, "charge_code")
                if slot.code_column
                else pl.lit(slot.code, dtype=pl.String).alias("charge_code"),
                cols.col(slot.description_column, "charge_description")
                if slot.description_column
                else pl.lit(slot.description, dtype=pl.String).alias("charge_description"),
                pl.lit(slot.type, dtype=pl.String).alias("charge_type"),
            ]
            if cols.missing:
                continue
            located = pl.col("locator") + f";charge={slot_index}"
            part = cells.select(*exprs, located, _ROW_ORDER, pl.lit(slot_index).alias("_slot"))
            if slot.code_column or slot.description_column:
                _refuse_charges_without_amount(part)
            parts.append(part.filter(pl.col("amount").is_not_null()))
    return parts


def _refuse_charges_without_amount(part: pl.DataFrame) -> None:
    """A slot naming a charge (code or description) with an empty amount is an error at
    that cell: reading it as 'no charge' would drop money the bill may state elsewhere."""
    half = part.filter(
        pl.col("amount").is_null()
        & (pl.col("charge_code").is_not_null() | pl.col("charge_description").is_not_null())
    )
    if half.height:
        raise BillParseError(
            "invalid_value",
            f"charge {half['charge_code'][0] or half['charge_description'][0]!r} has no amount",
            half["locator"][0],
        )


def _refuse_rows_without_charges(
    cells: pl.DataFrame, lines: pl.DataFrame, tracking: FieldRule
) -> None:
    """A wide row with a tracking number that yields no charge at all would vanish from
    the bill: say so, at its row, instead."""
    empty = (
        cells.with_row_index("_row")
        .filter(
            pl.col(tracking.column or "").is_not_null()
            if tracking.column in cells.columns
            else pl.lit(False)
        )
        .join(lines.select(pl.col("_row").cast(pl.UInt32)).unique(), on="_row", how="anti")
    )
    if empty.height:
        raise BillParseError(
            "invalid_value", "shipment row without any charge amount", empty["locator"][0]
        )


def _refuse_orphan_charges(lines: pl.DataFrame) -> None:
    """An amount on a row without a tracking number cannot be matched to a shipment."""
    orphan = lines["tracking_number_raw"].is_null() & lines["amount"].is_not_null()
    if orphan.any():
        i = int(orphan.arg_true()[0])
        raise BillParseError(
            "invalid_value", "charge without a tracking number", lines["locator"][i]
        )


def header_value(
    rule: FieldRule | None,
    name: str,
    *,
    text: Callable[[], str],
    cells: pl.DataFrame | None = None,
    total: pl.DataFrame | None = None,
    lookup: Callable[[FieldRule], str | None] | None = None,
    null_values: list[str] | tuple[str, ...] = (),
) -> str | None:
    """One header field; a rule that finds nothing is an error naming the field."""
    if rule is None:
        return None
    if rule.const is not None:
        value: str | None = rule.const
    elif rule.regex is not None:
        record("header text", text())
        found = re.search(rule.regex, text(), re.MULTILINE)
        if found is None:
            raise BillParseError("missing_field", f"{name}: regex {rule.regex!r} not found")
        value = found.group(1) if found.groups() else found.group(0)
    elif rule.column is not None:
        source = total if rule.total_row else cells
        if source is None or source.height == 0:
            where = "a total row" if rule.total_row else "data rows"
            raise BillParseError("missing_field", f"{name}: the file has no {where}")
        if rule.column not in source.columns:
            raise BillParseError("missing_columns", f"{name}: column {rule.column!r} not found")
        values = source[rule.column].drop_nulls().unique(maintain_order=True)
        if values.len() > 1:
            raise BillParseError(
                "several_bills",
                f"{name}: column {rule.column!r} holds several values {values.head(3).to_list()}",
            )
        value = values[0] if values.len() else None
    else:
        value = lookup(rule) if lookup else None
    if value is not None:
        value = value.strip()
    record("header field", (name, _source(rule), value))
    return None if value in ("", *null_values) else value


def _source(rule: FieldRule) -> str:
    """Where a header rule reads ('regex ...', 'column ... (total row)'), for `--text`."""
    kind, given = next(
        (k, v)
        for k in ("const", "regex", "column", "xpath", "path")
        if (v := getattr(rule, k)) is not None
    )
    return f"{kind} {given!r}" + (" (total row)" if rule.total_row else "")


Stated = TypeVar("Stated")


def _stated(name: str, value: Stated | None) -> Stated:
    """`value` of a header field every bill states (refused as missing_field when empty)."""
    if value is None:
        raise BillParseError("missing_field", f"{name} is empty")
    return value


def _one_currency(lines: pl.DataFrame, currency: str) -> pl.DataFrame:
    """A row in another currency than its bill's is refused: amounts are never mixed."""
    other = lines.filter(
        pl.col("row_currency").is_not_null() & (pl.col("row_currency") != currency)
    )
    if other.height:
        raise BillParseError(
            "invalid_value",
            f"charge in {other['row_currency'][0]} on a {currency} bill (amounts in two "
            "currencies are never added)",
            other["locator"][0],
        )
    return lines.drop("row_currency")


def build_bill(
    template: Template,
    lines: pl.DataFrame,
    value: Callable[[FieldRule | None, str], str | None],
) -> RawBill:
    rules = template.bill

    def day(rule: FieldRule | None, name: str) -> date | None:
        text = value(rule, name)
        return (
            parse_date_text(text, (rule.format,))
            if text and rule and rule.format
            else (parse_date_text(text) if text else None)
        )

    number, currency = value(rules.bill_number, "bill_number"), value(rules.currency, "currency")
    bill_date = day(rules.bill_date, "bill_date")
    number = _stated("bill_number", number)
    bill_date = _stated("bill_date", bill_date)
    currency = _stated("currency", currency)
    if "row_currency" in lines.columns:
        lines = _one_currency(lines, currency)
    stated = value(rules.stated_total, "stated_total")
    if rules.stated_total is not None and stated is None:
        raise BillParseError("missing_field", "stated_total: the template expects a total")
    return RawBill(
        carrier=template.carrier,
        bill_number=number,
        bill_date=bill_date,
        currency=currency,
        account=value(rules.account, "account"),
        period_start=day(rules.period_start, "period_start"),
        period_end=day(rules.period_end, "period_end"),
        stated_total=stated,
        lines=lines,
    )


def finish(parser: Parser, template: Template, ctx: ParseContext, bill: RawBill) -> ParseResult:
    return canonical_frames(
        [bill],
        parser.provenance(ctx, template),
        code_map=template.charge_map or None,
        charge_rules=(*((r.match, r.type) for r in template.charge_rules), *DEFAULT_CHARGE_RULES),
        decimal_comma=template.read.decimal_separator == ",",
        date_format=template.read.date_format,
    )
