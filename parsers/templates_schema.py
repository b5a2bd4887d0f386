"""The declarative bill template: a carrier layout as data, validated with clear errors.

Most carriers need no code (issue 4: a template engine covers 80%+): a template
says how to recognise the file, where the header fields are, and how each
charge line is read: columns (wide bills unpivoted, long bills with a charge
column), XPaths for XML, JSON paths for API responses, regexes for PDF text.
`extra="forbid"` everywhere so a typo in a template is an error that names the
field, not a silently ignored setting.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipelines.contracts.bills import CHARGE_TYPES
from storage.config import ConfigError, load_yaml_model

FORMATS = ("csv", "xlsx", "xml", "json", "pdf")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldRule(_Strict):
    """Where one value comes from; exactly one source.

    column: a column of the table (tabular) | xpath: relative to the line element or
    the document (xml) | path: dotted JSON path (json) | regex: first group over the
    file's text (pdf and header fields everywhere) | const: a literal.
    """

    column: str | None = None
    xpath: str | None = None
    path: str | None = None
    regex: str | None = None
    const: str | None = None
    format: str | None = Field(default=None, description="strptime format for dates")
    total_row: bool = Field(
        default=False, description="header field read from the total row (tabular)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> FieldRule:
        given = [k for k in ("column", "xpath", "path", "regex", "const") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of column/xpath/path/regex/const, got {given}")
        return self


class WideCharge(_Strict):
    """One amount column of a wide bill, or numbered code/description/amount groups.

    amount_column: 'Fuel Surcharge' with a fixed type/code/description, or with
    `pairs: N` the patterns 'Charge {n} Amount', code_column 'Charge {n} Code',
    description_column 'Charge {n} Description' for n = 1..N (DHL/FedEx style).
    Empty amount cells are unused slots, not charges.
    """

    amount_column: str
    code_column: str | None = None
    type: str | None = None
    code: str | None = None
    description: str | None = None
    description_column: str | None = None
    pairs: int | None = Field(default=None, ge=1)
    repeated: int | None = Field(
        default=None,
        ge=1,
        description="the same titles printed up to N times (FedEx): slot 1 reads the title, "
        "slot n its n-th copy ('Title_n', as header rows name repeats); fewer copies is fine",
    )

    @model_validator(mode="after")
    def _one_numbering(self) -> WideCharge:
        if self.pairs is not None and self.repeated is not None:
            raise ValueError("give `pairs` (numbered titles) or `repeated` (one title N times)")
        if self.pairs is not None and "{n}" not in self.amount_column:
            raise ValueError(f"`pairs` needs '{{n}}' in amount_column {self.amount_column!r}")
        return self

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str | None) -> str | None:
        if v is not None and v not in CHARGE_TYPES:
            raise ValueError(f"type {v!r} is not one of {', '.join(CHARGE_TYPES)}")
        return v


class LongCharge(_Strict):
    """A long bill: one row per charge; code/description columns say which."""

    amount: FieldRule
    code: FieldRule | None = None
    description: FieldRule | None = None
    type: FieldRule | None = None


class ReadOptions(_Strict):
    encoding: Literal["auto", "utf-8", "utf-8-sig", "gb18030", "cp1252"] = "auto"
    delimiter: str | None = None
    header_contains: str | None = Field(
        default=None, description="the header row is the first row holding this text"
    )
    header_rows: int = 1
    column_names: dict[int, str] = Field(
        default_factory=dict,
        description="a header-less file (UPS Billing Data): column names by 1-based position; "
        "every row is data, unnamed positions are 'column_N'",
    )
    sheet: str | int | None = None
    total_row_column: str | None = Field(
        default=None, description="column whose value marks the total/summary row"
    )
    total_row_regex: str | None = None
    null_values: list[str] = Field(default_factory=list, description="cells meaning 'no value'")
    informational_columns: list[str] = Field(
        default_factory=list,
        description="columns that look like charges but are not lines (taxes of a "
        "tax-exclusive bill, subtotals), so never reported as unmapped; '{n}' is any number",
    )
    decimal_separator: Literal[".", ","] = Field(
        default=".",
        description="the bill's decimal mark; an amount that does not fit it is refused",
    )
    decimal_comma: bool = Field(default=False, description="same as decimal_separator: ','")
    date_format: str | None = None
    namespaces: dict[str, str] = Field(default_factory=dict)
    line_element: str | None = Field(default=None, description="xml: one element per charge")
    lines_path: str | None = Field(default=None, description="json: 'data.charges[*]'")
    skip_pages_matching: str | None = Field(default=None, description="pdf: summary pages")
    line_regex: str | None = Field(default=None, description="pdf: named groups per line")
    table_start: str | None = None
    table_end: str | None = None
    ignore_lines_matching: str | None = Field(
        default=None, description="pdf: lines inside the table region that are not charges"
    )
    layout_text: bool = Field(default=False, description="pdf: pdfplumber layout=True text")
    pdf_tables: bool = Field(
        default=False, description="pdf: read ruled tables (pdfplumber) instead of row regexes"
    )
    table_settings: dict[str, Any] = Field(
        default_factory=dict, description="pdf: pdfplumber table settings"
    )
    crop: tuple[float, float, float, float] | None = Field(
        default=None, description="pdf: page region (x0, top, x1, bottom) in points"
    )
    text_engine: Literal["pdfplumber", "pypdf"] = Field(
        default="pdfplumber",
        description="pdf: pypdf is several times faster where it reads the same text",
    )
    locator_format: str | None = Field(
        default=None, description="json: e.g. 'api_page={n0};index={i1}' per [*] level"
    )

    @model_validator(mode="before")
    @classmethod
    def _one_separator(cls, data: Any) -> Any:
        """`decimal_comma: true` (the older spelling) declares decimal_separator ','."""
        if isinstance(data, dict) and data.get("decimal_comma"):
            if data.get("decimal_separator", ",") != ",":
                raise ValueError("decimal_comma: true contradicts decimal_separator: '.'")
            data = {**data, "decimal_separator": ","}
        return data

    @model_validator(mode="after")
    def _positions(self) -> ReadOptions:
        """Header-less columns: positions from 1, each name once, and no header row to find."""
        if not self.column_names:
            return self
        if self.header_contains is not None:
            raise ValueError("column_names is for header-less files: drop header_contains")
        low = [p for p in self.column_names if p < 1]
        if low:
            raise ValueError(f"column_names positions start at 1, got {low}")
        names = list(self.column_names.values())
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"column_names names {twice} at more than one position")
        return self


class LineRules(_Strict):
    tracking_number: FieldRule
    shipment_date: FieldRule | None = None
    billed_weight: FieldRule | None = None
    weight_unit: FieldRule | None = None
    zone: FieldRule | None = None
    destination_country: FieldRule | None = None
    charges: list[WideCharge] = Field(default_factory=list)
    charge: LongCharge | None = None
    row_total: FieldRule | None = Field(
        default=None, description="a row's printed total: its charges must add up to it"
    )
    currency: FieldRule | None = Field(
        default=None,
        description="a row's own currency: it must be the bill's (never converted or mixed)",
    )

    @model_validator(mode="after")
    def _wide_or_long(self) -> LineRules:
        if bool(self.charges) == (self.charge is not None):
            raise ValueError("give either `charges` (wide bill) or `charge` (long bill)")
        return self


class BillRules(_Strict):
    bill_number: FieldRule
    bill_date: FieldRule
    currency: FieldRule
    account: FieldRule | None = None
    period_start: FieldRule | None = None
    period_end: FieldRule | None = None
    stated_total: FieldRule | None = None


class MatchRules(_Strict):
    filename: str | None = Field(default=None, description="regex on the file name")
    contains: list[str] = Field(
        default_factory=list, description="literal texts that must all appear near the start"
    )
    first_row: dict[int, str] = Field(
        default_factory=dict,
        description="csv: regexes the first row's cells must match, by 1-based position "
        "(header-less layouts have no title to look for)",
    )


class ChargeRule(_Strict):
    """A keyword rule of the template's own, tried before the built-in ones: `match` is a
    regex over the charge's code and description joined by a space."""

    match: str
    type: str

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        if v not in CHARGE_TYPES:
            raise ValueError(f"type {v!r} is not one of {', '.join(CHARGE_TYPES)}")
        return v


