"""Every generated input file passes the project's own loader validation, untouched."""

from __future__ import annotations

import polars as pl

from pipelines.contracts import INPUT_TABLES, contract
from pipelines.contracts.inputs import DAILY_TABLES, REFERENCE_TABLES
from storage.loading.validation import validate_files

from .conftest import Generated


def test_files_validate_against_the_contracts(generated: Generated) -> None:
    references: dict[str, pl.DataFrame] = {}
    for table in REFERENCE_TABLES:
        files = sorted((generated.root / table.name).iterdir())
        assert [f.name for f in files] == [f"{table.name}.csv"]
        batch = validate_files(files, table, references=references)
        assert batch.rejected_files == [] and batch.quarantined.height == 0, batch.violations
        references[table.name] = batch.valid
    for table in DAILY_TABLES:
        files = sorted((generated.root / table.name).iterdir())
        batch = validate_files(files, table, references=references)
        assert batch.rejected_files == [], table.name
        assert batch.quarantined.height == 0, (table.name, batch.violations.head())
        assert batch.valid.height == generated.summary.rows[table.name]


def test_parquet_files_carry_the_contract_schema_exactly(generated: Generated) -> None:
    for name in ("movements", "snapshots"):
        for path in sorted((generated.root / name).iterdir()):
            assert pl.read_parquet_schema(path) == dict(contract(name).schema), path


def test_csv_files_read_with_the_contract_schema(generated: Generated) -> None:
    for table in INPUT_TABLES:
        for path in sorted((generated.root / table.name).glob("*.csv")):
            header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
            assert header == table.column_names, path
            pl.read_csv(path, schema=table.schema)  # raises on any value of the wrong type
