"""Cost a range of days against the warehouse, carrying state through checkpoints.

Why checkpoints: each day's costing starts from the previous day's open layers
(issue 3), and a late document dated D makes the run recost forward from D
(DOMAIN.md, "Late (backdated) documents"). The carried state at the end of a
day is stored as a checkpoint; a run starts from the latest checkpoint before
the first day it must (re)compute, or from the beginning of history when there
is none. A long range is costed in chunks of `chunk_days`, each saving its
checkpoint, which bounds memory and leaves restart points for later recosts;
chunks give the same figures as one call (tests/costing/test_incremental.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import polars as pl

from pipelines.costing import CostingPolicy, CostingResult, CostingState, cost_range
from pipelines.costing.invariants import (
    journal_balance_violations,
    negative_layer_violations,
    open_layers_vs_balance_violations,
    roll_forward_violations,
)
from pipelines.costing.state import SCHEMAS
from pipelines.loading.validation import PROVENANCE
from pipelines.warehouse import read_table, replace_slice, table_exists

CHECKPOINT_PREFIX = "costing_state_"
RECENT_DAYS = 31
"""A computed range shorter than this is costed day by day, leaving a checkpoint per day."""
AS_OF = "as_of"

# Output table -> the date column that places its rows on a day.
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

    @property
    def restated_days(self) -> int:
        """Days before the requested range that had to be recosted (late documents)."""
        return (self.requested[0] - self.computed[0]).days


def cost_days(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    policy: CostingPolicy | None = None,
    chunk_days: int = 31,
) -> CostingRun:
    """Cost [start, end] (and any earlier day a late document needs), store everything."""
    policy = policy or CostingPolicy()
    late_from = _earliest_late_day(con, start, end, policy)
    wanted = min(start, late_from) if late_from else start
    checkpoint = _latest_checkpoint_before(con, wanted)
    if checkpoint is None:
        first_day = _first_movement_day(con) or wanted
        first = min(wanted, first_day)
        state = None
    else:
        first = checkpoint + timedelta(days=1)
        state = _load_checkpoint(con, checkpoint)
    run = CostingRun((start, end), (first, end), late_from)
    # Checkpoints from `first` on were built without what this run now knows (a late
    # document): left in place, a later recost would start from a stale state.
    _drop_checkpoints_from(con, first)
    # Recent days get a checkpoint each, so recosting a few late days restarts close by.
    if (end - first).days < RECENT_DAYS:
        chunk_days = 1
    chunk_start = first
    while chunk_start <= end:
        chunk_end = min(end, chunk_start + timedelta(days=chunk_days - 1))
        # Every chunk sees what is known by the end of the run, as one call over the range
        # would: a document loaded later than its chunk but by `end` belongs in its chunk.
        inputs = _inputs(con, chunk_start, chunk_end, policy, known_by=end)
        result = cost_range(inputs, state, chunk_start, chunk_end, policy)
        outputs = _outputs(result, inputs)
        outputs["costing_ageing_changes"] = _close_emptied_buckets(
            con, outputs["costing_ageing_changes"], chunk_start
        )
        _store(con, chunk_start, chunk_end, outputs, result.end_state)
        _tally(run, result, outputs)
        state = result.end_state
        chunk_start = chunk_end + timedelta(days=1)
    return run


def _tally(run: CostingRun, result: CostingResult, outputs: dict[str, pl.DataFrame]) -> None:
    """Add one chunk's row counts and invariant violations to the run's summary."""
    for name, frame in outputs.items():
        run.counts[name] = run.counts.get(name, 0) + frame.height
    found = {
        "roll_forward": roll_forward_violations(result.valuation),
        "open_layers_equal_balance": open_layers_vs_balance_violations(result),
        "no_negative_layer": negative_layer_violations(result.open_layers),
        "journal_balanced": journal_balance_violations(result.journals),
    }
    for name, frame in found.items():
        if name in run.violations:
            frame = pl.concat([run.violations[name], frame], how="diagonal_relaxed")
        run.violations[name] = frame


def _day_of(column: str) -> str:
    return f'CAST("{column}" AS DATE)'


def _earliest_late_day(
    con: duckdb.DuckDBPyConnection, start: date, end: date, policy: CostingPolicy
) -> date | None:
    """The earliest business day of documents loaded in [start, end] but dated before start.

    Documents dated inside a closed period are not recosted there: the engine posts them
    on the first open day, so they do not pull the run back.
    """
    floor = policy.closed_before or date.min
    days = []
    for table, column in (("movements", "occurred_at"), ("landed_costs", "posted_at")):
        if not table_exists(con, table):
            continue
        found = con.sql(
            f'SELECT min({_day_of(column)}) FROM "{table}" '
            f'WHERE "_load_date" BETWEEN ? AND ? AND {_day_of(column)} < ? '
            f"AND {_day_of(column)} >= ?",
            params=[start, end, start, floor],
        ).fetchall()[0][0]
        if found is not None:
            days.append(found)
    return min(days) if days else None


def _first_movement_day(con: duckdb.DuckDBPyConnection) -> date | None:
    if not table_exists(con, "movements"):
        return None
    return con.sql(f"SELECT min({_day_of('occurred_at')}) FROM movements").fetchall()[0][0]


SAVED = CHECKPOINT_PREFIX + "saved"
"""One row per checkpoint day: a day's frames may all be empty, the marker still says it exists."""


