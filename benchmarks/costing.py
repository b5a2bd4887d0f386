"""Costing benchmark: set-based engine vs the row-by-row reference, full range and nightly.

    uv run python -m benchmarks.costing --sizes 1M            # engine + reference at 1M
    uv run python -m benchmarks.costing --sizes 10M --no-reference --chunks 16

For each size a ledger is generated (benchmarks/_costing_ledger.py: three years, tens of
thousands of SKUs) and written to Parquet; every measurement then runs in a fresh process
that reads the Parquet files, so its peak RSS (ru_maxrss) is that measurement's own:
1. full range: cost_range over all days but the last, from an empty state (the go-live
   initialisation; with --chunks, pipelines.costing.chunked in SKU chunks, each chunk's
   detail written to Parquet as it is done); its end state is saved;
2. nightly: the last day only, from that saved state, given only that day's movements
   (and the receipt lines its landed costs point at): what a nightly partition does;
3. nightly after one year: the same for day 366 from the state after day 365, to show the
   nightly cost follows the day's volume and the open layers, not the history length;
4. reference: tests/costing/reference.py over the same range as 1 (plain Python, Decimal),
   with the total COGS compared to the engine's to the cent.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import polars as pl

from benchmarks._measure import emit, peak_mb

SIZES = {"100K": (100_000, 2_000), "1M": (1_000_000, 10_000), "10M": (10_000_000, 40_000)}
TABLES = ("movements", "fx_rates", "companies", "landed_costs", "skus")


def _cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _load(folder: Path) -> dict[str, pl.DataFrame]:
    return {t: pl.read_parquet(folder / f"{t}.parquet") for t in TABLES}


def _full(folder: str, days: int, chunks: int, out: mp.Queue) -> None:
    from benchmarks._costing_ledger import START
    from pipelines.costing import cost_range
    from pipelines.costing.chunked import cost_range_chunked

    inputs = _load(Path(folder))
    end = START + timedelta(days=days - 1)
    t0, c0 = time.perf_counter(), _cpu_seconds()
    if chunks > 1:
        out_dir = Path(folder) / f"out_{days}"
        out_dir.mkdir(exist_ok=True)

        def sink(k: int, part: object) -> None:
            for name in ("cogs", "consumption", "postings", "valuation", "ageing", "open_layers"):
                getattr(part, name).write_parquet(out_dir / f"{name}_{k}.parquet")

        r = cost_range_chunked(inputs, None, START, end, chunks=chunks, sink=sink)
    else:
        r = cost_range(inputs, None, START, end)
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    for name, frame in r.end_state.frames().items():
        frame.write_parquet(Path(folder) / f"state_{days}_{name}.parquet")
    cogs = r.journals.filter(pl.col("account") == "COGS", pl.col("category") == "ISSUE")
    cogs = cogs.get_column("debit").sum()
    out.put(
        {
            "seconds": seconds,
            "cpu_seconds": cpu,
            "peak_mb": peak_mb(),
            "movements": inputs["movements"].height,
            "open_layers": r.end_state.open_layers.height,
            "cogs_total": str(cogs),
            "flags": dict(r.flags.group_by("flag").len().rows()),
            "chunks": chunks,
        }
    )


def _nightly(folder: str, day_index: int, out: mp.Queue) -> None:
    from benchmarks._costing_ledger import START
    from pipelines.costing import CostingState, cost_range

    f = Path(folder)
    inputs = _load(f)
    day = START + timedelta(days=day_index)
    mv = inputs["movements"]
    todays = mv.filter(pl.col("occurred_at").dt.date() == day)
    lcs = inputs["landed_costs"].filter(pl.col("posted_at").dt.date() <= day)
    lines = mv.filter(
        pl.col("movement_type") == "RECEIPT",
        pl.col("reference").is_in(lcs.get_column("receipt_reference").implode()),
        pl.col("occurred_at").dt.date() < day,
    )
    inputs = {**inputs, "movements": pl.concat([todays, lines]), "landed_costs": lcs}
    state = CostingState.from_frames(
        {
            n: pl.read_parquet(f / f"state_{day_index}_{n}.parquet")
            for n in CostingState.empty().frames()
        }
    )
    t0 = time.perf_counter()
    cost_range(inputs, state, day, day)
    seconds = time.perf_counter() - t0
    out.put(
        {
            "seconds": seconds,
            "peak_mb": peak_mb(),
            "day": str(day),
            "day_movements": todays.height,
            "open_layers_in": state.open_layers.height,
        }
    )


def _reference(folder: str, days: int, out: mp.Queue) -> None:
    from benchmarks._costing_ledger import START
    from tests.costing.reference import run_reference

    inputs = _load(Path(folder))
    end = START + timedelta(days=days - 1)
    t0 = time.perf_counter()
    rows = inputs["movements"].filter(pl.col("occurred_at").dt.date() <= end).to_dicts()
    fx = {
        (r["rate_date"], r["currency"], r["to_currency"]): r["rate"]
        for r in inputs["fx_rates"].to_dicts()
    }
    functional = dict(inputs["companies"].rows())
    skus = {r[0]: r[1:] for r in inputs["skus"].rows()}
    landed = inputs["landed_costs"].to_dicts()
    convert = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = run_reference(rows, fx, functional, landed, skus)
    seconds = time.perf_counter() - t0
    issues = set(
        inputs["movements"].filter(pl.col("movement_type") == "ISSUE").get_column("movement_id")
    )
    total = sum(c + p for mid, (c, _, p) in ref.cost.items() if mid in issues)
    out.put(
        {
            "seconds": seconds,
            "convert_seconds": convert,
            "peak_mb": peak_mb(),
            "cogs_total_cents": total,
        }
    )


def _run(target: object, *args: object) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    result = q.get()
    p.join()
    return result


def bench(size: str, reference: bool, workdir: Path, chunks: int) -> dict:
    from benchmarks._costing_ledger import DAYS, generate

    n, n_skus = SIZES[size]
    folder = workdir / size
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for name, frame in generate(n, n_skus).items():
        frame.write_parquet(folder / f"{name}.parquet")
    report: dict = {"size": size, "skus": n_skus, "generate_seconds": time.perf_counter() - t0}
    report["full_range"] = _run(_full, str(folder), DAYS - 1, chunks)
    report["nightly_end"] = _run(_nightly, str(folder), DAYS - 1)
    _run(_full, str(folder), 365, chunks)
    report["nightly_year1"] = _run(_nightly, str(folder), 365)
    if reference:
        ref = _run(_reference, str(folder), DAYS - 1)
        report["reference"] = ref
        engine_cents = round(float(report["full_range"]["cogs_total"]) * 100)
        report["cogs_equal"] = engine_cents == ref["cogs_total_cents"]
        report["speedup"] = ref["seconds"] / report["full_range"]["seconds"]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1M"], choices=list(SIZES))
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument(
        "--chunks", type=int, default=1, help="cost full ranges in this many SKU chunks"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        reports = [bench(s, not args.no_reference, Path(tmp), args.chunks) for s in args.sizes]
    emit(reports, args.json)


if __name__ == "__main__":
    main()
