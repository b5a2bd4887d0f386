"""Cost a range of days against the warehouse, carrying state through checkpoints.

Why checkpoints: each day's costing starts from the previous day's open layers
(issue 3), and a late, corrected or removed document dated D makes the run recost
forward from D (DOMAIN.md, "Late (backdated), corrected or removed documents"; how a
change is detected: runs/restatements.py). The carried state at the end of a
day is stored as a checkpoint; a run starts from the latest checkpoint before
the first day it must (re)compute, or from the beginning of history when there
is none, and always ends at the last day already costed if that is later than the
range asked for: a rerun of a corrected day recosts the days after it in the same run,
so no costed day is left computed from data that has since changed. A long range is
costed in chunks of `chunk_days` (longer while a chunk stays within a movement budget),
each saving its checkpoint, which bounds memory and leaves restart points for later
recosts; chunks give the same figures as one call (tests/costing/test_incremental.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import duckdb
import polars as pl

from pipelines.as_of import POOL, as_of
from pipelines.contracts.inputs import LANDED_COSTS, MOVEMENTS
from pipelines.contracts.restatements import COSTING_CLOSED_CORRECTIONS, COSTING_RESTATEMENTS
from pipelines.costing import (
    CostingPolicy,
    CostingResult,
    CostingState,
    Sharding,
    cost_range,
    cost_range_sharded,
)
from pipelines.costing.closed_period import post_difference
from pipelines.costing.invariants import (
    journal_balance_violations,
    negative_layer_violations,
    open_layers_vs_balance_violations,
    roll_forward_violations,
)
from pipelines.costing.state import SCHEMAS
from pipelines.money import money_to_cents
from runs.closed_period import (
    ClosedCorrection,
    closed_correction,
    forget_corrections,
    record_correction,
)
from runs.costing_checkpoints import (
    AGEING,
    AS_OF,
    drop_checkpoints_from,
    drop_outdated_checkpoints,
    latest_checkpoint_before,
    load_checkpoint,
    save_checkpoint,
)
from runs.costing_inputs import (
    earliest_late_day,
    engine_inputs,
    first_movement_day,
    refused_with_provenance,
)
from runs.dated import day_of
from runs.restatements import (
    DocumentChanges,
    company_figures,
    document_changes,
    record_documents,
    restatement_record,
    see_documents,
    store_restatement,
)
from storage.schema import create_table
from storage.warehouse import read_table, replace_slice, table_exists, transaction

CHUNK_MOVEMENTS = 1_000_000
"""The costing asset's movement budget per chunk (the `reckon` resource's default): one
engine call over 1M movements peaks near 3.2 GB (docs/performance.md)."""

RECENT_DAYS = 31
"""A computed range shorter than this is costed day by day, leaving a checkpoint per day."""

DAILY_OUTPUTS = {
    "costing_cogs": "posting_date",
    "costing_consumption": "posting_date",
    "costing_valuation": "day",
    "costing_ageing_changes": "day",
    "costing_journals": "posting_date",
    "costing_journal_lines": "posting_date",
    "costing_landed_cost_allocations": "posting_date",
    "costing_flags": "day",
    "costing_late_documents": "day",
}
"""Output table -> the date column that places its rows on a day."""
CHANGE_ROW_TABLES = ("costing_valuation", "costing_ageing_changes")
"""Outputs kept as change rows: exported as one day's full report instead
(`valuation_on_days`, `ageing_on_days`)."""


AGEING_KEY = [*POOL, "bucket_no", "bucket"]
AGEING_VALUES = ["quantity", "value"]

INVARIANTS = ("roll_forward", "open_layers_equal_balance", "no_negative_layer", "journal_balanced")


@dataclass
class CostingRun:
    """What one run computed: the days it (re)costed, totals, and invariant violations.

    Figures themselves are in the warehouse tables (`DAILY_OUTPUTS`); keeping only a
    summary here is what bounds a three-year run's memory to one chunk.
    """

    requested: tuple[date, date]
    computed: tuple[date, date]
    late_from: date | None
    counts: dict[str, int] = field(default_factory=dict)
    violations: dict[str, pl.DataFrame] = field(default_factory=dict)
    quarantined: list[pl.DataFrame] = field(default_factory=list)
    """Rows the engine could not cost, per chunk, with their file and row (costing_quarantine)."""
    restatement: pl.DataFrame = field(default_factory=pl.DataFrame)
    """COSTING_RESTATEMENTS rows of this run (empty: no costed day changed)."""
    restated_documents: pl.DataFrame = field(default_factory=pl.DataFrame)
    """The documents behind it (COSTING_RESTATED_DOCUMENTS without run_id)."""

    @property
    def restated_days(self) -> int:
        """Days before the requested range that had to be recosted (late documents)."""
        return (self.requested[0] - self.computed[0]).days

    @property
    def rewritten_days(self) -> list[date]:
        """Every day this run (re)wrote: the requested range and the days recosted around it
        (before it for an earlier change, after it up to the last day already costed)."""
        first, last = self.computed
        return [date.fromordinal(d) for d in range(first.toordinal(), last.toordinal() + 1)]


def cost_days(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    policy: CostingPolicy | None = None,
    chunk_days: int = 31,
    run_id: str | None = None,
    sharding: Sharding | None = None,
    chunk_movements: int | None = None,
) -> CostingRun:
    """Cost [start, end], any earlier day a changed document needs and every later day
    already costed; store everything, and the restatement record under `run_id`.

    `sharding`: each chunk costed in SKU shards (in process or on a cluster, per
    `Sharding.run`; runs/costing_shards.py), the same figures to the cent; None: one call.
    `chunk_movements`: a long range's chunk grows past `chunk_days` while it holds at most
    this many movements (a go-live backfill of a quiet ledger is then a few calls, not one
    per month, each with its fixed cost); None: chunks of `chunk_days`."""
    policy = policy or CostingPolicy()
    last_costed = latest_checkpoint_before(con, date.max)
    drop_outdated_checkpoints(con)
    # the closed-period corrections table exists (empty) without a closed period too, like
    # every table costing stores: the warehouse is its contracts
    create_table(con, COSTING_CLOSED_CORRECTIONS)
    through = max(end, last_costed) if last_costed else end
    see_documents(con, known_by=through, first_day=first_movement_day(con) or through)
    changes = document_changes(con, last_costed, policy.closed_before)
    late_from = earliest_late_day(con, start, end, policy)
    wanted = min(d for d in (start, late_from, changes.restated_from) if d is not None)
    first, state = _starting_point(con, _open_from(wanted, last_costed, policy.closed_before))
    correction = _closed_period_correction(con, policy, first, changes, through, chunk_days)
    state = correction.state if correction else state
    run = CostingRun((start, end), (first, through), late_from)
    restated = _restated_window(first, last_costed, changes)
    before = company_figures(con, *restated) if restated else None
    # Checkpoints from `first` on were built without what this run now knows (a late
    # document): left in place, a later recost would start from a stale state.
    drop_checkpoints_from(con, first)
    # Recent days get a checkpoint each, so recosting a few late days restarts close by.
    recent = (through - first).days < RECENT_DAYS
    budget = None if recent else _daily_counts(con, first, through, chunk_movements)
    for chunk in _chunks(first, through, 1 if recent else chunk_days, policy, budget):
        to_post = correction if chunk[0] == policy.closed_before else None
        state = _cost_chunk(con, run, state, chunk, policy, to_post, sharding)
    _record_restatement(con, run, run_id or f"{start}..{end}", changes, restated, before)
    return run


def _open_from(wanted: date, last_costed: date | None, closed_before: date | None) -> date:
    """The first day to recost: `wanted`, or the first open day once the closed days have
    been costed, which are never rewritten (a correction is posted on the first open day)."""
    if (
        closed_before is not None
        and last_costed is not None
        and last_costed >= closed_before - timedelta(1)
    ):
        return max(wanted, closed_before)
    return wanted


def _starting_point(
    con: duckdb.DuckDBPyConnection, wanted: date
) -> tuple[date, CostingState | None]:
    """The run's first day and the state carried into it: the day after the latest
    checkpoint before `wanted`, or the beginning of history (no state) when there is none."""
    checkpoint = latest_checkpoint_before(con, wanted)
    if checkpoint is None:
        return min(wanted, first_movement_day(con) or wanted), None
    return checkpoint + timedelta(days=1), load_checkpoint(con, checkpoint)


def _closed_period_correction(
    con: duckdb.DuckDBPyConnection,
    policy: CostingPolicy,
    first: date,
    changes: DocumentChanges,
    through: date,
    chunk_days: int,
) -> ClosedCorrection | None:
    """The closed period's correction, when the run starts on its first open day (its
    corrected state is where the run starts from, its difference posted on that day). A
    run starting inside the closed period costs those days afresh: any earlier correction
    is forgotten."""
    closed = policy.closed_before
    if closed is not None and first == closed:
        return closed_correction(con, policy, changes, through, chunk_days, _with_issue_costs)
    if closed is not None and first < closed:
        forget_corrections(con, closed)
    return None


def _cost_chunk(
    con: duckdb.DuckDBPyConnection,
    run: CostingRun,
    state: CostingState | None,
    chunk: tuple[date, date],
    policy: CostingPolicy,
    correction: ClosedCorrection | None,
    sharding: Sharding | None,
) -> CostingState:
    """Cost one chunk, store its outputs, checkpoint and refused rows in one transaction, add
    it to the run's summary, and return the state at its end. `correction`: the closed
    period's, posted on the chunk's first day (the first open day). Nothing of the chunk
    outlives the call but that state, so the next chunk is costed without this one's frames."""
    start, end = chunk
    # Every chunk sees what is known by the end of the run, as one call over the range
    # would: a document loaded after its chunk but by the run's last day belongs in it.
    inputs = engine_inputs(con, start, end, policy, known_by=run.computed[1])
    state = _with_issue_costs(con, state, inputs["movements"], start)
    chunk_policy = _chunk_policy(policy, end)
    if sharding is None:
        result = cost_range(inputs, state, start, end, chunk_policy)
    else:
        result = cost_range_sharded(inputs, state, start, end, chunk_policy, sharding)
    outputs = _outputs(result, inputs)
    if correction is not None:
        outputs = post_difference(outputs, result.opening, correction.difference, start)
    ageing_end = _ageing_at(outputs["costing_ageing_changes"], end)
    outputs["costing_ageing_changes"] = _ageing_rows_to_store(
        con, outputs["costing_ageing_changes"], start
    )
    refused = refused_with_provenance(con, result.refused)
    with transaction(con):
        _store(con, start, end, outputs, result.end_state, ageing_end)
        replace_slice(con, "costing_quarantine", refused, {"day": (start, end)})
        if correction is not None:
            record_correction(con, start, correction)
    run.quarantined.append(refused)
    _tally(run, result, outputs)
    return result.end_state


