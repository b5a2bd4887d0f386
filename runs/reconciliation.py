"""Reconcile carrier billing periods against the warehouse.

A period is keyed `<CARRIER>|<period start>` (runs/partition_keys.py). One call
prices every shipment the periods need in a single pass (rating is set-based),
reconciles each period, and replaces exactly that period's rows in every output
table, so a rerun after a late bill or a corrected rate card gives the same rows once.

A period fails alone: bad input met while rating a carrier or reconciling a period (a
bill line in another currency, two shipments with one tracking number, a missing FX
rate) or a broken invariant fails that period (or that carrier's periods), which keeps
its previous rows, and every other carrier and period is reconciled and stored. The
failed periods are recorded (`failed_periods.json` in the work folder) until a run
reconciles them, so the next sensor tick or `reckon run` retries them by itself.
"""

from __future__ import annotations

import json
import shutil
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from pipelines.contracts import contract
from pipelines.contracts.bills import BILL_HEADERS, BILL_LINES
from pipelines.contracts.inputs import SHIPMENTS
from pipelines.contracts.reconciliation import FINDINGS
from pipelines.rating import RatingResult, rate_shipments
from pipelines.rating.cards import RateCard
from pipelines.reconciliation import (
    BillingPeriod,
    CarrierSettings,
    PeriodInputs,
    ReconciliationResult,
    billed_not_split,
    billing_periods,
    lines_without_one_finding,
    order_logistics_cost,
    reconcile,
    rollforward_breaks,
    rollforward_chain_breaks,
    unpriceable_shipments,
)
from pipelines.reconciliation.config import CarriersFile
from pipelines.reconciliation.periods import period_bounds
from pipelines.tracking import normalise_tracking
from runs.dated import day_of
from runs.distributed import Executor
from runs.partition_keys import period_key, split_period_key
from runs.reconciliation_tasks import INPUT_ERRORS, reconcile_on_workers
from storage.config import load_carriers, load_rate_cards
from storage.files import write_bytes
from storage.layout import DataLayout
from storage.loading.validation import PROVENANCE
from storage.parts import ParquetFindingsSink
from storage.warehouse import (
    read_table,
    replace_slice,
    replace_slice_from_parquet,
    table_exists,
    transaction,
)

PERIOD_OUTPUTS = {
    "reconciliation_findings": "findings",
    "reconciliation_period_summary": "period_summary",
    "payable_vouchers": "payable_vouchers",
    "carrier_disputes": "disputes",
    "accrual_journal": "accruals",
    "accrual_rollforward": "accrual_rollforward",
}
STORE_MEMORY_LIMIT = "1GB"
"""DuckDB's memory limit while it loads a period's findings parts (see
`replace_slice_from_parquet`): unbounded, DuckDB held 3.4 GB for 6M findings."""
CHECKS = ("one_finding_per_line", "billed_equals_approved_plus_disputed", "accruals_roll_forward")
FAILED_PERIODS = "failed_periods.json"


def parse_period_key(key: str, carriers: CarriersFile) -> BillingPeriod:
    """The billing period a partition key names (its carrier's cycle gives the end)."""
    carrier, first = split_period_key(key)
    bounds = period_bounds(first, carriers.get(carrier).billing_cycle)
    if bounds[0] != first:
        raise ValueError(f"{key}: {first} is not the first day of a {carrier} billing period")
    return BillingPeriod(carrier, bounds[0], bounds[1])


def period_keys(layout: DataLayout, start: date, end: date) -> list[str]:
    """Every carrier's billing periods overlapping [start, end], carrier by carrier."""
    carriers = load_carriers(layout.carriers_file)
    return [
        period_key(p.carrier, p.start)
        for c in carriers.carriers
        for p in billing_periods(c, start, end)
    ]


def closed_period_keys(layout: DataLayout, first_day: date, last_day: date) -> list[str]:
    """The billing periods from the one holding `first_day` (the first data day) to the last
    one ended by `last_day`: the periods a sensor may register. An open period is not
    registered (its bills are not complete), and none before the data begins."""
    carriers = load_carriers(layout.carriers_file)
    return [
        period_key(p.carrier, p.start)
        for c in carriers.carriers
        for p in billing_periods(c, first_day, last_day)
        if p.end <= last_day
    ]


