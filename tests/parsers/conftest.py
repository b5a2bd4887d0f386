"""Fixtures for the parser tests: the shared samples and demo bills written by demo/bills."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from parsers.registry import Registry

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples"
DEMO_CARRIERS = ("DHL", "UPS", "FOURPX", "YUNEXPRESS", "YANWEN")


def samples_dir(sub: str) -> Path:
    """A folder of /work/shared/samples, or skip: the samples are not part of the repo."""
    folder = SAMPLES / sub
    if not folder.is_dir():
        pytest.skip(
            f"shared samples not present at {folder.resolve()} (they live outside the repo)"
        )
    return folder


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry.default(use_entry_points=False)


def expected_lines(lines: pl.DataFrame, bill_number: str) -> pl.DataFrame:
    """The generator's canonical lines of one bill, in the columns parsers must recover."""
    return (
        lines.filter(pl.col("bill_number") == bill_number)
        .sort("line_number")
        .select(
            "line_number",
            "tracking_number",
            "shipment_date",
            "billed_weight_kg",
            "zone",
            "destination_country",
            "charge_type",
            "amount",
        )
    )