def _latest_checkpoint_before(con: duckdb.DuckDBPyConnection, day: date) -> date | None:
    if not table_exists(con, SAVED):
        return None
    query = f'SELECT max("{AS_OF}") FROM "{SAVED}" WHERE "{AS_OF}" < ?'
    return con.sql(query, params=[day]).fetchall()[0][0]


def _load_checkpoint(con: duckdb.DuckDBPyConnection, day: date) -> CostingState:
    frames = {}
    for name, schema in SCHEMAS.items():
        table = CHECKPOINT_PREFIX + name
        frame = read_table(con, table, f'"{AS_OF}" = ?', [day], schema=schema)
        frames[name] = frame.drop(AS_OF, strict=False)
    return CostingState.from_frames(frames)


def _save_checkpoint(con: duckdb.DuckDBPyConnection, day: date, state: CostingState) -> None:
    for name, frame in state.frames().items():
        stamped = frame.with_columns(pl.lit(day).alias(AS_OF))
        replace_slice(con, CHECKPOINT_PREFIX + name, stamped, {AS_OF: day})
    replace_slice(con, SAVED, pl.DataFrame({AS_OF: [day]}), {AS_OF: day})


def _drop_checkpoints_from(con: duckdb.DuckDBPyConnection, day: date) -> None:
    """Forget checkpoints at or after `day`; those after the run's end are rebuilt by the next
    run, which then starts from this run's last checkpoint and recosts forward."""
    for name in [*SCHEMAS, "saved"]:
        table = CHECKPOINT_PREFIX + name
        if table_exists(con, table):
            con.execute(f'DELETE FROM "{table}" WHERE "{AS_OF}" >= ?', [day])


def _close_emptied_buckets(
    con: duckdb.DuckDBPyConnection, changes: pl.DataFrame, start: date
) -> pl.DataFrame:
    """Zero rows on `start` for (pool, bucket)s stored as open before it but absent now.

    A chunk's ageing starts with every bucket holding stock on its first day; a bucket
    that emptied across the chunk boundary is simply absent, so without an explicit zero
    the previous chunk's last figure would still show through the as-of report.
    """
    before = ageing_on_days(con, [start - timedelta(days=1)])
    if before.is_empty():
        return changes
    key = ["company", "warehouse", "sku", "bucket_no", "bucket"]
    present = changes.filter(pl.col("day") == start).select(key)
    emptied = before.join(present, on=key, how="anti").select(
        *key,
        pl.lit(start).alias("day"),
        pl.lit(0, pl.Int64).alias("quantity"),
        pl.lit(0).cast(changes.schema["value"]).alias("value"),
    )
    return pl.concat([changes, emptied.select(changes.columns).cast(dict(changes.schema))])


