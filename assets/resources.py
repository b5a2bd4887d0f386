"""The one resource every asset uses: where the data lives and how to reach the warehouse.

The embedded default is a folder with a DuckDB file inside; a deployment
changes only this configuration (STYLE.md, hooli: resources chosen by
environment, assets untouched).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.layout import DataLayout
from pipelines.warehouse import connect

DEFAULT_DATA_DIR = "demo_data"


def default_data_dir() -> str:
    """RECKON_DATA_DIR, else ./demo_data (what `make demo` generates)."""
    return os.environ.get("RECKON_DATA_DIR", str(Path.cwd() / DEFAULT_DATA_DIR))


class ReckonResource(dg.ConfigurableResource):
    """Data directory, and optional overrides for the warehouse file and the exports folder."""

    data_dir: str
    warehouse_path: str | None = None
    exports_dir: str | None = None

    @property
    def layout(self) -> DataLayout:
        return DataLayout(
            root=Path(self.data_dir),
            warehouse_path=Path(self.warehouse_path) if self.warehouse_path else None,
            exports_path=Path(self.exports_dir) if self.exports_dir else None,
        )

    @contextmanager
    def warehouse(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.layout.warehouse_db) as con:
            yield con
