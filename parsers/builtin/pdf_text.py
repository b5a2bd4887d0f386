"""Template engine for PDF bills: one regex per printed row, or ruled tables.

Carrier PDF statements print one charge per text line, repeat the column header
on every page, continue the table across pages and end with a summary page. The
template names the table region (start/end regexes, found on every page), the
row regex (named groups = fields) and the pages to skip. Inside the region every
non-blank line must be a row or match `ignore_lines_matching`: a line the
template cannot read is an error with its page and line, never silently dropped.
Bills printed as ruled tables are read with pdfplumber's table finder instead
(`pdf_tables: true`, optional `table_settings` and a `crop` region).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pdfplumber
import polars as pl
from pdfminer.pdfparser import PDFSyntaxError
from pdfplumber.utils.exceptions import PdfminerException
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from parsers.base import Candidate, ParseContext, Sniff, TemplateParser
from parsers.builtin.template_engine import (
    build_bill,
    clean_cells,
    finish,
    header_names,
    header_value,
    lines_from_cells,
    record,
    template_sniff,
)
from parsers.model import BillParseError, ParseResult
from parsers.templates_schema import FieldRule, ReadOptions, Template


def page_texts(
    path: Path, name: str, layout: bool, first_only: bool = False, engine: str = "pdfplumber"
) -> list[str]:
    """Text of each page. pdfplumber (optionally with layout) is the reference; pypdf is an
    opt-in for templates whose rows it reads identically (a test checks the demo's)."""
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        if engine == "pypdf":
            pages = PdfReader(path).pages
            pages = pages[:1] if first_only else pages
            return [page.extract_text() or "" for page in pages]
        with pdfplumber.open(path) as pdf:
            plumber_pages = pdf.pages[:1] if first_only else pdf.pages
            return [page.extract_text(layout=layout) or "" for page in plumber_pages]
    except (
        PdfminerException,
        PDFSyntaxError,
        PdfReadError,
        ValueError,
        KeyError,
        TypeError,
    ) as exc:
        raise BillParseError("corrupt_pdf", f"{name} cannot be read as a PDF: {exc}") from exc


def table_rows(pages: list[str], read: ReadOptions, line_regex: str) -> pl.DataFrame:
    """Cells of the lines that `line_regex` (the template's `read.line_regex`) matches."""
    record("pages", pages)
    row_re = re.compile(line_regex)
    start = re.compile(read.table_start) if read.table_start else None
    end = re.compile(read.table_end) if read.table_end else None
    skip_page = (
        re.compile(read.skip_pages_matching, re.MULTILINE) if read.skip_pages_matching else None
    )
    ignore = re.compile(read.ignore_lines_matching) if read.ignore_lines_matching else None
    rows: list[dict[str, str | None]] = []
    for p, text in enumerate(pages, start=1):
        if skip_page and skip_page.search(text):
            continue
        lines = text.splitlines()
        begin = 0
        if start:
            hits = [i for i, line in enumerate(lines) if start.search(line)]
            if not hits:
                continue
            begin = hits[0] + 1
        r = 0
        for i in range(begin, len(lines)):
            line = lines[i].strip()
            if end and end.search(line):
                break
            m = row_re.search(line)
            if m:
                r += 1
                rows.append({**m.groupdict(), "locator": f"page={p};row={r}"})
            elif (
                line and not (ignore and ignore.search(line)) and not (start and start.search(line))
            ):
                raise BillParseError(
                    "unrecognised_row",
                    f"table line does not match the row pattern: {line[:80]!r}",
                    f"page={p};line={i + 1}",
                )
    groups = list(row_re.groupindex)
    schema = {**{g: pl.String for g in groups}, "locator": pl.String}
    return clean_cells(pl.DataFrame(rows, schema=schema), read.null_values)


def ruled_table_rows(path: Path, name: str, template: Template) -> tuple[pl.DataFrame, list[str]]:
    """Rows of the ruled tables on every page (pdfplumber), with the page texts.

    The header row (the first row holding `header_contains`) names the columns; the
    same row repeated on later pages is skipped; rows before it are not table content.
    A row whose cell count differs from the header's is an error with its place.
    """
    read = template.read
    skip_page = (
        re.compile(read.skip_pages_matching, re.MULTILINE) if read.skip_pages_matching else None
    )
    names: list[str] | None = None
    rows: list[list[str | None]] = []
    texts: list[str] = []
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    try:
        with pdfplumber.open(path) as pdf:
            for p, page in enumerate(pdf.pages, start=1):
                text = page.extract_text() or ""
                texts.append(text)
                record("pages", [text])
                if skip_page and skip_page.search(text):
                    continue
                region = page.crop(read.crop) if read.crop else page
                r = 0
                for table in region.extract_tables(read.table_settings or None):
                    for raw in table:
                        row = [" ".join((c or "").split()) or None for c in raw]
                        if read.header_contains and any(
                            read.header_contains in (c or "") for c in row
                        ):
                            names = names or header_names(pl.DataFrame([row], orient="row"))
                            continue
                        if names is None:
                            continue
                        r += 1
                        if len(row) != len(names):
                            raise BillParseError(
                                "unrecognised_row",
                                f"table row has {len(row)} cells, the header has {len(names)}",
                                f"page={p};row={r}",
                            )
                        rows.append([*row, f"page={p};row={r}"])
    except (PdfminerException, PDFSyntaxError, ValueError, KeyError, TypeError) as exc:
        raise BillParseError("corrupt_pdf", f"{name} cannot be read as a PDF: {exc}") from exc
    if names is None:
        raise BillParseError(
            "missing_columns", f"no table row contains {read.header_contains!r}", "header"
        )
    schema = {**{n: pl.String for n in names}, "locator": pl.String}
    cells = pl.DataFrame(rows, schema=schema, orient="row")
    return clean_cells(cells, read.null_values), texts


class PdfTextTemplateEngine(TemplateParser):
    name = "template-pdf"
    version = "2"
    formats = ("pdf",)
    description = "PDF bills by template: row regex over pdfplumber text, page-aware"

    def sniff_with(self, candidate: Candidate, template: Template) -> Sniff:
        if not candidate.head.startswith(b"%PDF"):
            return Sniff(0.0, f"{template.id}: not a PDF")

        def text() -> str:
            key = ("pdf-page1", template.read.layout_text, template.read.text_engine)
            if key not in candidate.extras:
                try:
                    candidate.extras[key] = page_texts(
                        candidate.path,
                        candidate.name,
                        template.read.layout_text,
                        True,
                        template.read.text_engine,
                    )[0]
                except (BillParseError, IndexError):
                    candidate.extras[key] = ""
            return candidate.extras[key]

        return template_sniff(candidate, template, text)

    def parse_with(self, path: Path, ctx: ParseContext, template: Template) -> ParseResult:
        read = template.read
        if read.pdf_tables:
            cells, pages = ruled_table_rows(path, ctx.source_name, template)
        elif read.line_regex:
            pages = page_texts(path, ctx.source_name, read.layout_text, engine=read.text_engine)
            cells = table_rows(pages, read, read.line_regex)
        else:
            raise BillParseError("template", f"{template.id}: give read.line_regex or pdf_tables")
        if cells.height == 0:
            raise BillParseError("no_lines", "no table row matched the row pattern on any page")
        lines = lines_from_cells(cells, template)
        full = "\n".join(pages)

        def value(rule: FieldRule | None, name: str) -> str | None:
            return header_value(
                rule, name, text=lambda: full, null_values=template.read.null_values
            )

        return finish(self, template, ctx, build_bill(template, lines, value))
