"""Bill parsing throughput (issue 4, item 8). Figures: docs/performance/parsing.md.

    uv run python -m benchmarks.parsing --scale small   # seconds, while developing
    uv run python -m benchmarks.parsing --scale full    # the documented figures

Measures, each in the same run:
- PDF: pages per second of the Yanwen template parse (text + regex rows +
  canonical frames) against plain pdfplumber `extract_tables()` and
  `extract_text()` over the same file;
- XML: lines per second and peak RSS streaming a generated 4PX statement of
  ~200 MB (full scale), parsed in a child process so its peak RSS is its own;
- CSV (DHL MyBill wide) and XLSX (YunExpress) lines per second;
- many files: `ingest_many` on 1 worker and on 2 (both cores).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pdfplumber
import psutil

from demo.bills import write_bills
from demo.bills.samples import sample_bills
from parsers.base import ParseContext
from parsers.builtin.pdf_text import PdfTextTemplateEngine
from parsers.ingest import ingest_many, sha256_of
from parsers.registry import Registry
from storage.layout import DataLayout

SCALES = {
    "small": {
        "pdf_shipments": 300,
        "xml_mb": 5,
        "csv_shipments": 5_000,
        "xlsx_shipments": 2_000,
        "files": 12,
        "many_shipments": 100,
    },
    "full": {
        "pdf_shipments": 2_000,
        "xml_mb": 200,
        "csv_shipments": 100_000,
        "xlsx_shipments": 20_000,
        "files": 40,
        "many_shipments": 1_000,
    },
}
NS = "urn:4px:billing:statement:1.0"
PLACEHOLDER = "@" * 20
CHARGE = (
    '    <Charge seq="{n}">\n      <WaybillNo>4PX{t:013d}CN</WaybillNo>\n'
    "      <ShipDate>2026-01-{d:02d}</ShipDate>\n"
    "      <DestinationCountry>US</DestinationCountry>\n"
    '      <Zone>3</Zone>\n      <ChargeableWeight unit="KG">{w}</ChargeableWeight>\n'
    "      <FeeCode>FRT</FeeCode>\n      <FeeName>运费</FeeName>\n"
    '      <Amount currency="CNY">{a}</Amount>\n    </Charge>\n'
)


def write_big_xml(path: Path, megabytes: int) -> int:
    """A 4PX statement (demo/bills/FORMATS.md) of about `megabytes`, written as a stream."""
    target, n, total_cents = megabytes * 1024 * 1024, 0, 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write(f"<?xml version='1.0' encoding='UTF-8'?>\n<BillStatement xmlns=\"{NS}\">\n")
        fh.write("  <StatementHeader>\n    <StatementNo>FOU-BIG-1</StatementNo>\n")
        fh.write("    <StatementDate>2026-02-01</StatementDate>\n    <Currency>CNY</Currency>\n")
        fh.write(
            f"    <TotalAmount>{PLACEHOLDER}</TotalAmount>\n  </StatementHeader>\n  <ChargeList>\n"
        )
        while fh.tell() < target:
            block = []
            for _ in range(1000):
                n += 1
                cents = 100 + (n * 7919) % 90000
                total_cents += cents
                block.append(
                    CHARGE.format(
                        n=n,
                        t=n,
                        d=1 + n % 28,
                        w=f"{n % 30}.{n % 1000:03d}",
                        a=f"{cents // 100}.{cents % 100:02d}",
                    )
                )
            fh.write("".join(block))
        fh.write("  </ChargeList>\n</BillStatement>\n")
    total = f"{total_cents // 100}.{total_cents % 100:02d}".rjust(len(PLACEHOLDER))
    with path.open("r+b") as fh:  # same width, patched in place; the parser strips spaces
        at = fh.read(4096).index(PLACEHOLDER.encode())
        fh.seek(at)
        fh.write(total.encode())
    return n


def _parse(registry: Registry, path: Path):
    ctx = ParseContext(sha256_of(path), path.name)
    start = time.perf_counter()
    _, result = registry.parse(path, ctx)
    return result, time.perf_counter() - start


def bench_pdf(registry: Registry, root: Path, shipments: int) -> dict:
    """Our parse (with the template's pypdf text, and forced to pdfplumber text) against
    plain pdfplumber table and text extraction of the same file."""
    headers, lines = sample_bills("YANWEN", shipments_per_bill=(shipments,))
    (path,) = write_bills("YANWEN", headers, lines, DataLayout(root))
    result, ours = _parse(registry, path)
    template = registry.template("yanwen-statement-pdf")
    plumber = template.model_copy(
        update={"read": template.read.model_copy(update={"text_engine": "pdfplumber"})}
    )
    ctx = ParseContext(sha256_of(path), path.name)
    start = time.perf_counter()
    PdfTextTemplateEngine().parse(path, ctx, plumber)
    ours_plumber = time.perf_counter() - start
    start = time.perf_counter()
    with pdfplumber.open(path) as pdf:
        pages = len(pdf.pages)
        for page in pdf.pages:
            page.extract_tables()
    tables = time.perf_counter() - start
    start = time.perf_counter()
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            page.extract_text()
    text = time.perf_counter() - start
    return {
        "pages": pages,
        "lines": result.lines.height,
        "reckon_pages_per_s": pages / ours,
        "reckon_pdfplumber_text_pages_per_s": pages / ours_plumber,
        "pdfplumber_tables_pages_per_s": pages / tables,
        "pdfplumber_text_pages_per_s": pages / text,
    }


def xml_child(path: str) -> None:
    """Run in a child process: parse one XML bill, report time, lines and its RSS: after
    imports, and the peak while parsing (sampled every 10 ms by a thread, because
    ru_maxrss survives fork+exec on Linux and would report the parent's peak)."""
    registry = Registry.default(use_entry_points=False)
    me = psutil.Process()
    before = me.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], me.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result, seconds = _parse(registry, Path(path))
    done.set()
    sampler.join()
    peak[0] = max(peak[0], me.memory_info().rss)
    print(
        json.dumps(
            {
                "lines": result.lines.height,
                "seconds": seconds,
                "output_frames_mb": (
                    result.lines.estimated_size() + result.headers.estimated_size()
                )
                / 2**20,
                "rss_after_imports_mb": before / 2**20,
                "peak_rss_mb": peak[0] / 2**20,
            }
        )
    )


def dom_child(path: str) -> None:
    """For comparison: the same file as one lxml tree (what a non-streaming parser holds)."""
    from lxml import etree

    me = psutil.Process()
    before = me.memory_info().rss
    start = time.perf_counter()
    tree = etree.parse(path, etree.XMLParser(resolve_entities=False, huge_tree=True))
    seconds = time.perf_counter() - start
    peak = me.memory_info().rss
    del tree
    print(json.dumps({"seconds": seconds, "tree_rss_mb": (peak - before) / 2**20}))


def _child(flag: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.parsing", flag, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_xml(root: Path, megabytes: int) -> dict:
    path = root / "FOU-BIG-1.xml"
    written = write_big_xml(path, megabytes)
    report = _child("--xml-child", path)
    dom = _child("--xml-dom-child", path)
    assert report["lines"] == written, (report, written)
    return {
        "file_mb": path.stat().st_size / 2**20,
        **report,
        "dom_tree_only_mb": dom["tree_rss_mb"],
        "lines_per_s": report["lines"] / report["seconds"],
    }


def bench_tabular(registry: Registry, root: Path, carrier: str, shipments: int) -> dict:
    headers, lines = sample_bills(carrier, shipments_per_bill=(shipments,))
    (path,) = write_bills(carrier, headers, lines, DataLayout(root))
    result, seconds = _parse(registry, path)
    return {
        "file_mb": path.stat().st_size / 2**20,
        "lines": result.lines.height,
        "seconds": seconds,
        "lines_per_s": result.lines.height / seconds,
    }


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def cpu_control(n: int = 10_000_000) -> float:
    """Speedup of a pure-Python CPU loop on 2 processes vs 1: how many cores this machine
    actually gives us right now (other work on a shared host shows up here)."""
    start = time.perf_counter()
    _burn(n)
    _burn(n)
    sequential = time.perf_counter() - start
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_burn, [10, 10]))
        start = time.perf_counter()
        list(pool.map(_burn, [n, n]))
        parallel = time.perf_counter() - start
    return sequential / parallel


