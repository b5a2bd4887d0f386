"""PDF text engines: the Yanwen template's pypdf text gives the same lines as pdfplumber."""

from __future__ import annotations

import hashlib

import pytest

from demo.bills import write_bills
from demo.bills.samples import sample_bills
from parsers.base import ParseContext
from parsers.builtin.pdf_text import PdfTextTemplateEngine, page_texts
from storage.layout import DataLayout


@pytest.fixture(scope="module")
def statements(tmp_path_factory):
    headers, lines = sample_bills("YANWEN", shipments_per_bill=(70, 3), seed=11)
    return write_bills("YANWEN", headers, lines, DataLayout(tmp_path_factory.mktemp("y")))


def test_pypdf_and_pdfplumber_read_the_yanwen_statement_alike(registry, statements):
    template = registry.template("yanwen-statement-pdf")
    assert template.read.text_engine == "pypdf"
    plumber = template.model_copy(
        update={"read": template.read.model_copy(update={"text_engine": "pdfplumber"})}
    )
    engine = PdfTextTemplateEngine()
    for path in statements:
        assert page_texts(path, path.name, False, engine="pypdf") == page_texts(
            path, path.name, False, engine="pdfplumber"
        )
        ctx = ParseContext(hashlib.sha256(path.read_bytes()).hexdigest(), path.name)
        fast = engine.parse(path, ctx, template)
        reference = engine.parse(path, ctx, plumber)
        assert fast.lines.equals(reference.lines)
        assert fast.headers.equals(reference.headers)


def test_a_multi_page_statement_continues_its_table_and_skips_the_summary(registry, statements):
    path = statements[0]
    ctx = ParseContext(hashlib.sha256(path.read_bytes()).hexdigest(), path.name)
    _, result = registry.parse(path, ctx)
    pages = result.lines["locator"].str.extract(r"page=(\d+)").cast(int)
    n_pages = len(page_texts(path, path.name, False, engine="pypdf"))
    assert n_pages >= 3
    assert pages.min() == 1 and pages.max() == n_pages - 1  # last page is the summary
    assert result.lines["line_number"].to_list() == list(range(1, result.lines.height + 1))
