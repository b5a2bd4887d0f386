"""Validate input files against their contract in one set-based pass.

Every problem becomes a violation naming the file, the row, the column and the
reason (DOMAIN.md: "never lose a row, explain every exclusion"). A row with any
violation is quarantined whole, with its original values, so a person can fix
it at the source; the valid rows load. A file that cannot be read at all, or
lacks a required column, is rejected whole with its reason.

Why not dataframely (the Polars-native validation library): its `Schema.filter` reports a
failed row as boolean rule columns with fixed names (`column|nullability`), not a reason
per cell that quotes the value ("'12.345' is not a decimal number with at most 2 decimal
places", "duplicate key (...) was already loaded on 2026-01-04"), and its `cast=True` is a
plain Polars cast, not the strict text parsing of coercion.py that refuses silent decimal
rounding. Keys already loaded on other days and foreign keys into reference tables are
joins it does not do, and its schemas are classes while ours come from the contracts, so
it would replace only the simplest checks and reasons would still be written here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from pipelines.contracts.quarantine import QUARANTINE_ROWS
from pipelines.contracts.spec import LOAD_DATE, SOURCE_FILE, SOURCE_ROW, TableContract
from storage.loading.coercion import coerce_column, reason_column
from storage.loading.reading import FileRejected, read_input_file

PROVENANCE = [SOURCE_FILE, SOURCE_ROW, LOAD_DATE]
"""Columns every loaded row carries besides its contract's: where it came from, and when."""
RAW_RECORD = "_raw_record"

VIOLATION_SCHEMA = pl.Schema(
    {
        "table": pl.String,
        "file": pl.String,
        "row": pl.Int64,
        "column": pl.String,
        "reason": pl.String,
    }
)
QUARANTINE_SCHEMA = pl.Schema(
    {c.name: c.dtype for c in QUARANTINE_ROWS.columns if c.name != "partition"}
)
"""A batch's quarantined rows: the `quarantine_rows` table's, before the load stores them
under their partition."""


