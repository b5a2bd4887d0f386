"""From what a parser read to the canonical bill frames (pipelines/contracts/bills.py).

Parsers only *read*: they hand over a `RawBill` (header fields plus a frame of
text cells, one row per charge) and this module turns it into canonical
headers and lines with set-based Polars expressions. Keeping the conversion in
one place means every format normalises tracking numbers, amounts, weights and
charge types the same way (DOMAIN.md, "Bill reconciliation": every line keeps
where it came from; matching is by normalised tracking number).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import polars as pl

from pipelines.contracts import types as t
from pipelines.contracts.bills import BILL_HEADERS, BILL_LINES
from pipelines.money import div_half_away, units_of
from pipelines.tracking import normalise_tracking

RAW_LINE_COLUMNS = (
    "tracking_number_raw",
    "shipment_date",
    "billed_weight",
    "weight_unit",
    "zone",
    "destination_country",
    "charge_type",
    "charge_code",
    "charge_description",
    "amount",
    "locator",
)
"""Text columns a parser may fill; missing ones are null. `charge_type` is optional:
when null it is derived from code/description by the charge rules."""


def raw_lines(rows: list[dict[str, str | None]], extra: tuple[str, ...] = ()) -> pl.DataFrame:
    """A parser's rows (dicts of text) as raw lines: every RAW_LINE_COLUMNS column and
    `extra` as String, null where a row does not give it."""
    return pl.DataFrame(rows, schema=dict.fromkeys((*RAW_LINE_COLUMNS, *extra), pl.String))


DEFAULT_CHARGE_RULES: tuple[tuple[str, str], ...] = (
    (r"(?i)fuel|燃油|surcharge.*fuel|\bFSC\b", "FUEL"),
    (r"(?i)remote|out of area|extended area|偏远", "REMOTE_AREA"),
    (r"(?i)residential|住宅", "RESIDENTIAL"),
    (r"(?i)address correction|地址更正", "ADDRESS_CORRECTION"),
    (r"(?i)registration|registered|挂号", "REGISTRATION"),
    (r"(?i)import vat|\bvat\b|增值税", "IMPORT_VAT"),
    (r"(?i)duty|duties|关税", "CUSTOMS_DUTY"),
    (r"(?i)oversize|over ?size|large package|超长|超大", "OVERSIZE"),
    (r"(?i)freight|transport|shipping|postage|运费|express|line ?haul", "FREIGHT"),
)
"""Keyword rules for charges a template or plugin did not map explicitly. Order
matters (first match wins): "fuel surcharge on freight" is FUEL, not FREIGHT.
Anything unmatched is OTHER, never dropped (DOMAIN.md: nothing silently dropped)."""

GRAMS_SCALE = 10**8
LB_IN_SCALED_GRAMS_PER_MILLI = 45359237
"""1 lb = 453.59237 g exactly, so 1/1000 lb = 45359237 / 10**8 g: conversion stays in integers."""
OUNCES_PER_LB = 16
"""1 oz = 1/16 lb exactly (28.349523125 g): ounces convert over a denominator 16 times larger."""


class BillParseError(Exception):
    """A file could not be read into canonical lines.

    `code` is a short machine reason (the quarantine groups by it), `reason` the
    sentence a person reads, `locator` where in the file (page/row, XPath...).
    """

    def __init__(self, code: str, reason: str, locator: str | None = None) -> None:
        super().__init__(f"{code}: {reason}" + (f" (at {locator})" if locator else ""))
        self.code = code
        self.reason = reason
        self.locator = locator


@dataclass
class RawBill:
    """One bill as read: header fields as Python values, lines as text cells."""

    carrier: str
    bill_number: str
    bill_date: date | None
    """None when the file states none: validation then quarantines the file (bill_date
    is a required column of bill_headers)."""
    currency: str
    lines: pl.DataFrame
    account: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    stated_total: str | None = None
    """Text of the total printed on the bill (None when the bill prints none)."""
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Provenance:
    source_sha256: str
    source_name: str
    parser: str
    parser_version: str
    template_id: str | None = None


@dataclass
class ParseResult:
    headers: pl.DataFrame
    lines: pl.DataFrame
    warnings: list[str] = field(default_factory=list)


def clean_number(expr: pl.Expr, decimal_comma: bool = False) -> pl.Expr:
    """Printed number -> plain '-1234.56' text.

    Drops one currency symbol or code before or after the number, spaces and
    thousands separators; '(12.00)' and a trailing minus are negative; with
    `decimal_comma`, '1.234,56' is 1234.56. Anything else stays as printed so
    that parse_decimal can reject it by name ('abc' is not silently empty).
    """
    s = expr.cast(pl.String).str.strip_chars()
    s = s.str.replace(r"^(?:[A-Z]{3}|Rs\.?|[$€£¥₹])\s*", "")
    s = s.str.replace(r"\s*(?:[A-Z]{3}|[$€£¥₹])$", "")
    negative = s.str.contains(r"^\(.*\)$") | s.str.contains(r"-$")
    s = s.str.replace_all(r"[()\s]", "").str.replace(r"-$", "")
    if decimal_comma:
        s = s.str.replace_all(r"\.", "").str.replace_all(",", ".")
    else:
        s = s.str.replace_all(",", "")
    s = s.str.replace(r"^(-?)\.", "${1}0.")  # '.50' -> '0.50'
    return pl.when(negative & ~s.str.starts_with("-")).then("-" + s).otherwise(s)


def _bare_number(expr: pl.Expr) -> pl.Expr:
    """The printed number without currency, sign, brackets or spaces (as clean_number)."""
    s = expr.cast(pl.String).str.strip_chars()
    s = s.str.replace(r"^(?:[A-Z]{3}|Rs\.?|[$€£¥₹])\s*", "")
    s = s.str.replace(r"\s*(?:[A-Z]{3}|[$€£¥₹])$", "")
    return s.str.replace_all(r"[()\s]", "").str.strip_chars("-")


def misfit_number(expr: pl.Expr, decimal_comma: bool = False) -> pl.Expr:
    """True where a printed number does not fit the declared decimal separator.

    Under a decimal point a comma may only group thousands ('1,234.50'); under a decimal
    comma a point may only group thousands ('1.234,50'). '30,60' under a dot-decimal
    template, '12.5' under a comma one, or '1.234,5' under a dot one would otherwise be
    read 100 times too large or small and still foot; they are refused, never rescaled."""
    s = _bare_number(expr)
    group, point = (r"\.", ",") if decimal_comma else (",", r"\.")
    fits = s.str.contains(rf"^\d{{1,3}}(?:{group}\d{{3}})+(?:{point}\d+)?$") | s.str.contains(
        rf"^\d*(?:{point}\d+)?$"
    )
    return s.is_not_null() & (s != "") & s.str.contains(r"^[\d.,]+$") & ~fits


def refuse_misfits(frame: pl.DataFrame, column: str, decimal_comma: bool, where: str) -> None:
    """BillParseError naming the file, row and value of the first misfit number."""
    bad = frame.select(misfit_number(pl.col(column), decimal_comma).alias("bad"))["bad"]
    if bad.any():
        i = int(bad.arg_true()[0])
        sep = "," if decimal_comma else "."
        raise BillParseError(
            "invalid_value",
            f"{where}: {column.replace('_', ' ')} {frame[column][i]!r} does not fit the declared "
            f"decimal separator {sep!r} (refused, never rescaled)",
            frame["locator"][i] if "locator" in frame.columns else None,
        )


def check_row_totals(raw: pl.DataFrame, amount: pl.Series, decimal_comma: bool) -> None:
    """Where a bill states a total per row, that row's charges must add up to it."""
    rows = raw.select(
        pl.col("locator").str.replace(r";charge=\d+$", "").alias("locator"),
        clean_number(pl.col("row_total"), decimal_comma).alias("row_total"),
    ).with_columns(amount.alias("amount"))
    rows = rows.with_columns(parse_decimal(rows, "row_total", t.MONEY, "row total"))
    sums = rows.group_by("locator", maintain_order=True).agg(
        pl.col("amount").sum(), pl.col("row_total").drop_nulls().first()
    )
    wrong = sums.filter(
        pl.col("row_total").is_not_null() & (pl.col("row_total") != pl.col("amount"))
    )
    if wrong.height:
        row = wrong.row(0, named=True)
        raise BillParseError(
            "totals_mismatch",
            f"row total {row['row_total']} but the row's charges sum to {row['amount']} "
            f"(difference {row['row_total'] - row['amount']})",
            row["locator"],
        )