def _daily_counts(
    con: duckdb.DuckDBPyConnection, first: date, through: date, movements: int | None
) -> tuple[dict[date, int], int] | None:
    """Movements per day of [first, through] and the per-chunk budget (None: no budget)."""
    if movements is None or not table_exists(con, "movements"):
        return None
    day = day_of(MOVEMENTS)
    rows = con.sql(
        f"SELECT {day}, count(*) FROM movements WHERE {day} BETWEEN ? AND ? GROUP BY ALL",
        params=[first, through],
    ).fetchall()
    return dict(rows), movements


def _chunks(
    first: date,
    through: date,
    days: int,
    policy: CostingPolicy,
    budget: tuple[dict[date, int], int] | None,
) -> list[tuple[date, date]]:
    """The run's chunks, in order: `days` long, or longer while within the movement budget
    (a day at a time over the daily counts: a thousand days, not rows)."""
    chunks = []
    start = first
    while start <= through:
        end = _chunk_end(start, days, through, policy.closed_before)
        if budget is not None:
            counts, most = budget
            held = sum(counts.get(start + timedelta(k), 0) for k in range((end - start).days + 1))
            step = end + timedelta(days=1)
            while step <= through and held + counts.get(step, 0) <= most:
                if _chunk_end(start, (step - start).days + 1, through, policy.closed_before) < step:
                    break  # never across the closed period's first open day
                held += counts.get(step, 0)
                end, step = step, step + timedelta(days=1)
        chunks.append((start, end))
        start = end + timedelta(days=1)
    return chunks


