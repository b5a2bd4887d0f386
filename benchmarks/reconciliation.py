"""Benchmark: set-based rating + matching against row-by-row pricing and against SQL.

    uv run python -m benchmarks.reconciliation --shipments 1000000
    uv run python -m benchmarks.reconciliation --shipments 10000000 \
        --process-per-carrier --baseline-sample 200000

Four steps, each timed; the engine and the baselines run in fresh subprocesses
so their peak memory (VmHWM) is their own, not the data preparation's:
1. prepare: synthetic shipments of the five demo carriers in one month (vectorised
   numpy), the demo rate cards, and bill lines billed as contracted with a few
   anomalies (1% over-rated freight, 0.5% duplicates, 0.2% unknown tracking
   numbers, 1% left unbilled), written as Parquet;
2. engine: read, `rate_shipments` over every shipment, matching of each carrier's
   lines (`mark_billing_roles` + `match_shipments`), then `reconcile` of each
   carrier's period (matching, findings, vouchers, disputes, accruals);
3. SQL (issue 14 point 5; `--no-sql` skips it): `benchmarks.reconciliation_sql`, the
   same rating and matching as a data engineer would write them in DuckDB, on the same
   inputs, then checked equal to the engine's outputs on every column (it raises if
   not); with `--process-per-carrier` one process per carrier, as the engine;
4. row by row (`--no-row-by-row` skips it): `reference.expected_charges_rows`, the same
   expected-charges table built one shipment at a time in plain Python and Decimal
   (checked equal to the engine's), and `reference.rate_rows`, the pricing loop alone,
   on the same shipments (or the first `--baseline-sample` of them, extrapolated, and
   said so).
Figures go to docs/performance/reconciliation.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from benchmarks._measure import peak_mb
from demo.rate_cards import DEMO_COUNTRIES, demo_carriers, write_demo_rate_cards
from pipelines.contracts.bills import BILL_HEADERS, BILL_LINES
from pipelines.contracts.inputs import COMPANIES, FX_RATES, SHIPMENTS
from pipelines.rating import RatingResult
from storage.layout import DataLayout

START, END = date(2026, 1, 1), date(2026, 1, 31)
CARRIERS = ("DHL", "UPS", "FOURPX", "YUNEXPRESS", "YANWEN")
PREFIX = {"DHL": "", "UPS": "1Z", "FOURPX": "4PX", "YUNEXPRESS": "YT", "YANWEN": "UG"}


def _shipments(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    carrier = rng.integers(0, len(CARRIERS), n)
    country = rng.integers(0, len(DEMO_COUNTRIES), n)
    seconds = rng.integers(0, 31 * 86_400, n)
    grams = np.clip(rng.lognormal(6.3, 0.9, n).astype(np.int64), 30, 25_000)
    dims = rng.integers(50, 450, (3, n))  # tenths of a cm
    postcode = rng.integers(0, 100_000, n)
    frame = pl.DataFrame(
        {
            "i": np.arange(n),
            "carrier": np.array(CARRIERS)[carrier],
            "country": np.array(DEMO_COUNTRIES)[country],
            "seconds": seconds,
            "grams": grams,
            "l": dims[0],
            "w": dims[1],
            "h": dims[2],
            "postcode": postcode,
            "company": np.where(rng.random(n) < 0.5, "CN01", "US01"),
        }
    )
    num = pl.col("i").cast(pl.String).str.zfill(12)
    return frame.select(
        shipment_id=pl.format("SHP{}", num),
        tracking_number=pl.concat_str(pl.col("carrier").replace_strict(PREFIX), num),
        carrier="carrier",
        service=pl.lit("STD"),
        shipped_at=pl.lit(datetime(2026, 1, 1)) + pl.duration(seconds=pl.col("seconds")),
        company="company",
        warehouse=pl.lit("W1"),
        destination_country="country",
        destination_postcode=pl.col("postcode").cast(pl.String).str.zfill(5),
        parcels=pl.lit(1, pl.Int64),
        weight_kg=(pl.col("grams").cast(pl.Decimal(38, 3)) / 1000),
        length_cm=(pl.col("l").cast(pl.Decimal(38, 1)) / 10),
        width_cm=(pl.col("w").cast(pl.Decimal(38, 1)) / 10),
        height_cm=(pl.col("h").cast(pl.Decimal(38, 1)) / 10),
        order_id=pl.format("ORD{}", num),
    ).cast(SHIPMENTS.schema)  # type: ignore[arg-type]


def _reference_tables(root: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    fx = pl.DataFrame(
        [
            {"rate_date": START, "currency": "USD", "to_currency": "CNY", "rate": "7.1"},
            {"rate_date": START, "currency": "CNY", "to_currency": "USD", "rate": "0.14"},
        ]
    ).cast(FX_RATES.schema)  # type: ignore[arg-type]
    companies = pl.DataFrame(
        [
            {"company": "CN01", "functional_currency": "CNY"},
            {"company": "US01", "functional_currency": "USD"},
        ]
    ).cast(COMPANIES.schema)  # type: ignore[arg-type]
    fx.write_parquet(root / "fx_rates.parquet")
    companies.write_parquet(root / "companies.parquet")
    return fx, companies


def _carrier_lines(rating: RatingResult, rng: np.random.Generator) -> pl.DataFrame:
    """One carrier's lines billed as contracted, with the benchmark's anomalies."""
    exp = rating.expected_charges.join(
        rating.shipment_ratings.select("shipment_id", "chargeable_weight_kg"), on="shipment_id"
    )
    unbilled = pl.Series(rng.random(rating.shipment_ratings.height) < 0.01)
    skip = rating.shipment_ratings.filter(unbilled).select("shipment_id")
    exp = exp.join(skip, on="shipment_id", how="anti")
    bump = pl.Series(rng.random(exp.height) < 0.01) & (exp["charge_type"] == "FREIGHT")
    amount = pl.when(bump).then(pl.col("expected_amount") * 11 / 10).otherwise("expected_amount")
    lines = exp.select(
        "carrier",
        "tracking_number",
        "charge_type",
        amount=amount.cast(pl.Decimal(18, 2)),
        billed_weight_kg=pl.when(pl.col("charge_type") == "FREIGHT").then("chargeable_weight_kg"),
    )
    dups = lines.filter(
        pl.Series(rng.random(lines.height) < 0.005) & (pl.col("charge_type") == "FREIGHT")
    )
    unknown = dups.head(max(1, lines.height // 500)).with_columns(
        tracking_number=pl.concat_str(pl.col("tracking_number"), pl.lit("X"))
    )
    return pl.concat([lines, dups, unknown])


def prepare(root: Path, n: int, seed: int) -> dict:
    """Write shipments, cards, carriers.yaml (every carrier MONTHLY) and bills under `root`."""
    from pipelines.rating import rate_shipments
    from storage.config import load_rate_cards

    started = time.perf_counter()
    write_demo_rate_cards(root, START, END)
    config = demo_carriers()
    for c in config["carriers"]:
        c["billing_cycle"] = "MONTHLY"  # one period per carrier: one reconcile call each
    DataLayout(root).carriers_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    fx, companies = _reference_tables(root)
    ships = _shipments(n, seed)
    ships.write_parquet(root / "shipments.parquet")
    cards = load_rate_cards(DataLayout(root).rate_cards_dir)
    rng = np.random.default_rng(seed + 1)
    parts = [
        _carrier_lines(
            rate_shipments(ships.filter(pl.col("carrier") == c), cards, fx, companies), rng
        )
        for c in CARRIERS
    ]
    del ships
    lines = pl.concat(parts).with_columns(bill_number=pl.format("{}-202601", pl.col("carrier")))
    lines = (
        lines.with_columns(
            source_sha256=pl.format("sha-{}", pl.col("bill_number")),
            bill_date=pl.lit(date(2026, 2, 3)),
            currency=pl.col("carrier").replace_strict(
                {c["carrier"]: c["currency"] for c in config["carriers"]}
            ),
            line_number=pl.int_range(1, pl.len() + 1).over("bill_number"),
        )
        .with_columns(
            tracking_number_raw="tracking_number",
            shipment_date=pl.lit(None, pl.Date),
            billed_weight=pl.col("billed_weight_kg"),
            weight_unit=pl.when(pl.col("billed_weight_kg").is_not_null()).then(pl.lit("KG")),
            zone=pl.lit(None, pl.String),
            destination_country=pl.lit(None, pl.String),
            charge_code=pl.lit(None, pl.String),
            charge_description=pl.lit(None, pl.String),
            parser=pl.lit("bench"),
            parser_version=pl.lit("1"),
            template_id=pl.lit(None, pl.String),
            locator=pl.format("row={}", pl.col("line_number")),
        )
        .select(BILL_LINES.column_names)
    )
    lines = lines.cast(BILL_LINES.schema)  # type: ignore[arg-type]
    headers = lines.group_by(
        "source_sha256", "carrier", "bill_number", "bill_date", "currency"
    ).agg(parsed_total=pl.col("amount").sum(), line_count=pl.len())
    headers = (
        headers.with_columns(
            source_name=pl.format("{}.csv", pl.col("bill_number")),
            account=pl.lit(None, pl.String),
            period_start=pl.lit(START),
            period_end=pl.lit(END),
            stated_total=pl.col("parsed_total"),
            parser=pl.lit("bench"),
            parser_version=pl.lit("1"),
            template_id=pl.lit(None, pl.String),
        )
        .select(BILL_HEADERS.column_names)
        .cast(BILL_HEADERS.schema)
    )  # type: ignore[arg-type]
    lines.write_parquet(root / "bill_lines.parquet")
    headers.write_parquet(root / "bill_headers.parquet")
    return {"shipments": n, "bill_lines": lines.height, "prepare_s": time.perf_counter() - started}


def _carrier_bill_lines(root: Path, carrier: str) -> pl.DataFrame:
    """The carrier's bill lines from its own file (bills arrive per carrier), written
    from the combined file the first time."""
    folder = root / "bill_lines_by_carrier"
    path = folder / f"{carrier}.parquet"
    if not path.exists():
        folder.mkdir(exist_ok=True)
        for name in CARRIERS:
            (
                pl.scan_parquet(root / "bill_lines.parquet")
                .filter(pl.col("carrier") == name)
                .sink_parquet(folder / f"{name}.parquet")
            )
    return pl.read_parquet(path).rechunk()


def engine_per_carrier(root: Path, only: str | None = None) -> dict:
    """As `engine`, one carrier at a time, the way partitions by carrier run: peak
    memory is one carrier's. Other carriers' shipments are not in the rating, so an
    UNKNOWN_SHIPMENT cannot name the carrier that did ship it (none do in this data).
    `only`: just that carrier (one process per carrier partition)."""
    from pipelines.rating import rate_shipments
    from pipelines.reconciliation import (
        BillingPeriod,
        CarrierSettings,
        PeriodInputs,
        reconcile,
    )
    from storage.config import load_carriers, load_rate_cards
    from storage.parts import ParquetFindingsSink

    layout = DataLayout(root)
    cards = load_rate_cards(layout.rate_cards_dir)
    carriers = load_carriers(layout.carriers_file)
    fx = pl.read_parquet(root / "fx_rates.parquet")
    companies = pl.read_parquet(root / "companies.parquet")
    headers = pl.read_parquet(root / "bill_headers.parquet")
    timed = ("read_s", "rate_s", "reconcile_s", "rate_cpu_s", "reconcile_cpu_s")
    totals = dict.fromkeys((*timed, "match_only_s", "match_only_cpu_s"), 0.0)
    findings = 0
    for carrier in (only,) if only else CARRIERS:
        t0 = time.perf_counter()
        mine = pl.col("carrier") == carrier
        ships = pl.scan_parquet(root / "shipments.parquet").filter(mine).collect().rechunk()
        t1, c1 = time.perf_counter(), time.process_time()
        rating = rate_shipments(ships, cards, fx, companies)
        t2, c2 = time.perf_counter(), time.process_time()
        del ships  # rate first, then read the lines: the two peaks do not add up
        lines = _carrier_bill_lines(root, carrier)
        t3, c3 = time.perf_counter(), time.process_time()
        sink = Path(tempfile.mkdtemp(prefix=f"findings-{carrier}-", dir=root))
        result = reconcile(
            PeriodInputs(lines, headers, rating, BillingPeriod(carrier, START, END)),
            CarrierSettings(cards, carriers),
            ParquetFindingsSink(
                sink
            ),  # findings written bucket by bucket, as the warehouse run does
        )
        t4, c4 = time.perf_counter(), time.process_time()
        findings += result.line_count  # not result.findings: that would read every part
        del result  # matching alone after the reconciliation: its peak is not added to it
        match_s, match_cpu_s, _ = _match_only({carrier: lines}, rating)
        del rating, lines
        shutil.rmtree(sink)
        for key, value in (
            ("read_s", (t1 - t0) + (t3 - t2)),
            ("rate_s", t2 - t1),
            ("reconcile_s", t4 - t3),
            ("rate_cpu_s", c2 - c1),
            ("reconcile_cpu_s", c4 - c3),
            ("match_only_s", match_s),
            ("match_only_cpu_s", match_cpu_s),
        ):
            totals[key] += value
    return {
        **totals,
        "rate_and_match_only_s": totals["rate_s"] + totals["match_only_s"],
        "rate_and_match_only_cpu_s": totals["rate_cpu_s"] + totals["match_only_cpu_s"],
        "rate_and_match_s": totals["rate_s"] + totals["reconcile_s"],
        "rate_and_match_cpu_s": totals["rate_cpu_s"] + totals["reconcile_cpu_s"],
        "findings": findings,
        "per_carrier": True,
        "load_average": list(os.getloadavg()),
        "peak_rss_mb": peak_mb(),
    }


def engine_process_per_carrier(root: Path) -> dict:
    """Each carrier in its own process (as a multiprocess executor runs partitions):
    times summed, peak RSS the largest of the five."""
    runs = [_child("engine-per-carrier", root, None, carrier) for carrier in CARRIERS]
    keys: tuple[str, ...] = ("read_s", "rate_s", "reconcile_s", "rate_cpu_s")
    keys = (*keys, "reconcile_cpu_s", "match_only_s", "match_only_cpu_s")
    out: dict = {k: sum(r[k] for r in runs) for k in (*keys, "findings")}
    out["rate_and_match_only_s"] = out["rate_s"] + out["match_only_s"]
    out["rate_and_match_only_cpu_s"] = out["rate_cpu_s"] + out["match_only_cpu_s"]
    out["rate_and_match_s"] = out["rate_s"] + out["reconcile_s"]
    out["rate_and_match_cpu_s"] = out["rate_cpu_s"] + out["reconcile_cpu_s"]
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    out["peak_rss_mb_by_carrier"] = dict(
        zip(CARRIERS, (r["peak_rss_mb"] for r in runs), strict=True)
    )
    out["process_per_carrier"] = True
    out["load_average"] = list(os.getloadavg())
    return out


def _match_only(
    by_carrier: dict[str, pl.DataFrame], rating: RatingResult
) -> tuple[float, float, int]:
    """Matching alone, timed apart from (and after) the full reconciliation: each
    carrier's lines given their billing roles and joined to their shipment ratings (the
    "matching" of issue 5 item 8 in the narrow sense; `reconcile` does this and judges
    every line, builds findings with evidence, vouchers, disputes and accruals)."""
    from pipelines.reconciliation.matching import mark_billing_roles, match_shipments

    t0, c0 = time.perf_counter(), time.process_time()
    matched = 0
    ratings = rating.shipment_ratings
    for carrier, lines in by_carrier.items():
        mine = mark_billing_roles(lines)
        matched += match_shipments(mine, ratings, carrier).height
    return time.perf_counter() - t0, time.process_time() - c0, matched


def engine(root: Path) -> dict:
    """Read, rate every shipment, reconcile each carrier's month; time and peak RSS.

    Bill lines are read per carrier (as a carrier-period partition reads its own
    bills from the warehouse), before the clock starts."""
    from pipelines.rating import rate_shipments
    from pipelines.reconciliation import (
        BillingPeriod,
        CarrierSettings,
        PeriodInputs,
        reconcile,
    )
    from storage.config import load_carriers, load_rate_cards

    t0 = time.perf_counter()
    ships = pl.read_parquet(root / "shipments.parquet").rechunk()
    by_carrier = {c: _carrier_bill_lines(root, c) for c in CARRIERS}
    headers = pl.read_parquet(root / "bill_headers.parquet")
    fx = pl.read_parquet(root / "fx_rates.parquet")
    companies = pl.read_parquet(root / "companies.parquet")
    layout = DataLayout(root)
    cards = load_rate_cards(layout.rate_cards_dir)
    carriers = load_carriers(layout.carriers_file)
    t1, c1 = time.perf_counter(), time.process_time()
    rating = rate_shipments(ships, cards, fx, companies)
    t2, c2 = time.perf_counter(), time.process_time()
    del ships
    match_s, match_cpu_s, matched = _match_only(by_carrier, rating)
    t3, c3 = time.perf_counter(), time.process_time()
    findings = 0
    counts: dict[str, int] = {}
    for carrier, lines in by_carrier.items():
        result = reconcile(
            PeriodInputs(lines, headers, rating, BillingPeriod(carrier, START, END)),
            CarrierSettings(cards, carriers),
        )
        findings += result.findings.height
        for k, v in result.findings.group_by("finding").len().iter_rows():
            counts[k] = counts.get(k, 0) + v
    t4, c4 = time.perf_counter(), time.process_time()
    return {
        "read_s": t1 - t0,
        "rate_s": t2 - t1,
        "rate_cpu_s": c2 - c1,
        "match_only_s": match_s,
        "match_only_cpu_s": match_cpu_s,
        "match_only_lines": matched,
        "rate_and_match_only_s": (t2 - t1) + match_s,
        "rate_and_match_only_cpu_s": (c2 - c1) + match_cpu_s,
        "reconcile_s": t4 - t3,
        "reconcile_cpu_s": c4 - c3,
        "rate_and_match_s": (t2 - t1) + (t4 - t3),
        "rate_and_match_cpu_s": (c2 - c1) + (c4 - c3),
        "load_average": list(os.getloadavg()),
        "findings": findings,
        "finding_counts": counts,
        "unrated": rating.unrated.height,
        "peak_rss_mb": peak_mb(),
    }


def baseline(root: Path, sample: int | None) -> dict:
    """Row-by-row pricing of the same shipments (or the first `sample`), timed two ways:

    - `baseline_s`: `reference.expected_charges_rows`, the row-by-row implementation
      of what `rate_shipments` does: the shipments frame in, each row read as Python
      values, priced, converted to functional currency, the EXPECTED_CHARGES table
      out. Checked equal to the engine's table (same rows, same amounts) after timing.
    - `kernel_s`: `reference.rate_rows`, the pricing loop alone on rows already turned
      into dicts (no reading, no FX, no output table): the lower bound of row-by-row.
    """
    from polars.testing import assert_frame_equal

    from oracles.rating import expected_charges_rows, rate_rows
    from pipelines.rating import rate_shipments
    from storage.config import load_rate_cards

    ships = pl.read_parquet(root / "shipments.parquet")
    fx = pl.read_parquet(root / "fx_rates.parquet")
    companies = pl.read_parquet(root / "companies.parquet")
    total = ships.height
    if sample is not None and sample < total:
        ships = ships.head(sample)
    cards = load_rate_cards(DataLayout(root).rate_cards_dir)
    t0, c0 = time.perf_counter(), time.process_time()
    table = expected_charges_rows(cards, ships, fx, companies)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    rows = ships.to_dicts()
    t1, c1 = time.perf_counter(), time.process_time()
    rate_rows(cards, rows)
    kernel, kernel_cpu = time.perf_counter() - t1, time.process_time() - c1
    del rows
    engine_table = rate_shipments(ships, cards, fx, companies).expected_charges
    key = ["shipment_id", "charge_type"]
    assert_frame_equal(table.sort(key), engine_table.sort(key))
    scale = total / ships.height
    return {
        "baseline_rows": ships.height,
        "baseline_s": seconds,
        "baseline_s_for_all": seconds * scale,
        "baseline_cpu_s_for_all": cpu * scale,
        "kernel_s_for_all": kernel * scale,
        "kernel_cpu_s_for_all": kernel_cpu * scale,
        "expected_charges_equal_to_engine": table.height,
        "load_average": list(os.getloadavg()),
        "extrapolated": ships.height < total,
        "peak_rss_mb": peak_mb(),
    }


def sql(root: Path, carrier: str | None = None) -> dict:
    """The DuckDB SQL implementation of rating and matching (benchmarks.reconciliation_sql)
    on the same inputs (or one carrier's), timed in a fresh connection; then the
    engine's outputs are computed and the SQL's checked equal to them (raises if not)."""
    import duckdb

    from benchmarks.reconciliation_sql import check_equal, engine_outputs, rate_and_match
    from storage.config import load_rate_cards

    mine = pl.lit(True) if carrier is None else pl.col("carrier") == carrier
    inputs = {
        "shipments": pl.scan_parquet(root / "shipments.parquet").filter(mine).collect(),
        "fx_rates": pl.read_parquet(root / "fx_rates.parquet"),
        "companies": pl.read_parquet(root / "companies.parquet"),
        "bill_lines": pl.scan_parquet(root / "bill_lines.parquet").filter(mine).collect(),
    }
    cards = load_rate_cards(DataLayout(root).rate_cards_dir)
    con = duckdb.connect()
    times = rate_and_match(con, inputs, cards)
    sql_peak = peak_mb()
    load = list(os.getloadavg())
    outputs = engine_outputs(inputs, cards)
    for name in inputs:  # DuckDB holds the registered Arrow tables: let them go
        con.unregister(name)
    del inputs
    checked = check_equal(con, outputs)
    return {
        **times,
        "checked_equal_to_engine": checked,
        "load_average": load,
        "peak_rss_mb": sql_peak,
        "peak_rss_mb_with_check": peak_mb(),
    }


def sql_process_per_carrier(root: Path) -> dict:
    """`sql` of each carrier in its own process (as the engine's carrier partitions):
    times summed, peak RSS the largest."""
    runs = [_child("sql", root, None, carrier) for carrier in CARRIERS]
    out: dict = {k: sum(r[k] for r in runs) for k in runs[0] if k.startswith("sql_")}
    out["checked_equal_to_engine"] = {
        k: sum(r["checked_equal_to_engine"][k] for r in runs)
        for k in runs[0]["checked_equal_to_engine"]
    }
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    out["peak_rss_mb_with_check"] = max(r["peak_rss_mb_with_check"] for r in runs)
    out["peak_rss_mb_by_carrier"] = dict(
        zip(CARRIERS, (r["peak_rss_mb"] for r in runs), strict=True)
    )
    out["load_average"] = list(os.getloadavg())
    return out


def _child(step: str, root: Path, sample: int | None, carrier: str | None = None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.reconciliation", "--step", step, "--root", str(root)]
    if sample is not None:
        cmd += ["--baseline-sample", str(sample)]
    if carrier is not None:
        cmd += ["--carrier", carrier]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _sql_speedups(sql_run: dict, eng: dict) -> dict:
    """SQL time over engine time for rating, matching and both (wall and CPU)."""
    measures = {
        "rating": ("sql_rate", "rate"),
        "matching": ("sql_match", "match_only"),
        "rating_and_matching": ("sql_rate_and_match", "rate_and_match_only"),
    }
    out: dict = {}
    for name, (sql_key, eng_key) in measures.items():
        if f"{eng_key}_s" in eng:
            out[name] = {
                "sql_s": round(sql_run[f"{sql_key}_s"], 3),
                "engine_s": round(eng[f"{eng_key}_s"], 3),
                "wall": round(sql_run[f"{sql_key}_s"] / eng[f"{eng_key}_s"], 2),
                "cpu": round(sql_run[f"{sql_key}_cpu_s"] / eng[f"{eng_key}_cpu_s"], 2),
            }
    return out


def _speedups(base: dict, eng: dict) -> dict:
    """Baseline time over engine time, wall and CPU, for each engine measure."""
    out: dict = {}
    measures = {
        "rating": ("rate_s", "rate_cpu_s"),
        "rating_and_matching": ("rate_and_match_only_s", "rate_and_match_only_cpu_s"),
        "rating_and_full_reconciliation": ("rate_and_match_s", "rate_and_match_cpu_s"),
    }
    for name, (wall, cpu) in measures.items():
        if wall not in eng:
            continue
        out[name] = {
            "wall": round(base["baseline_s_for_all"] / eng[wall], 1),
            "cpu": round(base["baseline_cpu_s_for_all"] / eng[cpu], 1),
            "wall_vs_kernel": round(base["kernel_s_for_all"] / eng[wall], 1),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--baseline-sample", type=int, default=None)
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="prepare into (or reuse data already in) this folder",
    )
    parser.add_argument(
        "--per-carrier",
        action="store_true",
        help="engine: read, rate and reconcile one carrier at a time (bounded memory)",
    )
    parser.add_argument(
        "--process-per-carrier",
        action="store_true",
        help="engine: as --per-carrier, each carrier in its own process",
    )
    parser.add_argument("--no-row-by-row", action="store_true", help="skip the row-by-row baseline")
    parser.add_argument("--no-sql", action="store_true", help="skip the DuckDB SQL baseline")
    parser.add_argument("--carrier", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--step",
        choices=("all", "engine", "engine-per-carrier", "baseline", "sql"),
        default="all",
    )
    args = parser.parse_args(argv)
    if args.step == "sql":
        print(json.dumps(sql(args.root, args.carrier)))
        return
    if args.step == "engine":
        print(json.dumps(engine(args.root)))
        return
    if args.step == "engine-per-carrier":
        print(json.dumps(engine_per_carrier(args.root, args.carrier)))
        return
    if args.step == "baseline":
        print(json.dumps(baseline(args.root, args.baseline_sample)))
        return
    with tempfile.TemporaryDirectory(dir=args.root) as tmp:
        root = args.keep or Path(tmp)
        prepared = args.keep is not None and (root / "bill_headers.parquet").exists()
        if args.keep is not None:
            root.mkdir(parents=True, exist_ok=True)
        report: dict = {
            "prepare": {"reused": str(root)}
            if prepared
            else prepare(root, args.shipments, args.seed)
        }
        if args.process_per_carrier:
            report["engine"] = engine_process_per_carrier(root)
        else:
            report["engine"] = _child(
                "engine-per-carrier" if args.per_carrier else "engine", root, None
            )
        if not args.no_sql:
            split = args.process_per_carrier or args.per_carrier
            report["sql"] = sql_process_per_carrier(root) if split else _child("sql", root, None)
            report["speedup_vs_sql"] = _sql_speedups(report["sql"], report["engine"])
        if not args.no_row_by_row:
            report["baseline"] = _child("baseline", root, args.baseline_sample)
            report["speedup"] = _speedups(report["baseline"], report["engine"])
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
