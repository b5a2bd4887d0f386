"""What `reconcile` returns: the period's outputs, and its findings held or in a sink."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.reconciliation.line_order import in_line_order, merge_in_line_order
from pipelines.reconciliation.sink import FindingsSink


@dataclass(frozen=True)
class ReconciliationResult:
    """What `reconcile` returns. The findings are either held in memory (no sink) or
    in Parquet parts (`finding_parts`, one per bucket): read them lazily with
    `scan_findings()`, or collect them in line order with `findings`."""

    period_summary: pl.DataFrame
    payable_vouchers: pl.DataFrame
    disputes: pl.DataFrame
    accruals: pl.DataFrame
    """The accrual journal: ACCRUE and RELEASE entries of the period."""
    accrual_rollforward: pl.DataFrame
    finding_parts: tuple[Path, ...] = ()
    """With a sink: the parts holding the findings, bucket by bucket (each in line
    order; buckets are by tracking number, so the parts together are not)."""
    findings_in_memory: pl.DataFrame | None = None
    """Without a sink: the findings, in line order."""
    sink: FindingsSink | None = field(default=None, repr=False, compare=False)
    """The sink that wrote `finding_parts` (it reads them back)."""

    @property
    def findings(self) -> pl.DataFrame:
        """Every finding, in line order (FINDINGS schema). With a sink this reads and
        sorts all the parts: for small periods and tests; use `scan_findings()` for
        large ones. Not cached, so it holds no memory after use."""
        if self.findings_in_memory is not None:
            return self.findings_in_memory
        whole = self.scan_findings().collect()
        return merge_in_line_order([whole]) if not in_line_order(whole) else whole

    def scan_findings(self) -> pl.LazyFrame:
        """The findings as a LazyFrame: the parts (bucket order) or the in-memory frame
        (line order). Aggregate or filter it without loading every finding."""
        if self.findings_in_memory is not None:
            return self.findings_in_memory.lazy()
        if self.sink is None:
            raise ValueError("a result without findings in memory needs the sink that wrote them")
        return self.sink.scan(self.finding_parts)

    @property
    def line_count(self) -> int:
        """Lines judged (= findings) in the period."""
        return int(self.period_summary["line_count"].sum())

    @property
    def unbilled(self) -> pl.DataFrame:
        """Shipments of the period never billed (finding UNBILLED), accrued."""
        return self.accruals.filter(pl.col("entry") == "ACCRUE")

    @property
    def accrual_releases(self) -> pl.DataFrame:
        return self.accruals.filter(pl.col("entry") == "RELEASE")