def _chunk_end(start: date, days: int, through: date, closed_before: date | None) -> date:
    """The last day of the chunk from `start`: a chunk never spans the first open day of a
    closed period, where the engine posts the closed period's late documents."""
    end = min(through, start + timedelta(days=days - 1))
    if closed_before is not None and start < closed_before <= end:
        end = closed_before - timedelta(days=1)
    return end


def _chunk_policy(policy: CostingPolicy, end: date) -> CostingPolicy:
    """A chunk before the closed period's first open day costs its days as they were
    while open: nothing in it is re-dated (the engine re-dates only from that day on)."""
    closed = policy.closed_before
    return replace(policy, closed_before=None) if closed is not None and end < closed else policy


def _restated_window(
    first: date, last_costed: date | None, changes: DocumentChanges
) -> tuple[date, date] | None:
    """The days already costed whose figures this run may change: from the earliest
    document change (or, with none, the first day recosted) to the last day costed."""
    if last_costed is None or first > last_costed:
        return None
    restated_from = max(changes.restated_from or first, first)
    return (restated_from, last_costed) if restated_from <= last_costed else None


def _record_restatement(
    con: duckdb.DuckDBPyConnection,
    run: CostingRun,
    run_id: str,
    changes: DocumentChanges,
    window: tuple[date, date] | None,
    before: pl.DataFrame | None,
) -> None:
    """Compare the restated days' figures with what they were, and store the record
    (nothing when the run recosted no costed day, or no document changed and every
    figure is the same)."""
    through = run.computed[1]
    if window is None or before is None:
        nothing = pl.DataFrame(schema=COSTING_RESTATEMENTS.schema)
        store_restatement(con, run_id, through, nothing, changes.documents.clear())
        return
    after = company_figures(con, *window)
    record = restatement_record(run_id, through, window, changes, before, after)
    documents = changes.documents if record.height else changes.documents.clear()
    store_restatement(con, run_id, through, record, documents)
    run.restatement = record
    run.restated_documents = documents


