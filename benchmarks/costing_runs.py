"""Costing benchmark of the Dagster path: `cost_days` over a DuckDB warehouse (issue 3, item 7).

    uv run python -m benchmarks.costing_runs --sizes 100K
    flock /tmp/reckon-bench.lock uv run python -m benchmarks.costing_runs --sizes 1M
    flock /tmp/reckon-bench.lock uv run python -m benchmarks.costing_runs --sizes 10M --chunks 32

The Dagster costing asset runs `runs.costing.cost_days(con, start, end, policy,
chunk_days=31)` over the warehouse: it reads each 31-day chunk's inputs from DuckDB, costs
them from the carried state, writes every output table and a checkpoint, and carries on.
That, not the engine alone, is what "the 10M full range under 8 GB peak memory" is about.

For each size the generated ledger (benchmarks/_costing_ledger.py) is written straight
into a fresh DuckDB warehouse's input tables as the loader leaves them (contract columns
plus `_source_file`, `_source_row`, `_load_date`; movements loaded on their own day), and
to Parquet. Then, each in a fresh process so its peak memory (VmHWM) is its own:
1. engine: `cost_range` over the same days from Parquet (with --chunks, in SKU chunks
   whose detail goes to Parquet), the same-run baseline (benchmarks/costing.py `_full`);
2. runs: `cost_days` over the full range but the last day, from an empty warehouse
   (the go-live initialisation as the asset runs it);
3. nightly: `cost_days` for the last day, from the checkpoint the range left.
4. with --shards N: 2 again on a copy of the empty warehouse, each chunk in N SKU shards in
   process (pipelines/costing/shards.py): the sharding overhead, as the CPU seconds of all
   shards together over the unsharded run's (issue 14: at most 1.15x).
Wall time, CPU time (user + system) and peak memory of each, and the COGS total of 1, 2
(and 4) compared to the cent.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from benchmarks._measure import emit, peak_mb
from benchmarks.costing import SIZES, _cpu_seconds, _full, _run
from pipelines.contracts.inputs import DAILY_TABLES

DAILY = {contract.name: contract for contract in DAILY_TABLES}


def write_warehouse(con: duckdb.DuckDBPyConnection, tables: dict[str, pl.DataFrame]) -> None:
    """The input tables as the loader leaves them: a daily table's rows loaded on their own
    day from that day's file, a reference table loaded once on its first day."""
    from storage.warehouse import replace_slice

    first = tables["movements"].get_column("occurred_at").min().date()
    for name, frame in tables.items():
        contract = DAILY.get(name)
        if contract is None:
            frame = frame.with_columns(
                pl.lit(f"{name}.csv").alias("_source_file"),
                pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_source_row"),
                pl.lit(first).alias("_load_date"),
            )
        else:
            day = contract.day()
            frame = frame.sort(contract.partition_column).with_columns(
                pl.format("{}/{}.csv", pl.lit(name), day).alias("_source_file"),
                pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(day).alias("_source_row"),
                day.alias("_load_date"),
            )
        replace_slice(con, name, frame)


def _cost_days(
    db: str, start: date, end: date, chunk_days: int, shards: int, out: mp.Queue
) -> None:
    from pipelines.costing import CostingPolicy, Sharding
    from runs.costing import CHUNK_MOVEMENTS, cost_days

    sharding = Sharding(shards) if shards > 1 else None
    with duckdb.connect(db) as con:
        t0, c0 = time.perf_counter(), _cpu_seconds()
        run = cost_days(
            con,
            start,
            end,
            CostingPolicy(),
            chunk_days=chunk_days,
            sharding=sharding,
            chunk_movements=CHUNK_MOVEMENTS,
        )
        seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
        # The figure benchmarks/costing.py `_full` reports: COGS debits of issues, journals.
        cogs = con.sql(
            "SELECT sum(debit) FROM costing_journals WHERE account = 'COGS'"
            " AND category = 'ISSUE' AND posting_date BETWEEN ? AND ?",
            params=[start, end],
        ).fetchall()[0][0]
        open_layers = con.sql(
            "SELECT count(*) FROM costing_state_open_layers WHERE as_of = ?", params=[end]
        ).fetchall()[0][0]
        violations = {k: v.height for k, v in run.violations.items() if v.height}
    out.put(
        {
            "seconds": seconds,
            "cpu_seconds": cpu,
            "peak_mb": peak_mb(),
            "days": (end - start).days + 1,
            "computed": [str(d) for d in run.computed],
            "cogs_total": str(cogs),
            "open_layers": open_layers,
            "rows_written": run.counts,
            "violations": violations,
        }
    )


def bench(size: str, workdir: Path, chunks: int, chunk_days: int, shards: int = 1) -> dict:
    from benchmarks._costing_ledger import DAYS, START, generate

    n, n_skus = SIZES[size]
    folder = workdir / size
    folder.mkdir(parents=True, exist_ok=True)
    db = str(folder / "warehouse.duckdb")
    t0 = time.perf_counter()
    tables = generate(n, n_skus)
    for name, frame in tables.items():
        frame.write_parquet(folder / f"{name}.parquet")
    with duckdb.connect(db) as con:
        write_warehouse(con, tables)
    if shards > 1:
        shutil.copy(db, folder / "sharded.duckdb")
    report: dict = {
        "size": size,
        "skus": n_skus,
        "movements": tables["movements"].height,
        "prepare_seconds": time.perf_counter() - t0,
    }
    del tables
    last = START + timedelta(days=DAYS - 1)
    report["load_average_before"] = os.getloadavg()
    report["engine_full_range"] = _run(_full, str(folder), DAYS - 1, chunks, False)
    report["runs_full_range"] = _run(_cost_days, db, START, last - timedelta(days=1), chunk_days, 1)
    report["runs_nightly_end"] = _run(_cost_days, db, last, last, chunk_days, 1)
    if shards > 1:
        sharded_db = str(folder / "sharded.duckdb")
        until = last - timedelta(days=1)
        sharded = _run(_cost_days, sharded_db, START, until, chunk_days, shards)
        report["runs_full_range_sharded"] = {**sharded, "shards": shards}
        unsharded = report["runs_full_range"]
        report["shards_cpu_over_unsharded"] = sharded["cpu_seconds"] / unsharded["cpu_seconds"]
        report["shards_cogs_equal"] = sharded["cogs_total"] == unsharded["cogs_total"]
    report["load_average_after"] = os.getloadavg()
    report["warehouse_mb"] = Path(db).stat().st_size / 2**20
    engine, runs = report["engine_full_range"], report["runs_full_range"]
    report["runs_over_engine_seconds"] = runs["seconds"] / engine["seconds"]
    report["runs_over_engine_peak"] = runs["peak_mb"] / engine["peak_mb"]
    report["cogs_equal"] = engine["cogs_total"] == runs["cogs_total"]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["100K"], choices=list(SIZES))
    parser.add_argument(
        "--chunks", type=int, default=1, help="the engine baseline in this many SKU chunks"
    )
    parser.add_argument("--chunk-days", type=int, default=31, help="cost_days chunk (days)")
    parser.add_argument(
        "--shards", type=int, default=1, help="also cost_days in this many SKU shards per chunk"
    )
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: temporary)")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        reports = [
            bench(s, Path(tmp), args.chunks, args.chunk_days, args.shards) for s in args.sizes
        ]
    emit(reports, args.json)


if __name__ == "__main__":
    main()