def parse_decimal(frame: pl.DataFrame, column: str, dtype: pl.Decimal, what: str) -> pl.Series:
    """Text column -> exact decimal; a clear error for text that is not a number
    or that carries more places than the type (money is never rounded silently)."""
    text = frame[column]
    wide = text.cast(pl.Decimal(38, 6), strict=False)
    bad = (
        text.is_not_null()
        & (text != "")
        & (~text.str.contains(r"^-?\d+(\.\d+)?$") | wide.is_null())
    )
    if bad.any():
        i = int(bad.arg_true()[0])
        raise BillParseError(
            "invalid_value",
            f"{what} {text[i]!r} is not a number",
            frame["locator"][i] if "locator" in frame.columns else None,
        )
    exact = wide.cast(dtype)
    lost = wide.is_not_null() & (exact.cast(pl.Decimal(38, 6)) != wide)
    if lost.any():
        i = int(lost.arg_true()[0])
        raise BillParseError(
            "invalid_value",
            f"{what} {text[i]!r} has more than {dtype.scale} decimal places",
            frame["locator"][i] if "locator" in frame.columns else None,
        )
    return exact.rename(column)


def charge_type_expr(
    rules: tuple[tuple[str, str], ...] = DEFAULT_CHARGE_RULES,
    code_map: dict[str, str] | None = None,
) -> pl.Expr:
    """Explicit charge_type when given, else the carrier code's mapping, else the first
    keyword rule matching code or description, else OTHER."""
    text = pl.concat_str(
        [pl.col("charge_code").fill_null(""), pl.col("charge_description").fill_null("")],
        separator=" ",
    )
    derived: pl.Expr = pl.lit("OTHER")
    for pattern, kind in reversed(rules):
        derived = pl.when(text.str.contains(pattern)).then(pl.lit(kind)).otherwise(derived)
    mapped = (
        pl.col("charge_code").replace_strict(code_map, default=None, return_dtype=pl.String)
        if code_map
        else pl.lit(None, dtype=pl.String)
    )
    return pl.coalesce(pl.col("charge_type").str.to_uppercase(), mapped, derived)


DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%b %d, %Y")


def parse_date_text(value: str | None, formats: tuple[str, ...] = DATE_FORMATS) -> date | None:
    """One header date (a handful per file, so plain Python is fine here)."""
    if value is None or str(value).strip() == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in formats:
        try:
            return datetime.strptime(text[:10] if fmt == "%Y-%m-%d" else text, fmt).date()
        except ValueError:
            continue
    raise BillParseError("invalid_value", f"date {text!r} matches none of {', '.join(formats)}")


def _dates(frame: pl.DataFrame, date_format: str | None) -> pl.Series:
    text = frame["shipment_date"].cast(pl.String).str.strip_chars()
    formats = (date_format,) if date_format else DATE_FORMATS
    parsed = pl.Series("shipment_date", [None] * frame.height, dtype=pl.Date)
    for fmt in formats:
        attempt = text.str.slice(0, 10) if fmt == "%Y-%m-%d" else text
        parsed = parsed.fill_null(attempt.str.to_date(fmt, strict=False))
    bad = text.is_not_null() & (text != "") & parsed.is_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise BillParseError(
            "invalid_value", f"shipment date {text[i]!r} is not a date", frame["locator"][i]
        )
    return parsed


def _weight_kg(weight: pl.Series, unit: pl.Series) -> pl.Series:
    """Billed weight in kg to the gram, converted in integer milli-units, rounded half-up
    (away from zero). Every unit is scaled over one denominator (GRAMS_SCALE * 16, so that
    an ounce, 1/16 lb, stays an integer numerator too)."""
    frame = pl.DataFrame({"w": weight, "u": unit.fill_null("KG")})
    milli = units_of(pl.col("w"), 3)
    grams_num = (
        pl.when(pl.col("u") == "LB")
        .then(milli * (LB_IN_SCALED_GRAMS_PER_MILLI * OUNCES_PER_LB))
        .when(pl.col("u") == "OZ")
        .then(milli * LB_IN_SCALED_GRAMS_PER_MILLI)
        .when(pl.col("u") == "G")
        .then(milli * (GRAMS_SCALE // 1000 * OUNCES_PER_LB))
        .otherwise(milli * (GRAMS_SCALE * OUNCES_PER_LB))
    )
    # grams_num / (GRAMS_SCALE * 16) = grams
    denominator = GRAMS_SCALE * OUNCES_PER_LB
    out = frame.select(div_half_away(grams_num, denominator).alias("mkg"))["mkg"]
    return (out.cast(pl.Decimal(18, 3)) / 1000).cast(t.WEIGHT_KG).rename("billed_weight_kg")


def canonical_frames(
    bills: list[RawBill],
    prov: Provenance,
    *,
    charge_rules: tuple[tuple[str, str], ...] = DEFAULT_CHARGE_RULES,
    code_map: dict[str, str] | None = None,
    decimal_comma: bool = False,
    date_format: str | None = None,
) -> ParseResult:
    """Raw bills -> canonical (headers, lines) with the contract's exact dtypes."""
    header_rows, line_frames, warnings = [], [], []
    for bill in bills:
        warnings.extend(bill.warnings)
        where = f"{prov.source_name} bill {bill.bill_number}"
        raw, amount = _raw_amounts(bill, decimal_comma, where)
        lines = _typed_lines(raw, amount, date_format, charge_rules, code_map)
        lines = _with_bill_and_provenance(lines, bill, prov)
        line_frames.append(lines)
        stated = _stated_total(bill.stated_total, decimal_comma, where)
        header_rows.append(
            {
                "source_sha256": prov.source_sha256,
                "source_name": prov.source_name,
                "carrier": bill.carrier,
                "account": bill.account,
                "bill_number": bill.bill_number,
                "bill_date": bill.bill_date,
                "period_start": bill.period_start,
                "period_end": bill.period_end,
                "currency": bill.currency,
                "stated_total": stated,
                "parsed_total": lines["amount"].sum(),
                "line_count": lines.height,
                "parser": prov.parser,
                "parser_version": prov.parser_version,
                "template_id": prov.template_id,
            }
        )
    headers = pl.DataFrame(header_rows, schema=BILL_HEADERS.schema)
    return ParseResult(headers=headers, lines=pl.concat(line_frames), warnings=warnings)


def _raw_amounts(bill: RawBill, decimal_comma: bool, where: str) -> tuple[pl.DataFrame, pl.Series]:
    """A bill's raw lines as text in RAW_LINE_COLUMNS, numbers cleaned, and their amounts.

    Numbers that do not fit the declared decimal separator are refused before cleaning
    (never rescaled); a line without an amount, or a row whose charges do not add up to
    its printed total, is refused at its locator."""
    raw = bill.lines
    for col in RAW_LINE_COLUMNS:
        if col not in raw.columns:
            raw = raw.with_columns(pl.lit(None, dtype=pl.String).alias(col))
    row_totals = raw.select("locator", "row_total") if "row_total" in raw.columns else None
    raw = raw.select([pl.col(c).cast(pl.String) for c in RAW_LINE_COLUMNS])
    if raw.height == 0:
        raise BillParseError("no_lines", f"bill {bill.bill_number} has no charge lines")
    refuse_misfits(raw, "amount", decimal_comma, where)
    refuse_misfits(raw, "billed_weight", decimal_comma, where)
    if row_totals is not None:
        refuse_misfits(row_totals, "row_total", decimal_comma, where)
    raw = raw.with_columns(
        clean_number(pl.col("amount"), decimal_comma).alias("amount"),
        clean_number(pl.col("billed_weight"), decimal_comma).alias("billed_weight"),
        pl.col("weight_unit")
        .str.strip_chars()
        .str.to_uppercase()
        .str.replace(r"^(K|KGS?|千克|公斤)$", "KG")
        .str.replace(r"^(L|LBS?|POUNDS?)$", "LB")
        .str.replace(r"^(O|OZS?|OUNCES?)$", "OZ"),
        pl.col("tracking_number_raw").str.strip_chars(),
    )
    amount = parse_decimal(raw, "amount", t.MONEY, "amount")
    missing = amount.is_null()
    if missing.any():
        i = int(missing.arg_true()[0])
        raise BillParseError("invalid_value", "charge line has no amount", raw["locator"][i])
    if row_totals is not None:
        check_row_totals(row_totals, amount, decimal_comma)
    return raw, amount


def _typed_lines(
    raw: pl.DataFrame,
    amount: pl.Series,
    date_format: str | None,
    charge_rules: tuple[tuple[str, str], ...],
    code_map: dict[str, str] | None,
) -> pl.DataFrame:
    """Cleaned text lines -> typed values: amount, weight (and kg), date, charge type,
    normalised tracking number, line number (1-based, per bill)."""
    weight = parse_decimal(raw, "billed_weight", t.WEIGHT_KG, "billed weight")
    lines = raw.with_columns(
        amount,
        weight,
        _dates(raw, date_format),
        charge_type_expr(charge_rules, code_map).alias("charge_type"),
        normalise_tracking(pl.col("tracking_number_raw")).alias("tracking_number"),
        pl.when(weight.is_not_null())
        .then(pl.col("weight_unit").fill_null("KG"))
        .alias("weight_unit"),
        pl.col("zone").str.strip_chars(),
        pl.col("destination_country").str.strip_chars().str.to_uppercase(),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("line_number"),
    )
    return lines.with_columns(_weight_kg(lines["billed_weight"], lines["weight_unit"]))


def _with_bill_and_provenance(lines: pl.DataFrame, bill: RawBill, prov: Provenance) -> pl.DataFrame:
    """Every line carries its bill's key fields and the parse's provenance, in the
    bill_lines contract's columns and dtypes."""
    lines = lines.with_columns(
        pl.lit(prov.source_sha256).alias("source_sha256"),
        pl.lit(bill.carrier).alias("carrier"),
        pl.lit(bill.bill_number).alias("bill_number"),
        pl.lit(bill.bill_date, dtype=pl.Date).alias("bill_date"),
        pl.lit(bill.currency).alias("currency"),
        pl.lit(prov.parser).alias("parser"),
        pl.lit(prov.parser_version).alias("parser_version"),
        pl.lit(prov.template_id, dtype=pl.String).alias("template_id"),
    )
    return lines.select([pl.col(c.name).cast(c.dtype) for c in BILL_LINES.columns])


def _stated_total(text: str | None, decimal_comma: bool, where: str) -> Decimal | None:
    """The bill's printed total as money, by the same separator rules as its lines."""
    if text is None:
        return None
    stated_frame = pl.DataFrame({"t": [text], "locator": ["stated total"]})
    refuse_misfits(stated_frame.rename({"t": "stated_total"}), "stated_total", decimal_comma, where)
    stated_frame = stated_frame.with_columns(clean_number(pl.col("t"), decimal_comma).alias("t"))
    return parse_decimal(stated_frame, "t", t.MONEY, "stated total")[0]
