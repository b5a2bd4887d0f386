"""One generated demo data set shared by the demo tests (scale 1, 45 days, bills included).

The bills are also captured in canonical form on their way to the writers, so
the reconciliation cross-check can run without depending on the parsers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest

import demo.billing as billing
from demo.generate import GenerationSummary, generate
from demo.world import AnomalyRates
from pipelines.contracts import contract

START, END = date(2026, 1, 1), date(2026, 2, 14)
RATES = AnomalyRates(negative_stock_receipt=0.05)
"""More late-recorded receipts than the default, so 45 days surely have some."""


@dataclass
class Generated:
    root: Path
    summary: GenerationSummary
    headers: pl.DataFrame
    lines: pl.DataFrame

    def table(self, name: str) -> pl.DataFrame:
        schema = contract(name).schema
        files = sorted((self.root / name).iterdir())
        parts = [
            pl.read_csv(f, schema=schema) if f.suffix == ".csv" else pl.read_parquet(f)
            for f in files
        ]
        return pl.concat(parts)

    def truth(self, name: str) -> pl.DataFrame:
        return pl.read_parquet(self.root / "ground_truth" / f"{name}.parquet")


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    captured: list[tuple[pl.DataFrame, pl.DataFrame]] = []
    real = billing.write_bills

    def capture(carrier, headers, lines, layout):
        captured.append((headers, lines))
        return real(carrier, headers, lines, layout)

    root = tmp_path_factory.mktemp("demo") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(billing, "write_bills", capture)
        summary = generate(root, scale=1, seed=11, start=START, end=END, rates=RATES)
    return Generated(
        root,
        summary,
        pl.concat([h for h, _ in captured]),
        pl.concat([line for _, line in captured]),
    )
