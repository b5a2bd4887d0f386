"""Costing benchmark: set-based engine vs the row-by-row reference, full range and nightly.

    uv run python -m benchmarks.costing --sizes 1M            # engine + reference at 1M
    uv run python -m benchmarks.costing --sizes 10M --no-reference --chunks 16

For each size a ledger is generated (benchmarks/_costing_ledger.py: three years, tens of
thousands of SKUs) and written to Parquet; every measurement then runs in a fresh process
that reads the Parquet files, so its peak RSS (ru_maxrss) is that measurement's own:
1. full range: cost_range over all days but the last, from an empty state (the go-live
   initialisation; with --chunks, pipelines.costing.shards in SKU chunks, each chunk's
   detail written to Parquet as it is done); its end state is saved;
2. nightly: the last day only, from that saved state, given only that day's movements
   (and the receipt lines its landed costs point at): what a nightly partition does;
3. nightly after one year: the same for day 366 from the state after day 365, to show the
   nightly cost follows the day's volume and the open layers, not the history length;
4. reference: oracles/costing.py over the same range as 1 (plain Python, Decimal),
   each variant in its own process:
   - "daily": what 1 produces, the COGS and every day's valuation and stock ageing,
     reported at each day's end from the open layers as a row-by-row system does;
   - "memoised": the same, each slice's value computed once per change (as a system
     that stores each layer's remaining value), to show how much the ratio owes to the
     reference recomputing values;
   - "cogs": COGS and the final state only, less than the engine does.
   The total COGS, and every day's valuation and ageing totals (per bucket), are
   compared with the engine's to the cent. The time excludes the benchmark's own summing
   of each day's report.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl

from benchmarks._measure import emit, peak_mb

REFERENCE_VARIANTS = ("daily", "memoised", "cogs")
SIZES = {"100K": (100_000, 2_000), "1M": (1_000_000, 10_000), "10M": (10_000_000, 40_000)}
TABLES = ("movements", "fx_rates", "companies", "landed_costs", "skus")


def _cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _daily_totals(valuation: pl.DataFrame, ageing: pl.DataFrame, start: date, end: date) -> dict:
    """Per day: total closing quantity and value (cents), and per ageing bucket the total
    quantity and value, from the engine's change rows (a row holds until the pool's next)."""
    days = pl.DataFrame({"day": pl.date_range(start, end, eager=True)})
    cents = pl.col("value").cast(pl.Decimal(38, 2)).mul(100).cast(pl.Int64)
    val = valuation.select(
        "day",
        (pl.col("closing_qty") - pl.col("opening_qty")).alias("quantity"),
        (pl.col("closing_value") - pl.col("opening_value")).alias("value"),
    )
    val = val.group_by("day").agg(pl.col("quantity").sum(), cents.sum())
    val = days.join(val, on="day", how="left").fill_null(0).sort("day")
    val = val.select("day", pl.col("quantity").cum_sum(), pl.col("value").cum_sum())
    key = ["company", "warehouse", "sku", "bucket_no"]
    age = ageing.sort([*key, "day"]).select(
        "day",
        "bucket_no",
        (pl.col("quantity") - pl.col("quantity").shift(1).over(key).fill_null(0)).alias("quantity"),
        (cents - cents.shift(1).over(key).fill_null(0)).alias("value"),
    )
    age = age.group_by("day", "bucket_no").agg(pl.col("quantity").sum(), pl.col("value").sum())
    grid = days.join(age.select("bucket_no").unique(), how="cross")
    age = grid.join(age, on=["day", "bucket_no"], how="left").fill_null(0).sort("bucket_no", "day")
    age = age.with_columns(pl.col("quantity", "value").cum_sum().over("bucket_no"))
    out: dict = defaultdict(dict)
    for day, q, v in val.iter_rows():
        out[str(day)]["valuation"] = [q, v]
    for day, bucket, q, v in age.filter(pl.col("quantity") != 0).iter_rows():
        out[str(day)][bucket] = [q, v]
    return dict(out)


def _load(folder: Path) -> dict[str, pl.DataFrame]:
    return {t: pl.read_parquet(folder / f"{t}.parquet") for t in TABLES}


def _full(folder: str, days: int, chunks: int, totals: bool, out: mp.Queue) -> None:
    from benchmarks._costing_ledger import START
    from pipelines.costing import cost_range
    from pipelines.costing.shards import Sharding, cost_range_sharded

    inputs = _load(Path(folder))
    end = START + timedelta(days=days - 1)
    t0, c0 = time.perf_counter(), _cpu_seconds()
    if chunks > 1:
        out_dir = Path(folder) / f"out_{days}"
        out_dir.mkdir(exist_ok=True)

        def sink(k: int, part: object) -> None:
            for name in ("cogs", "consumption", "postings", "valuation", "ageing", "open_layers"):
                getattr(part, name).write_parquet(out_dir / f"{name}_{k}.parquet")

        r = cost_range_sharded(inputs, None, START, end, sharding=Sharding(chunks, sink))
    else:
        r = cost_range(inputs, None, START, end)
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    for name, frame in r.end_state.frames().items():
        frame.write_parquet(Path(folder) / f"state_{days}_{name}.parquet")
    cogs = r.journals.filter(pl.col("account") == "COGS", pl.col("category") == "ISSUE")
    cogs = cogs.get_column("debit").sum()
    figures = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mb": peak_mb(),  # before the benchmark's own daily totals below
        "movements": inputs["movements"].height,
        "open_layers": r.end_state.open_layers.height,
        "cogs_total": str(cogs),
        "flags": dict(r.flags.group_by("flag").len().rows()),
        "chunks": chunks,
    }
    if totals:
        figures["daily_totals"] = _daily_totals(r.valuation, r.ageing, START, end)
    out.put(figures)


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


def _reference(folder: str, days: int, variant: str, out: mp.Queue) -> None:
    """The reference over the range. `variant`: "daily" (the engine's outputs: COGS and
    every day's valuation and ageing), "memoised" (the same, each slice's value computed
    once per change, as a system storing each layer's remaining value would), or
    "cogs" (COGS and the final state only)."""
    from benchmarks._costing_ledger import START
    from oracles.costing import ReferenceResult, run_reference
    from pipelines.costing.policy import DEFAULT_AGE_BUCKETS

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
    totals: dict = {}
    reporting = bookkeeping = 0.0

    def on_day(day: date, res: ReferenceResult) -> None:
        nonlocal reporting, bookkeeping
        r0 = time.perf_counter()
        valuation, ageing = res.report(day, DEFAULT_AGE_BUCKETS)
        r1 = time.perf_counter()
        per_day: dict = {"valuation": [sum(q for q, _ in valuation.values())]}
        per_day["valuation"].append(sum(v for _, v in valuation.values()))
        for (_, bucket), (q, v) in ageing.items():
            bq, bv = per_day.get(bucket, (0, 0))
            per_day[bucket] = [bq + q, bv + v]
        totals[str(day)] = per_day
        reporting += r1 - r0
        bookkeeping += time.perf_counter() - r1

    daily = {"days": (START, end), "on_day": on_day} if variant != "cogs" else {}
    result = _memoised_result() if variant == "memoised" else None
    t0 = time.perf_counter()
    ref = run_reference(rows, fx, functional, landed, skus, **daily, result=result)
    # the benchmark's own summing of each day's report is not the reference's work
    seconds = time.perf_counter() - t0 - bookkeeping
    issues = set(
        inputs["movements"].filter(pl.col("movement_type") == "ISSUE").get_column("movement_id")
    )
    total = sum(c + p for mid, (c, _, p) in ref.cost.items() if mid in issues)
    out.put(
        {
            "seconds": seconds,
            "daily_report_seconds": reporting,
            "benchmark_bookkeeping_seconds_excluded": bookkeeping,
            "convert_seconds": convert,
            "peak_mb": peak_mb(),
            "cogs_total_cents": total,
            "daily_totals": totals,
        }
    )


def _memoised_result() -> object:
    """A ReferenceResult whose slice values are memoised (made here: the reference module
    is imported only in the reference's own process)."""
    from oracles.costing import ReferenceResult

    class MemoisedResult(ReferenceResult):
        """Each slice's value computed once per (slice, landed costs so far)."""

        def __init__(self) -> None:
            super().__init__()
            self.memo: dict = {}

        def slice_cost(self, origin_id: str, a: int, b: int) -> int:
            key = (origin_id, a, b, len(self.origins[origin_id].landed))
            value = self.memo.get(key)
            if value is None:
                value = self.memo[key] = super().slice_cost(origin_id, a, b)
            return value

    return MemoisedResult()


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
    # the engine's daily totals are only worth computing to compare with the reference,
    # and only from a one-call run (sharded runs stream their detail to Parquet)
    compare = reference and chunks == 1
    report["full_range"] = _run(_full, str(folder), DAYS - 1, chunks, compare)
    report["nightly_end"] = _run(_nightly, str(folder), DAYS - 1)
    _run(_full, str(folder), 365, chunks, False)
    report["nightly_year1"] = _run(_nightly, str(folder), 365)
    if reference:
        runs = {v: _run(_reference, str(folder), DAYS - 1, v) for v in REFERENCE_VARIANTS}
        engine = report["full_range"]
        engine_totals = engine.pop("daily_totals", None)
        engine_cents = int(Decimal(engine["cogs_total"]) * 100)
        for variant, ref in runs.items():
            totals = ref.pop("daily_totals")
            ref["cogs_equal"] = engine_cents == ref["cogs_total_cents"]
            if variant != "cogs":
                ref["daily_totals_equal"] = engine_totals is not None and totals == engine_totals
            ref["speedup"] = ref["seconds"] / engine["seconds"]
            report[f"reference_{variant}"] = ref
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
