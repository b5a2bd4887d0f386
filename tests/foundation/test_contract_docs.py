"""docs/data-contracts.md is rendered from the contracts and must match them."""

from __future__ import annotations

from pathlib import Path

from pipelines.contracts import ALL_TABLES
from pipelines.contracts.docs import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-contracts.md"


def test_committed_document_matches_the_contracts() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/data-contracts.md is stale: run "
        "`uv run python -m pipelines.contracts.docs > docs/data-contracts.md`"
    )


def test_every_table_and_column_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for table in ALL_TABLES:
        assert f"### `{table.name}`" in text
        for column in table.columns:
            assert f"| `{column.name}` |" in text