def bench_many(registry: Registry, root: Path, files: int, shipments: int) -> dict:
    """Many bills of the four file formats, on one worker and on two (spawned processes:
    each pays the imports once, so the gain shows when the batch outweighs ~2 s)."""
    layout, paths = DataLayout(root), []
    carriers = ("DHL", "FOURPX", "YUNEXPRESS", "YANWEN")
    for i in range(files):
        carrier = carriers[i % len(carriers)]
        headers, lines = sample_bills(carrier, shipments_per_bill=(shipments,), seed=i)
        headers = headers.with_columns(headers["bill_number"] + f"-{i}")
        lines = lines.with_columns(lines["bill_number"] + f"-{i}")
        paths += write_bills(carrier, headers, lines, layout)
    out = {}
    for workers in (1, 2):
        store = root / f"store{workers}"
        start = time.perf_counter()
        outcomes = ingest_many(
            paths, store / "raw", store / "q", registry=registry, workers=workers
        )
        seconds = time.perf_counter() - start
        assert all(o.status == "parsed" for o in outcomes), [o.reason for o in outcomes]
        out[f"files_per_s_{workers}_worker"] = len(paths) / seconds
    out["files"] = len(paths)
    out["control_cpu_speedup"] = cpu_control()
    out["speedup"] = out["files_per_s_2_worker"] / out["files_per_s_1_worker"]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--only", nargs="+", default=["pdf", "xml", "csv", "xlsx", "many"])
    parser.add_argument("--xml-child", help=argparse.SUPPRESS)
    parser.add_argument("--xml-dom-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.xml_child:
        xml_child(args.xml_child)
        return
    if args.xml_dom_child:
        dom_child(args.xml_dom_child)
        return
    scale = SCALES[args.scale]
    registry = Registry.default(use_entry_points=False)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        benches = {
            "pdf": lambda: bench_pdf(registry, root / "pdf", scale["pdf_shipments"]),
            "xml": lambda: bench_xml(root, scale["xml_mb"]),
            "csv": lambda: bench_tabular(registry, root / "csv", "DHL", scale["csv_shipments"]),
            "xlsx": lambda: bench_tabular(
                registry, root / "xlsx", "YUNEXPRESS", scale["xlsx_shipments"]
            ),
            "many": lambda: bench_many(
                registry, root / "many", scale["files"], scale["many_shipments"]
            ),
        }
        results = {name: run() for name, run in benches.items() if name in args.only}
    for name, figures in results.items():
        shown = ", ".join(
            f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v:,}" for k, v in figures.items()
        )
        print(f"{name}: {shown}")


if __name__ == "__main__":
    main()
