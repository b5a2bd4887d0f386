"""Template engines for CSV and Excel bills (Polars; fastexcel/calamine for .xlsx).

Everything is read as text (a tracking number '0012345678' must keep its zeros,
an amount must never pass through a float), the header row is found by its
text (title rows and multi-row, merged, Chinese headers are common), and
total/summary rows are set aside by a marker column rather than guessed.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import fastexcel
import polars as pl

from parsers.base import Candidate, ParseContext, Parser, Sniff, TemplateParser
from parsers.builtin.template_engine import (
    build_bill,
    clean_cells,
    finish,
    header_names,
    header_value,
    lines_from_cells,
    record,
    template_sniff,
    unmapped_charge_columns,
)
from parsers.encoding import decode_text
from parsers.model import BillParseError, ParseResult
from parsers.templates_schema import Template

DELIMITERS = (",", ";", "\t", "|")
SNIFF_ROWS = 40


def grid_text(grid: pl.DataFrame) -> str:
    """The grid as tab-separated text, for header regexes over title blocks."""
    joined = grid.select(
        pl.concat_str([pl.col(c).fill_null("") for c in grid.columns], separator="\t")
    ).to_series()
    return "\n".join(joined.to_list())


def _header_row(grid: pl.DataFrame, template: Template) -> int:
    """Index of the (last) header row: the first holding `header_contains`, else by count."""
    read = template.read
    if not read.header_contains:
        return read.header_rows - 1
    hit = grid.with_row_index("_i").filter(
        pl.any_horizontal(
            pl.col(c).str.contains(read.header_contains, literal=True) for c in grid.columns
        )
    )
    if hit.height == 0:
        raise BillParseError(
            "missing_columns", f"no header row contains {read.header_contains!r}", "header"
        )
    return int(hit["_i"][0])


def split_grid(
    grid: pl.DataFrame, template: Template, first_row: int, sheet: str | None
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(preamble incl. header, data cells, total rows) from a header-less text grid.

    `first_row` is the file row number of the grid's first row (for locators).
    """
    read = template.read
    grid = grid.select(pl.col(c).cast(pl.String) for c in grid.columns)
    if read.column_names:
        # A header-less layout (UPS Billing Data): positions name the columns, all rows are data.
        header_at = -1
        names = [read.column_names.get(i + 1, f"column_{i + 1}") for i in range(grid.width)]
    else:
        header_at = _header_row(grid, template)
        start = max(0, header_at - read.header_rows + 1)
        names = header_names(grid.slice(start, header_at - start + 1))
    data = grid.slice(header_at + 1)
    data.columns = names
    where = f"sheet={sheet};row=" if sheet else "row="
    rows = pl.int_range(pl.len(), dtype=pl.Int64) + (first_row + header_at + 1)
    data = data.with_columns((pl.lit(where) + rows.cast(pl.String)).alias("locator"))
    data = clean_cells(data, read.null_values)
    total = data.clear()
    if read.total_row_column:
        if read.total_row_column not in data.columns:
            raise BillParseError(
                "missing_columns", f"total-row column {read.total_row_column!r} not found", "header"
            )
        marker = (
            pl.col(read.total_row_column).fill_null("").str.contains(read.total_row_regex or ".")
        )
        total, data = data.filter(marker), data.filter(~marker)
    return grid.slice(0, header_at + 1), data, total


def tabular_result(
    parser: Parser, template: Template, ctx: ParseContext, grid: pl.DataFrame, sheet: str | None
) -> ParseResult:
    record("grid", grid)
    preamble, cells, total = split_grid(grid, template, 1, sheet)
    text_cache: list[str] = []

    def text() -> str:
        if not text_cache:
            text_cache.append(grid_text(preamble) + "\n" + grid_text(total.drop("locator")))
        return text_cache[0]

    lines = lines_from_cells(cells, template)

    def value(rule, name):
        return header_value(
            rule, name, text=text, cells=cells, total=total, null_values=template.read.null_values
        )

    result = finish(parser, template, ctx, build_bill(template, lines, value))
    result.warnings.extend(unmapped_charge_columns(cells, template))
    return result


def read_csv_grid(path: Path, template: Template, name: str) -> pl.DataFrame:
    text = decode_text(path.read_bytes(), name, template.read.encoding)
    lines = text.splitlines()
    marker = template.read.header_contains
    header_line = next((x for x in lines if marker and marker in x), lines[0] if lines else "")
    delimiter = template.read.delimiter or max(DELIMITERS, key=header_line.count)
    # As wide as the widest row anywhere: a long row is kept whole, never truncated.
    width = max((line.count(delimiter) + 1 for line in lines), default=1)
    try:
        return pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            has_header=False,
            schema={f"c{i}": pl.String for i in range(width)},
            missing_columns="insert",  # title and total rows are shorter than the table
            separator=delimiter,
            truncate_ragged_lines=True,
        )
    except (pl.exceptions.ComputeError, pl.exceptions.SchemaError) as exc:
        raise BillParseError("malformed_csv", f"{name}: {str(exc).splitlines()[0]}") from exc


class CsvTemplateEngine(TemplateParser):
    name = "template-csv"
    version = "2"
    formats = ("csv",)
    description = "CSV bills by declarative template (encodings, delimiters, wide or long)"

    def sniff_with(self, candidate: Candidate, template: Template) -> Sniff:
        def first_row() -> list[str]:
            line = next((x for x in candidate.text.splitlines() if x.strip()), "")
            delimiter = template.read.delimiter or max(DELIMITERS, key=line.count)
            return next(csv.reader([line], delimiter=delimiter), [])

        return template_sniff(candidate, template, lambda: candidate.text, first_row)

    def parse_with(self, path: Path, ctx: ParseContext, template: Template) -> ParseResult:
        grid = read_csv_grid(path, template, ctx.source_name)
        return tabular_result(self, template, ctx, grid, None)


def read_xlsx_grid(path: Path, template: Template, name: str, n_rows: int | None = None):
    try:
        reader = fastexcel.read_excel(path)
        sheet = template.read.sheet if template.read.sheet is not None else 0
        loaded = reader.load_sheet(
            sheet, header_row=None, skip_rows=0, n_rows=n_rows, dtypes="string"
        )
        sheet_name = loaded.name
        grid = loaded.to_polars()
    except Exception as exc:  # fastexcel raises its own error types per failure
        raise BillParseError("unreadable_xlsx", f"{name}: {type(exc).__name__}: {exc}") from exc
    grid.columns = [f"c{i}" for i in range(grid.width)]
    return grid, sheet_name


class XlsxTemplateEngine(TemplateParser):
    name = "template-xlsx"
    version = "2"
    formats = ("xlsx",)
    description = "Excel bills by declarative template (calamine via fastexcel)"

    def sniff_with(self, candidate: Candidate, template: Template) -> Sniff:
        def text() -> str:
            key = ("xlsx-text", template.read.sheet)
            if key not in candidate.extras:
                try:
                    grid, _ = read_xlsx_grid(candidate.path, template, candidate.name, SNIFF_ROWS)
                    candidate.extras[key] = grid_text(grid)
                except BillParseError:
                    candidate.extras[key] = ""
            return candidate.extras[key]

        return template_sniff(candidate, template, text)

    def parse_with(self, path: Path, ctx: ParseContext, template: Template) -> ParseResult:
        grid, sheet = read_xlsx_grid(path, template, ctx.source_name)
        return tabular_result(self, template, ctx, grid, sheet)