@dataclass
class ValidatedBatch:
    """What one load of a table produced: rows to keep, rows to quarantine, and why."""

    table: str
    valid: pl.DataFrame
    violations: pl.DataFrame
    quarantined: pl.DataFrame
    rejected_files: list[FileRejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.valid.height + self.quarantined.height


def validate_files(
    files: Sequence[Path],
    contract: TableContract,
    load_date: date | None = None,
    references: Mapping[str, pl.DataFrame] | None = None,
    loaded_keys: pl.DataFrame | None = None,
    load_dates: Mapping[Path, date] | None = None,
) -> ValidatedBatch:
    """Validate `files` of one table (all files of one load day, or a whole reference table).

    `references` holds the already loaded reference tables that foreign keys
    point at; `loaded_keys` the keys (plus `_load_date`) already loaded by other
    days, so an id delivered twice on different days is caught. A range of days
    validates in one pass: `load_dates` gives each file its own load day.
    """
    parts: list[pl.DataFrame] = []
    rejected: list[FileRejected] = []
    warnings: list[str] = []
    for path in files:
        day = (load_dates or {}).get(path, load_date)
        try:
            part = _coerce_file(path, contract, warnings)
            parts.append(part.with_columns(pl.lit(day, dtype=pl.Date).alias(LOAD_DATE)))
        except FileRejected as exc:
            rejected.append(exc)
    if not parts:
        empty = pl.DataFrame(schema=_typed_schema(contract))
        return ValidatedBatch(
            contract.name,
            empty,
            pl.DataFrame(schema=VIOLATION_SCHEMA),
            pl.DataFrame(schema=QUARANTINE_SCHEMA),
            rejected,
            warnings,
        )
    frame = pl.concat(parts, how="vertical")
    frame = _apply_row_rules(frame, contract)
    frame = _check_keys(frame, contract, loaded_keys)
    frame = _check_foreign_keys(frame, contract, references or {})
    return _split(frame, contract, rejected, warnings)


def _typed_schema(contract: TableContract) -> pl.Schema:
    provenance = pl.Schema({SOURCE_FILE: pl.String, SOURCE_ROW: pl.Int64, LOAD_DATE: pl.Date})
    return pl.Schema({**contract.schema, **provenance})


def _coerce_file(path: Path, contract: TableContract, warnings: list[str]) -> pl.DataFrame:
    raw = read_input_file(path)
    present = set(raw.columns)
    missing_required = [c.name for c in contract.columns if c.required and c.name not in present]
    if missing_required:
        raise FileRejected(path, f"missing required column(s): {', '.join(missing_required)}")
    unknown = sorted(present - set(contract.column_names) - {SOURCE_FILE, SOURCE_ROW})
    if unknown:
        warnings.append(f"{path}: ignored unknown column(s): {', '.join(unknown)}")
    for c in contract.columns:
        if c.name not in present:
            raw = raw.with_columns(pl.lit(None, dtype=pl.String).alias(c.name))
    record = pl.struct(
        [pl.col(c).cast(pl.String) for c in contract.column_names]
    ).struct.json_encode()
    exprs: list[pl.Expr] = [pl.col(SOURCE_FILE), pl.col(SOURCE_ROW), record.alias(RAW_RECORD)]
    for c in contract.columns:
        parsed, reason = coerce_column(raw.schema[c.name], c)
        exprs += [parsed, reason]
    return raw.select(exprs)


def _add_reason(frame: pl.DataFrame, column: str, broken: pl.Expr, why: pl.Expr) -> pl.DataFrame:
    """Record `why` on `column` where `broken`, keeping the first reason already there."""
    target = reason_column(column)
    return frame.with_columns(
        pl.when(pl.col(target).is_null() & broken.fill_null(False))
        .then(why)
        .otherwise(pl.col(target))
        .alias(target)
    )


def _apply_row_rules(frame: pl.DataFrame, contract: TableContract) -> pl.DataFrame:
    for rule in contract.rules:
        frame = _add_reason(frame, rule.column, rule.broken_when, pl.lit(rule.reason))
    if contract.daily and contract.partition_column:
        col = contract.partition_column
        day = contract.day()
        frame = _add_reason(
            frame,
            col,
            pl.col(LOAD_DATE).is_not_null() & (day > pl.col(LOAD_DATE)),
            pl.format("dated {}, after its load day {}", day, pl.col(LOAD_DATE)),
        )
    return frame


def _key_text(contract: TableContract) -> pl.Expr:
    return pl.concat_str(
        [pl.format(f"{k}={{}}", pl.col(k).cast(pl.String)) for k in contract.key], separator=", "
    )


def _check_keys(
    frame: pl.DataFrame, contract: TableContract, loaded_keys: pl.DataFrame | None
) -> pl.DataFrame:
    if not contract.key:
        return frame
    key = list(contract.key)
    first = key[0]
    copies = pl.len().over(key)
    frame = _add_reason(
        frame,
        first,
        pl.all_horizontal(pl.col(k).is_not_null() for k in key) & (copies > 1),
        pl.format("duplicate key ({}) appears {} times in this load", _key_text(contract), copies),
    )
    if loaded_keys is not None and loaded_keys.height:
        earlier = loaded_keys.select([*key, pl.col(LOAD_DATE).alias("__loaded_on")]).unique(key)
        frame = frame.join(earlier, on=key, how="left", nulls_equal=False)
        frame = _add_reason(
            frame,
            first,
            pl.col("__loaded_on").is_not_null(),
            pl.format(
                "duplicate key ({}) was already loaded on {}",
                _key_text(contract),
                pl.col("__loaded_on"),
            ),
        ).drop("__loaded_on")
    return frame


def _check_foreign_keys(
    frame: pl.DataFrame, contract: TableContract, references: Mapping[str, pl.DataFrame]
) -> pl.DataFrame:
    for fk in contract.foreign_keys:
        ref = references.get(fk.table)
        if ref is None:
            continue
        marker = f"__found_{fk.table}"
        target = (
            ref.select(
                [pl.col(r).alias(c) for c, r in zip(fk.columns, fk.ref_columns, strict=True)]
            )
            .unique()
            .with_columns(pl.lit(True).alias(marker))
        )
        frame = frame.join(target, on=list(fk.columns), how="left")
        shown = pl.concat_str(
            [pl.format(f"{c}={{}}", pl.col(c)) for c in fk.columns], separator=", "
        )
        frame = _add_reason(
            frame,
            fk.columns[0],
            pl.all_horizontal(pl.col(c).is_not_null() for c in fk.columns)
            & pl.col(marker).is_null(),
            pl.format("no match in {} for {}", pl.lit(fk.table), shown),
        ).drop(marker)
    return frame


def _split(
    frame: pl.DataFrame,
    contract: TableContract,
    rejected: list[FileRejected],
    warnings: list[str],
) -> ValidatedBatch:
    reason_cols = [reason_column(c) for c in contract.column_names]
    bad = pl.any_horizontal(pl.col(r).is_not_null() for r in reason_cols)
    violations = (
        frame.filter(bad)
        .select([SOURCE_FILE, SOURCE_ROW, *reason_cols])
        .unpivot(index=[SOURCE_FILE, SOURCE_ROW], variable_name="column", value_name="reason")
        .drop_nulls("reason")
        .select(
            pl.lit(contract.name).alias("table"),
            pl.col(SOURCE_FILE).alias("file"),
            pl.col(SOURCE_ROW).alias("row"),
            pl.col("column").str.strip_prefix("__reason__"),
            pl.col("reason"),
        )
        .sort("file", "row", "column")
    )
    each = pl.format("{}: {}", pl.col("column"), pl.col("reason"))
    reasons = violations.group_by("file", "row", maintain_order=True).agg(
        each.str.join("; ").alias("reasons")
    )
    quarantined = (
        frame.filter(bad)
        .select(
            pl.lit(contract.name).alias("table"),
            pl.col(LOAD_DATE).alias("load_date"),
            pl.col(SOURCE_FILE).alias("file"),
            pl.col(SOURCE_ROW).alias("row"),
            pl.col(RAW_RECORD).alias("record"),
        )
        .join(reasons, on=["file", "row"], how="left")
        .select(QUARANTINE_SCHEMA.names())
        .cast(QUARANTINE_SCHEMA)
    )
    valid = frame.filter(~bad).select([*contract.column_names, SOURCE_FILE, SOURCE_ROW, LOAD_DATE])
    return ValidatedBatch(contract.name, valid, violations, quarantined, rejected, warnings)
