"""Costing checkpoints in the warehouse: the carried state at the end of a day.

A run starts from the latest checkpoint before the first day it must (re)compute
(runs/costing.py); these functions read, write and forget them. Each state
frame has its own table (`costing_state_<name>`), stamped with its day (`as_of`); the
tables' contracts are in pipelines/contracts/checkpoints.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import duckdb
import polars as pl

from pipelines.contracts import checkpoints
from pipelines.contracts.checkpoints import AS_OF, CHECKPOINT_PREFIX
from pipelines.costing import CostingState
from pipelines.costing.state import SCHEMAS
from storage.warehouse import read_table, replace_slice, table_exists

SAVED = checkpoints.SAVED.name
AGEING = checkpoints.AGEING.name
EXTRA = ["saved", "ageing"]


def latest_checkpoint_before(con: duckdb.DuckDBPyConnection, day: date) -> date | None:
    if not table_exists(con, SAVED):
        return None
    query = f'SELECT max("{AS_OF}") FROM "{SAVED}" WHERE "{AS_OF}" < ?'
    return con.sql(query, params=[day]).fetchall()[0][0]


def load_checkpoint(con: duckdb.DuckDBPyConnection, day: date) -> CostingState:
    frames = {}
    for name, schema in SCHEMAS.items():
        table = CHECKPOINT_PREFIX + name
        frame = read_table(con, table, f'"{AS_OF}" = ?', [day], schema=schema)
        frames[name] = frame.drop(AS_OF, strict=False)
    return CostingState.from_frames(frames)


def drop_outdated_checkpoints(con: duckdb.DuckDBPyConnection) -> None:
    """Forget every checkpoint when a checkpoint table's columns differ from the state's
    (written by an earlier version of the engine): the run then recosts from the start."""
    for name, schema in SCHEMAS.items():
        table = CHECKPOINT_PREFIX + name
        if not table_exists(con, table):
            continue
        columns = [r[0] for r in con.sql(f'DESCRIBE "{table}"').fetchall()]
        if columns != [*schema, AS_OF]:
            for other in [*SCHEMAS, *EXTRA]:
                con.execute(f'DROP TABLE IF EXISTS "{CHECKPOINT_PREFIX + other}"')
            return


def save_checkpoint(con: duckdb.DuckDBPyConnection, day: date, state: CostingState) -> None:
    # Issue costs are not carried: the next run reads the ones it needs from costing_cogs.
    state = replace(state, issue_costs=state.issue_costs.clear())
    for name, frame in state.frames().items():
        stamped = frame.with_columns(pl.lit(day).alias(AS_OF))
        replace_slice(con, CHECKPOINT_PREFIX + name, stamped, {AS_OF: day})
    replace_slice(con, SAVED, pl.DataFrame({AS_OF: [day]}), {AS_OF: day})


def drop_checkpoints_from(con: duckdb.DuckDBPyConnection, day: date) -> None:
    """Forget checkpoints at or after `day`; those after the run's end are rebuilt by the next
    run, which then starts from this run's last checkpoint and recosts forward."""
    for name in [*SCHEMAS, *EXTRA]:
        table = CHECKPOINT_PREFIX + name
        if table_exists(con, table):
            con.execute(f'DELETE FROM "{table}" WHERE "{AS_OF}" >= ?', [day])