class Template(_Strict):
    id: str
    version: int
    carrier: str
    format: Literal["csv", "xlsx", "xml", "json", "pdf"]
    description: str = ""
    match: MatchRules
    read: ReadOptions = Field(default_factory=ReadOptions)
    bill: BillRules
    lines: LineRules
    charge_map: dict[str, str] = Field(
        default_factory=dict, description="carrier charge code (exact) -> charge type"
    )
    charge_rules: list[ChargeRule] = Field(
        default_factory=list,
        description="after charge_map, before the built-in keyword rules (first match wins)",
    )
    source: str = ""
    digest: str = ""

    @field_validator("charge_map")
    @classmethod
    def _known_types(cls, v: dict[str, str]) -> dict[str, str]:
        for key, kind in v.items():
            if kind not in CHARGE_TYPES:
                raise ValueError(f"charge_map[{key!r}] = {kind!r} is not one of {CHARGE_TYPES}")
        return v

    @model_validator(mode="after")
    def _regexes(self) -> Template:
        """Every regex compiles, a header regex captures exactly the value it takes, and a
        PDF row regex names a group for every column the line rules read: errors here name
        the template and field instead of surfacing as a crash on the first bill."""
        patterns: list[tuple[str, str | None, int | None]] = [
            ("match.filename", self.match.filename, None),
            *(
                (f"read.{name}", getattr(self.read, name), None)
                for name in (
                    "total_row_regex",
                    "skip_pages_matching",
                    "table_start",
                    "table_end",
                    "ignore_lines_matching",
                    "line_regex",
                )
            ),
            *((f"match.first_row[{n}]", rx, None) for n, rx in self.match.first_row.items()),
            *((f"charge_rules[{i}].match", r.match, None) for i, r in enumerate(self.charge_rules)),
            *(
                (f"bill.{name}.regex", rule.regex, 1)
                for name, rule in self.bill
                if isinstance(rule, FieldRule) and rule.regex is not None
            ),
        ]
        compiled: dict[str, re.Pattern[str]] = {}
        for where, pattern, groups in patterns:
            if pattern is None:
                continue
            try:
                compiled[where] = re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"template {self.id!r}: {where} {pattern!r} does not compile: {exc}"
                ) from exc
            if groups is not None and compiled[where].groups != groups:
                raise ValueError(
                    f"template {self.id!r}: {where} {pattern!r} has "
                    f"{compiled[where].groups} capture groups; it needs exactly one, around "
                    "the value it takes (e.g. 'Currency: ([A-Z]{3})')"
                )
        if self.match.first_row and self.format != "csv":
            raise ValueError(f"template {self.id!r}: match.first_row is for csv templates")
        if self.read.column_names and self.format not in ("csv", "xlsx"):
            raise ValueError(f"template {self.id!r}: read.column_names is for csv/xlsx templates")
        row = compiled.get("read.line_regex")
        if row is not None and self.format == "pdf" and not self.read.pdf_tables:
            missing = [c for c in _line_columns(self.lines) if c not in row.groupindex]
            if missing:
                raise ValueError(
                    f"template {self.id!r}: lines read {missing}, but read.line_regex names "
                    f"only the groups {sorted(row.groupindex)}"
                )
        return self

    @property
    def key(self) -> str:
        """Template id and version plus a digest of its text: any edit changes it."""
        return f"{self.id}@{self.version}#{self.digest[:12]}"