def _with_issue_costs(
    con: duckdb.DuckDBPyConnection,
    state: CostingState | None,
    movements: pl.DataFrame,
    before: date,
) -> CostingState:
    """`state` carrying the costs of the earlier ISSUEs this chunk's RETURNs name, and no other.

    A RETURN takes the cost of its issue however old (DOMAIN.md "Customer return"). Rather
    than carry every issue ever costed from day to day, the issue's booked cost is read
    back from `costing_cogs` (kind COST: consumed + provisional, exactly what the engine
    would carry), for days before the chunk, which are final: this run has rewritten every
    day from its first on before reaching `before`, and earlier days were not recomputed.
    """
    state = state or CostingState.empty()
    returns = movements.filter(pl.col("movement_type") == "RETURN").get_column("reference")
    refs = returns.drop_nulls().unique().to_list()
    schema = SCHEMAS["issue_costs"]
    # carried in memory (a closed period's shadow recost): newer than what is stored
    carried = state.issue_costs.filter(pl.col("movement_id").is_in(refs))
    if not refs or not table_exists(con, "costing_cogs"):
        return replace(state, issue_costs=carried.cast(schema))
    found = con.sql(
        """SELECT movement_id, company, sku, quantity, amount FROM costing_cogs
           WHERE kind = 'COST' AND movement_type = 'ISSUE' AND posting_date < ?
             AND movement_id IN (SELECT unnest(?))""",
        params=[before, refs],
    ).pl()
    costs = found.select(
        "movement_id", "company", "sku", "quantity", money_to_cents("amount").alias("cost_cents")
    )
    merged = pl.concat([carried.cast(schema), costs.cast(schema)]).unique(
        "movement_id", keep="first", maintain_order=True
    )
    return replace(state, issue_costs=merged)