def _inputs(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    policy: CostingPolicy,
    known_by: date | None = None,
) -> dict[str, pl.DataFrame]:
    """The engine's inputs for [start, end] as known at the end of `known_by` (default `end`)."""
    known_by = known_by or end
    visible = '"_load_date" <= ?'
    dated = f"{_day_of('occurred_at')} BETWEEN ? AND ?"
    params: list = [known_by, start, end]
    where = f"{visible} AND ({dated}"
    if policy.closed_before is not None:
        where += f' OR ({_day_of("occurred_at")} < ? AND "_load_date" BETWEEN ? AND ?)'
        params += [policy.closed_before, start, end]
    where += ")"
    movements = _movement_frame(con, where, params)
    landed = _landed_frame(con, start, end, known_by)
    if landed.height:
        referenced = landed["receipt_reference"].unique().to_list()
        receipts = _movement_frame(
            con,
            f"{visible} AND movement_type = 'RECEIPT' AND reference IN (SELECT unnest(?)) "
            f"AND {_day_of('occurred_at')} < ?",
            [known_by, referenced, start],
        )
        movements = pl.concat([movements, receipts]).unique("movement_id", keep="first")
    return {
        "movements": movements,
        "landed_costs": landed,
        "fx_rates": read_table(con, "fx_rates").drop(PROVENANCE, strict=False),
        "companies": read_table(con, "companies").drop(PROVENANCE, strict=False),
        "skus": read_table(con, "skus").drop(PROVENANCE, strict=False),
    }


def _movement_frame(con: duckdb.DuckDBPyConnection, where: str, params: list) -> pl.DataFrame:
    frame = read_table(con, "movements", where, params)
    return frame.rename({"_load_date": "load_date"}).drop("_source_file", "_source_row")


def _landed_frame(
    con: duckdb.DuckDBPyConnection, start: date, end: date, known_by: date
) -> pl.DataFrame:
    if not table_exists(con, "landed_costs"):
        return pl.DataFrame()
    where = f'"_load_date" <= ? AND {_day_of("posted_at")} BETWEEN ? AND ?'
    frame = read_table(con, "landed_costs", where, [known_by, start, end])
    return frame.drop(PROVENANCE, strict=False)


def _outputs(result: CostingResult, inputs: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The result's per-day tables, each with the date column `DAILY_OUTPUTS` names."""
    dated = pl.concat(
        [
            inputs["movements"].select("movement_id", pl.col("occurred_at").dt.date().alias("day")),
            inputs["landed_costs"].select(
                pl.col("landed_cost_id").alias("movement_id"),
                pl.col("posted_at").dt.date().alias("day"),
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
) -> None:
    for table, frame in outputs.items():
        column = DAILY_OUTPUTS[table]
        replace_slice(con, table, frame, {column: (start, end)})
    _save_checkpoint(con, end, state)


def valuation_on_days(con: duckdb.DuckDBPyConnection, days: list[date]) -> pl.DataFrame:
    """Full inventory valuation (closing qty and value of every pool with stock) per day.

    The warehouse keeps change rows (a pool's figures hold until its next row); an
    ASOF join picks, for every pool and day, the last row on or before that day.
    """
    return _as_of_report(
        con, "costing_valuation", days, ["company", "warehouse", "sku"],
        ["closing_qty", "closing_value"], "closing_qty",
    )  # fmt: skip


def ageing_on_days(con: duckdb.DuckDBPyConnection, days: list[date]) -> pl.DataFrame:
    """Full stock ageing (quantity and value per pool and bucket) per day."""
    return _as_of_report(
        con, "costing_ageing_changes", days,
        ["company", "warehouse", "sku", "bucket_no", "bucket"], ["quantity", "value"], "quantity",
    )  # fmt: skip


def _as_of_report(
    con: duckdb.DuckDBPyConnection,
    table: str,
    days: list[date],
    key: list[str],
    values: list[str],
    nonzero: str,
) -> pl.DataFrame:
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
        WHERE c."{nonzero}" <> 0
        ORDER BY k.day, {keys}
    """
    return con.sql(query, params=[days]).pl()