def _line_columns(lines: LineRules) -> list[str]:
    """The cells columns the line rules read (for checking a row regex's groups)."""
    rules = [
        lines.tracking_number,
        lines.shipment_date,
        lines.billed_weight,
        lines.weight_unit,
        lines.zone,
        lines.destination_country,
        lines.row_total,
        lines.currency,
    ]
    if lines.charge:
        c = lines.charge
        rules += [c.amount, c.code, c.description, c.type]
    keys = [r.column for r in rules if r is not None and r.column]
    for wide in lines.charges:
        keys += [k for k in (wide.amount_column, wide.code_column, wide.description_column) if k]
    return list(dict.fromkeys(keys))


def load_template(path: Path) -> Template:
    """One template file, with its path and a digest of its exact bytes: the digest is part
    of the template's key, so any edit changes the registry fingerprint."""
    return load_yaml_model(
        path,
        Template,
        "template",
        derived=lambda text: {"source": str(path), "digest": hashlib.sha256(text).hexdigest()},
    )


def load_templates(folders: list[Path], errors: list[str] | None = None) -> list[Template]:
    """All `*.yaml`/`*.yml` in the folders; a duplicate id is an error (ambiguous choice).

    With `errors` given, an invalid template (or a second one with a known id) is reported
    there, naming its file, and skipped: one broken template must not stop the other
    carriers' bills. Without it the first error is raised (tests, `reckon parsers check`)."""
    found: dict[str, Template] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            try:
                template = load_template(path)
                if template.id in found:
                    raise ConfigError(
                        f"{path}: template id {template.id!r} already defined in "
                        f"{found[template.id].source}"
                    )
            except ConfigError as exc:
                if errors is None:
                    raise
                errors.append(f"template {path.name} skipped: {exc}")
                continue
            found[template.id] = template
    return list(found.values())
