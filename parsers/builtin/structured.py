"""Template engines for XML bills (streamed) and JSON API bills.

XML is read with the hardened, streaming reader (parsers/safe_xml.py): one
element per charge is extracted and then freed, so a bill of hundreds of MB
runs in bounded memory. Header fields in a streamed bill name an element
(optionally '/@attribute'); the first occurrence is used wherever it sits.

JSON is an API response or the connector's envelope of pages; paths are dotted
with `[*]` (every item), `[N]` (one item) and `|json` (the value is JSON text,
e.g. a saved response body). Numbers are read as decimals, never floats.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from lxml import etree

from parsers.base import Candidate, ParseContext, Sniff, TemplateParser
from parsers.builtin.template_engine import (
    build_bill,
    clean_cells,
    finish,
    header_value,
    line_sources,
    lines_from_cells,
    template_sniff,
)
from parsers.encoding import decode_text
from parsers.model import BillParseError, ParseResult
from parsers.safe_xml import iter_elements
from parsers.templates_schema import FieldRule, Template

CHUNK_ROWS = 10_000


def clark(name: str, namespaces: dict[str, str]) -> str:
    """'ns:Charge' -> '{urn:...}Charge' using the template's prefixes."""
    if ":" not in name:
        return name
    prefix, local = name.split(":", 1)
    if prefix not in namespaces:
        raise BillParseError("template", f"namespace prefix {prefix!r} is not declared")
    return f"{{{namespaces[prefix]}}}{local}"


_SIMPLE = re.compile(r"^(?P<child>(?:\w+:)?[\w.-]+)?(?:/?@(?P<attr>[\w.-]+))?$")


def accessor(source: str, namespaces: dict[str, str]) -> Callable[[etree._Element], str | None]:
    """A reader for one line field: a plain child ('px:Amount') or attribute
    ('px:Weight/@unit', '@seq') uses find/get, several times faster per element than
    XPath; anything else is a compiled XPath."""
    m = _SIMPLE.match(source)
    if m and (m["child"] or m["attr"]):
        child = clark(m["child"], namespaces) if m["child"] else None
        attr = m["attr"]

        def read(el: etree._Element) -> str | None:
            node = el.find(child) if child else el
            if node is None:
                return None
            value = node.get(attr) if attr else node.text
            return value.strip() or None if value is not None else None

        return read
    xpath = etree.XPath(source, namespaces=namespaces)
    return lambda el: _xpath_text(xpath(el))


def _xpath_text(result: Any) -> str | None:
    if isinstance(result, list):
        if not result:
            return None
        result = result[0]
    if isinstance(result, etree._Element):
        return (result.text or "").strip() or None
    return str(result) if result is not None else None


class XmlTemplateEngine(TemplateParser):
    name = "template-xml"
    version = "2"
    formats = ("xml",)
    description = "XML bills by template: streamed, hardened, namespaced XPaths"

    def sniff_with(self, candidate: Candidate, template: Template) -> Sniff:
        if not candidate.text.lstrip("\ufeff \r\n\t").startswith("<"):
            return Sniff(0.0, f"{template.id}: not XML")
        return template_sniff(candidate, template, lambda: candidate.text)

    def parse_with(self, path: Path, ctx: ParseContext, template: Template) -> ParseResult:
        ns = template.read.namespaces
        if not template.read.line_element:
            raise BillParseError("template", f"{template.id}: read.line_element is required")
        line_tag = clark(template.read.line_element, ns)
        header_tags: dict[str, tuple[str, str | None]] = {}
        for field in type(template.bill).model_fields:
            rule = getattr(template.bill, field)
            if rule is not None and rule.xpath:
                step, _, attr = rule.xpath.lstrip("/").partition("/@")
                header_tags[rule.xpath] = (clark(step.split("/")[-1], ns), attr or None)
        sources = line_sources(template)
        compiled = {s: accessor(s, ns) for s in sources}
        schema = {**{s: pl.String for s in sources}, "locator": pl.String}
        columns: dict[str, list[str | None]] = {s: [] for s in [*sources, "locator"]}
        chunks: list[pl.DataFrame] = []
        found: dict[str, str | None] = {}
        base, count = "", 0
        tags = (line_tag, *{t for t, _ in header_tags.values()})
        for el in iter_elements(path, tags, ctx.source_name):
            if el.tag == line_tag:
                if not base:
                    names = [etree.QName(a).localname for a in el.iterancestors()][::-1]
                    base = "/" + "/".join([*names, etree.QName(el).localname])
                for s, read in compiled.items():
                    columns[s].append(read(el))
                count += 1
                columns["locator"].append(f"xpath={base}[{count}]")
                if count % CHUNK_ROWS == 0:  # Arrow columns, not Python strings, hold the bulk
                    chunks.append(pl.DataFrame(columns, schema=schema))
                    columns = {s: [] for s in columns}
                continue
            for key, (tag, attr) in header_tags.items():
                if tag == el.tag and key not in found:
                    found[key] = el.get(attr) if attr else (el.text or "").strip()
        chunks.append(pl.DataFrame(columns, schema=schema))
        cells = pl.concat(chunks)
        cells = clean_cells(cells, template.read.null_values)
        lines = lines_from_cells(cells, template)

        def value(rule: FieldRule | None, name: str) -> str | None:
            return header_value(
                rule, name, text=lambda: "", lookup=lambda r: found.get(r.xpath or "")
            )

        return finish(self, template, ctx, build_bill(template, lines, value))