@dataclass
class PeriodOutcome:
    period: BillingPeriod
    result: ReconciliationResult
    violations: dict[str, pl.DataFrame]
    _cleanup: weakref.finalize | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> str:
        """The period's partition key."""
        return period_key(self.period.carrier, self.period.start)

    def release(self) -> None:
        """Remove the period's findings parts now (they are in the warehouse); after
        this `result.findings` / `scan_findings()` fail with a clear error."""
        if self._cleanup is not None:
            self._cleanup()


@dataclass(frozen=True)
class PeriodFailure:
    """A period not reconciled (its previous rows kept): why, and its checks' violations."""

    period: BillingPeriod
    reason: str
    violations: dict[str, pl.DataFrame] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return period_key(self.period.carrier, self.period.start)


@dataclass
class Reconciled:
    """What one call did: the periods stored, and the periods that failed alone."""

    outcomes: list[PeriodOutcome]
    failures: list[PeriodFailure]


def _remove_work(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def reconcile_periods(
    con: duckdb.DuckDBPyConnection,
    layout: DataLayout,
    keys: list[str],
    executor: Executor | None = None,
) -> Reconciled:
    """Reconcile the periods named by `keys` (in carrier and date order) and store each that
    reconciles with its invariants holding; a period (or a carrier's rating) that meets bad
    input or breaks an invariant fails alone and keeps its previous rows.

    `executor`: on a cluster (runs/distributed.py) a carrier's periods are reconciled as
    tasks side by side (runs/reconciliation_tasks.py), then checked and stored here one by
    one, as in process; by default, here, one period after another."""
    carriers = load_carriers(layout.carriers_file)
    cards = load_rate_cards(layout.rate_cards_dir)
    settings = CarrierSettings(cards, carriers)
    periods = sorted(parse_period_key(k, carriers) for k in keys)
    fx_rates = read_table(con, "fx_rates").drop(PROVENANCE, strict=False)
    companies = read_table(con, "companies").drop(PROVENANCE, strict=False)
    others = _every_carriers_tracking(con, max(p.end for p in periods))
    done = Reconciled([], [])
    # one carrier at a time: its shipments rated, its bills read, its periods reconciled,
    # then all of it dropped, so a run's memory is its largest carrier's, not the sum
    for carrier in sorted({p.carrier for p in periods}):
        mine = [p for p in periods if p.carrier == carrier]
        try:
            rating = _rate_carrier(con, carrier, max(p.end for p in mine), cards, fx_rates,
                                   companies)  # fmt: skip
        except INPUT_ERRORS as exc:
            done.failures += [PeriodFailure(p, f"rating {carrier}: {exc}") for p in mine]
            continue
        lines = _bill_table(con, "bill_lines", [carrier])
        headers = _bill_table(con, "bill_headers", [carrier])
        carrier_inputs = PeriodInputs(lines, headers, rating, mine[0], other_shipments=others)
        for outcome in _carrier_outcomes(con, layout, carrier_inputs, mine, settings, executor):
            if isinstance(outcome, PeriodFailure):
                done.failures.append(outcome)
            else:
                done.outcomes.append(outcome)
        del rating, lines, headers, carrier_inputs
    _record_failures(layout, keys, done.failures)
    return done


def _carrier_outcomes(
    con: duckdb.DuckDBPyConnection,
    layout: DataLayout,
    inputs: PeriodInputs,
    periods: list[BillingPeriod],
    settings: CarrierSettings,
    executor: Executor | None,
) -> Iterator[PeriodOutcome | PeriodFailure]:
    """Each of one carrier's periods reconciled (here, or as tasks), checked and stored;
    bad input met on the way fails that period alone."""
    url = executor.storage_url if executor is not None else None
    if executor is None or url is None:
        for period in periods:
            try:
                yield _reconcile_here(con, layout, replace(inputs, period=period), settings)
            except INPUT_ERRORS as exc:
                yield PeriodFailure(period, str(exc))
        return
    results = reconcile_on_workers(executor, url, inputs, periods, settings)
    for period, done in zip(periods, results, strict=True):
        if isinstance(done, str):
            yield PeriodFailure(period, done)
            continue
        try:
            yield _check_and_store(con, inputs.bill_lines, period, done, settings, None)
        except INPUT_ERRORS as exc:
            yield PeriodFailure(period, str(exc))


def _reconcile_here(
    con: duckdb.DuckDBPyConnection,
    layout: DataLayout,
    inputs: PeriodInputs,
    settings: CarrierSettings,
) -> PeriodOutcome | PeriodFailure:
    """Reconcile one period in this process, its findings in parts in its work folder
    (removed once stored), then check and store it."""
    period = inputs.period
    work = layout.reconciliation_work_dir(period.carrier, period.start)
    result = reconcile(inputs, settings, ParquetFindingsSink(work))
    cleanup = weakref.finalize(result, _remove_work, work)
    return _check_and_store(con, inputs.bill_lines, period, result, settings, cleanup)


def _rate_carrier(
    con: duckdb.DuckDBPyConnection,
    carrier: str,
    last_day: date,
    cards: list[RateCard],
    fx_rates: pl.DataFrame,
    companies: pl.DataFrame,
) -> RatingResult:
    """Rate the carrier's shipments up to `last_day` and store its ratings up to that day
    (later ones are kept)."""
    shipments = read_table(
        con, "shipments", f"carrier = ? AND {day_of(SHIPMENTS)} <= ?", [carrier, last_day]
    )
    rating = rate_shipments(shipments.drop(PROVENANCE, strict=False), cards, fx_rates, companies)
    rated_slice = {"carrier": carrier, "ship_date": (date.min, last_day)}
    replace_slice(con, "shipment_ratings", rating.shipment_ratings, rated_slice)
    replace_slice(con, "expected_charges", rating.expected_charges, rated_slice)
    return rating


def failed_period_keys(layout: DataLayout) -> dict[str, str]:
    """{period key: why} of every period whose last run failed and that no run has
    reconciled since: what the sensor and `reckon run` retry."""
    path = layout.work_dir / "reconciliation" / FAILED_PERIODS
    return json.loads(path.read_text()) if path.is_file() else {}


def _record_failures(layout: DataLayout, keys: list[str], failures: list[PeriodFailure]) -> None:
    """The run's keys leave the record, its failures join it (written atomically)."""
    path = layout.work_dir / "reconciliation" / FAILED_PERIODS
    failed = {k: v for k, v in failed_period_keys(layout).items() if k not in set(keys)}
    failed |= {f.key: f.reason for f in failures}
    if failed or path.is_file():
        write_bytes(path, json.dumps(dict(sorted(failed.items())), indent=2).encode())


def _every_carriers_tracking(con: duckdb.DuckDBPyConnection, last_day: date) -> pl.DataFrame:
    """tracking_number (normalised), carrier, shipment_id of every shipment up to
    `last_day`: where an unknown tracking number was shipped with another carrier."""
    if not table_exists(con, "shipments"):
        return pl.DataFrame(
            schema={"tracking_number": pl.String, "carrier": pl.String, "shipment_id": pl.String}
        )
    frame = con.sql(
        "SELECT tracking_number, carrier, shipment_id FROM shipments "
        f"WHERE {day_of(SHIPMENTS)} <= ?",
        params=[last_day],
    ).pl()
    return frame.with_columns(normalise_tracking(pl.col("tracking_number")))


def _check_and_store(
    con: duckdb.DuckDBPyConnection,
    lines: pl.DataFrame,
    period: BillingPeriod,
    result: ReconciliationResult,
    settings: CarrierSettings,
    cleanup: weakref.finalize | None,
) -> PeriodOutcome | PeriodFailure:
    """Check a reconciled period's invariants; store it only when they hold."""
    previous = _previous_rollforward(con, settings.carriers, period)
    bills = result.payable_vouchers.select(BILL_HEADERS.key)
    period_lines = (
        lines.select(BILL_LINES.key).join(bills, on=BILL_HEADERS.key)
        if lines.width
        else pl.DataFrame(schema=dict.fromkeys(BILL_LINES.key, pl.String))
    )
    violations = {
        "one_finding_per_line": lines_without_one_finding(period_lines, result.scan_findings()),
        "billed_equals_approved_plus_disputed": billed_not_split(result.scan_findings()),
        "accruals_roll_forward": pl.concat(
            [
                rollforward_breaks(result.accrual_rollforward).select("company"),
                rollforward_chain_breaks(previous, result.accrual_rollforward).select("company")
                if previous is not None
                else pl.DataFrame(schema={"company": pl.String}),
            ]
        ),
    }
    broken = {name: frame.height for name, frame in violations.items() if frame.height}
    if broken:
        if cleanup is not None:
            cleanup()
        shown = ", ".join(f"{name} ({n} violations)" for name, n in broken.items())
        return PeriodFailure(period, f"checks failed: {shown}; not stored", violations)
    _store(con, period, result)
    return PeriodOutcome(period, result, violations, cleanup)


def _bill_table(con: duckdb.DuckDBPyConnection, table: str, carriers: list[str]) -> pl.DataFrame:
    """The carriers' rows of `table`; before any bill is parsed, none, with the contract's
    columns (a period with no bill yet is reconciled as all-unbilled)."""
    if not table_exists(con, table):
        return pl.DataFrame(schema=contract(table).schema)
    return read_table(con, table, "carrier IN (SELECT unnest(?))", [carriers])


def _previous_rollforward(
    con: duckdb.DuckDBPyConnection, carriers: CarriersFile, period: BillingPeriod
) -> pl.DataFrame | None:
    """The accrual roll-forward of the carrier's previous period, when it was reconciled."""
    if not table_exists(con, "accrual_rollforward"):
        return None
    before = period_bounds(
        date.fromordinal(period.start.toordinal() - 1), carriers.get(period.carrier).billing_cycle
    )
    found = read_table(
        con, "accrual_rollforward", "carrier = ? AND period_start = ?", [period.carrier, before[0]]
    )
    return found if found.height else None


def _store(
    con: duckdb.DuckDBPyConnection, period: BillingPeriod, result: ReconciliationResult
) -> None:
    """Replace the period's rows of every output table, all in one transaction. Findings in
    parts are loaded by DuckDB from the Parquet files, sorted into line order on the way in
    (the parts are in bucket order)."""
    where = {"carrier": period.carrier, "period_start": period.start}
    with transaction(con):
        _store_outputs(con, result, where)


def _store_outputs(
    con: duckdb.DuckDBPyConnection, result: ReconciliationResult, where: dict[str, object]
) -> None:
    for table, attribute in PERIOD_OUTPUTS.items():
        if attribute == "findings" and result.finding_parts:
            replace_slice_from_parquet(
                con,
                table,
                result.finding_parts,
                where,
                order_by=FINDINGS.key,
                memory_limit=STORE_MEMORY_LIMIT,
            )
        else:
            replace_slice(con, table, getattr(result, attribute), where)


def refresh_order_logistics_cost(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per-order freight from every period reconciled so far (replaced whole: it is small)."""
    if not table_exists(con, "reconciliation_findings") or not table_exists(
        con, "shipment_ratings"
    ):
        return pl.DataFrame()
    costs = order_logistics_cost(
        read_table(con, "reconciliation_findings"),
        read_table(con, "shipment_ratings"),
        read_table(con, "companies"),
    )
    replace_slice(con, "order_logistics_cost", costs)
    return costs


SHIPMENT_COLUMNS = {
    "shipment_id": pl.String,
    "carrier": pl.String,
    "ship_date": pl.Date,
    "company": pl.String,
    "order_id": pl.String,
}


def refresh_unpriceable_shipments(
    con: duckdb.DuckDBPyConnection, layout: DataLayout
) -> pl.DataFrame:
    """Every shipment loaded that cannot be priced, with why (replaced whole): those of a
    carrier carriers.yaml does not name, and those the rating left unrated."""
    configured = [c.carrier for c in load_carriers(layout.carriers_file).carriers]
    shipments = (
        con.sql(
            "SELECT shipment_id, carrier, "
            f"{day_of(SHIPMENTS)} AS ship_date, company, order_id FROM shipments"
        ).pl()
        if table_exists(con, "shipments")
        else pl.DataFrame(schema=SHIPMENT_COLUMNS)
    )
    ratings = (
        read_table(con, "shipment_ratings")
        if table_exists(con, "shipment_ratings")
        else pl.DataFrame(schema=contract("shipment_ratings").schema)
    )
    found = unpriceable_shipments(shipments, ratings, configured)
    replace_slice(con, "unpriceable_shipments", found)
    return found