def _tally(run: CostingRun, result: CostingResult, outputs: dict[str, pl.DataFrame]) -> None:
    """Add one chunk's row counts and invariant violations to the run's summary."""
    for name, frame in outputs.items():
        run.counts[name] = run.counts.get(name, 0) + frame.height
    found = {
        "roll_forward": roll_forward_violations(outputs["costing_valuation"]),
        "open_layers_equal_balance": open_layers_vs_balance_violations(result),
        "no_negative_layer": negative_layer_violations(result.open_layers),
        "journal_balanced": journal_balance_violations(result.journals),
    }
    for name, frame in found.items():
        if name in run.violations:
            frame = pl.concat([run.violations[name], frame], how="diagonal_relaxed")
        run.violations[name] = frame


def _ageing_rows_to_store(
    con: duckdb.DuckDBPyConnection, changes: pl.DataFrame, start: date
) -> pl.DataFrame:
    """A chunk's ageing change rows as the warehouse keeps them, seamless with the day before.

    A chunk's ageing starts with a row for every bucket holding stock on its first day.
    A bucket that emptied across the chunk boundary is simply absent: it gets an explicit
    zero row on `start`, or the previous chunk's last figure would still show through the
    as-of report. A first-day row that repeats the figures the bucket already had the day
    before is dropped: the as-of report is the same without it, and a nightly run then
    writes the buckets that changed, not every bucket with stock.

    The buckets open the day before come from that day's checkpoint (the chunk starts
    right after one), so this reads one day's report, not the whole ageing history.
    """
    previous = start - timedelta(days=1)
    if table_exists(con, AGEING) and latest_checkpoint_before(con, start) == previous:
        before = read_table(con, AGEING, f'"{AS_OF}" = ?', [previous]).drop(AS_OF)
    else:
        before = ageing_on_days(con, [previous])
    if before.is_empty():
        return changes
    key = AGEING_KEY
    before = before.select(*key, *AGEING_VALUES).cast(
        {c: changes.schema[c] for c in (*key, *AGEING_VALUES)}
    )
    first_day = changes.filter(pl.col("day") == start)
    emptied = before.join(first_day.select(key), on=key, how="anti").select(
        *key,
        pl.lit(start).alias("day"),
        pl.lit(0, pl.Int64).alias("quantity"),
        pl.lit(0).cast(changes.schema["value"]).alias("value"),
    )
    repeated = first_day.join(before, on=[*key, "quantity", "value"], how="semi")
    kept = changes.join(repeated.select(*key, "day"), on=[*key, "day"], how="anti")
    return pl.concat([kept, emptied.select(changes.columns).cast(changes.schema)])


def _ageing_at(changes: pl.DataFrame, day: date) -> pl.DataFrame:
    """Every (pool, bucket) with stock at the end of `day`, from a chunk's change rows (which
    start with every bucket holding stock on the chunk's first day)."""
    return as_of(changes, day, AGEING_KEY, AGEING_VALUES, ["quantity"]).drop("day")