_STEP = re.compile(r"^(?P<key>[^\[|]*)(?:\[(?P<index>\*|\d+)\])?(?P<json>\|json)?$")


def walk(value: Any, path: str, trail: tuple[int, ...] = ()) -> list[tuple[Any, tuple[int, ...]]]:
    """Evaluate a dotted path; returns (value, indices of every [*] passed)."""
    path = path.removeprefix("$").removeprefix(".")
    if not path:
        return [(value, trail)]
    step, _, rest = path.partition(".")
    m = _STEP.match(step)
    if m is None:
        raise BillParseError("template", f"bad JSON path step {step!r}")
    if m["key"]:
        if not isinstance(value, dict) or m["key"] not in value:
            return []
        value = value[m["key"]]
    items: list[tuple[Any, tuple[int, ...]]]
    if m["index"] == "*":
        if not isinstance(value, list):
            return []
        items = [(v, (*trail, i)) for i, v in enumerate(value)]
    elif m["index"] is not None:
        i = int(m["index"])
        items = [(value[i], trail)] if isinstance(value, list) and i < len(value) else []
    else:
        items = [(value, trail)]
    out = []
    for v, t in items:
        if m["json"]:
            v = _loads(v if isinstance(v, str) else "", f"path {step}")
        out.extend(walk(v, rest, t))
    return out


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise BillParseError(
            "malformed_json", f"{where}: {exc.msg}", f"line={exc.lineno};col={exc.colno}"
        ) from exc


def _scalar(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class JsonTemplateEngine(TemplateParser):
    name = "template-json"
    version = "2"
    formats = ("json",)
    description = "JSON API bills by template (dotted paths, [*], |json for saved bodies)"

    def sniff_with(self, candidate: Candidate, template: Template) -> Sniff:
        if not candidate.text.lstrip("\ufeff \r\n\t").startswith(("{", "[")):
            return Sniff(0.0, f"{template.id}: not JSON")
        return template_sniff(candidate, template, lambda: candidate.text)

    def parse_with(self, path: Path, ctx: ParseContext, template: Template) -> ParseResult:
        doc = _loads(decode_text(path.read_bytes(), ctx.source_name), ctx.source_name)
        doc = _inline_base64(doc)
        if not template.read.lines_path:
            raise BillParseError("template", f"{template.id}: read.lines_path is required")
        items = walk(doc, template.read.lines_path)
        sources = line_sources(template)
        fmt = template.read.locator_format
        rows = []
        for item, trail in items:
            row = {s: _scalar(walk(item, s)[0][0]) if walk(item, s) else None for s in sources}
            marks = {f"i{k}": i for k, i in enumerate(trail)} | {
                f"n{k}": i + 1 for k, i in enumerate(trail)
            }
            row["locator"] = fmt.format(**marks) if fmt else "index=" + ".".join(map(str, trail))
            rows.append(row)
        schema = {**{s: pl.String for s in sources}, "locator": pl.String}
        cells = clean_cells(pl.DataFrame(rows, schema=schema), template.read.null_values)
        lines = lines_from_cells(cells, template)

        def lookup(rule: FieldRule) -> str | None:
            hits = walk(doc, rule.path or "")
            return _scalar(hits[0][0]) if hits else None

        def value(rule: FieldRule | None, name: str) -> str | None:
            return header_value(rule, name, text=lambda: "", lookup=lookup)

        return finish(self, template, ctx, build_bill(template, lines, value))


def _inline_base64(doc: Any) -> Any:
    """Envelope pages whose body was not UTF-8 carry `body_base64`: decode it to `body`."""
    if isinstance(doc, dict) and isinstance(doc.get("pages"), list):
        for page in doc["pages"]:
            if isinstance(page, dict) and "body" not in page and "body_base64" in page:
                raw = base64.b64decode(page["body_base64"])
                try:
                    page["body"] = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise BillParseError(
                        "undecodable_text",
                        f"API page {page.get('api_page')} body is not UTF-8: byte "
                        f"{raw[exc.start : exc.start + 1]!r} at offset {exc.start}",
                        f"api_page={page.get('api_page')};byte={exc.start}",
                    ) from exc
    return doc