def _outputs(result: CostingResult, inputs: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The result's per-day tables, each with the date column `DAILY_OUTPUTS` names."""
    dated = pl.concat(
        [
            inputs["movements"].select("movement_id", MOVEMENTS.day().alias("day")),
            inputs["landed_costs"].select(
                pl.col("landed_cost_id").alias("movement_id"), LANDED_COSTS.day().alias("day")
            )
            if inputs["landed_costs"].height
            else pl.DataFrame(schema={"movement_id": pl.String, "day": pl.Date}),
        ]
    ).unique("movement_id")
    flags = result.flags.join(dated, on="movement_id", how="left").with_columns(
        pl.col("day").fill_null(result.start).clip(result.start, result.end)
    )
    late = result.late.with_columns(pl.col("posted_at").dt.date().alias("day"))
    return {
        "costing_cogs": result.cogs,
        "costing_consumption": result.consumption,
        "costing_valuation": result.valuation,
        "costing_ageing_changes": result.ageing,
        "costing_journals": result.journals,
        "costing_journal_lines": result.journal_lines,
        "costing_landed_cost_allocations": result.landed_cost_allocations,
        "costing_flags": flags,
        "costing_late_documents": late,
    }


def _store(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    outputs: dict[str, pl.DataFrame],
    state: CostingState,
    ageing: pl.DataFrame,
) -> None:
    """Write the chunk's outputs, and its checkpoint with the ageing report at `end`."""
    for table, frame in outputs.items():
        column = DAILY_OUTPUTS[table]
        replace_slice(con, table, frame, {column: (start, end)})
    replace_slice(con, AGEING, ageing.with_columns(pl.lit(end).alias(AS_OF)), {AS_OF: end})
    record_documents(con, start, end)
    save_checkpoint(con, end, state)


def valuation_on_days(con: duckdb.DuckDBPyConnection, days: list[date]) -> pl.DataFrame:
    """Full inventory valuation (closing qty and value of every pool with stock) per day.

    The warehouse keeps change rows (a pool's figures hold until its next row); an
    ASOF join picks, for every pool and day, the last row on or before that day: the
    rule of `pipelines.as_of.as_of`, run inside DuckDB so that years of change
    rows are not read into memory for a month-end report.
    """
    figures = ["closing_qty", "closing_value"]
    return _as_of_report(con, "costing_valuation", days, POOL, figures, figures)


def ageing_on_days(con: duckdb.DuckDBPyConnection, days: list[date]) -> pl.DataFrame:
    """Full stock ageing (quantity and value per pool and bucket) per day."""
    return _as_of_report(
        con, "costing_ageing_changes", days, AGEING_KEY, AGEING_VALUES, ["quantity"]
    )


def _as_of_report(
    con: duckdb.DuckDBPyConnection,
    table: str,
    days: list[date],
    key: list[str],
    values: list[str],
    nonzero: list[str],
) -> pl.DataFrame:
    """`values` of every `key` on each of `days` (its last change row on or before the day),
    keeping the rows where any of `nonzero` is not zero."""
    if not table_exists(con, table) or not days:
        return pl.DataFrame()
    keys = ", ".join(f'k."{c}"' for c in key)
    cols = ", ".join(f'c."{c}"' for c in values)
    on = " AND ".join(f'k."{c}" = c."{c}"' for c in key)
    query = f"""
        WITH days AS (SELECT unnest(?::DATE[]) AS day),
             keys AS (SELECT DISTINCT {", ".join(f'"{c}"' for c in key)} FROM "{table}"),
             grid AS (SELECT d.day, k.* FROM days d CROSS JOIN keys k)
        SELECT k.day, {keys}, {cols}
        FROM grid k ASOF JOIN "{table}" c ON {on} AND k.day >= c.day
        WHERE {" OR ".join(f'c."{c}" <> 0' for c in nonzero)}
        ORDER BY k.day, {keys}
    """
    return con.sql(query, params=[days]).pl()
