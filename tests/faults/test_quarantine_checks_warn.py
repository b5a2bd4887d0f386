"""A quarantined bill fails a warning on each bill asset that takes bills in, the reason first
(issue 11, point 4): the other bills are parsed and reconciled, and `reckon run` still exits 4
from the counts (reckon/summary.py), not from the severity."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from demo.bills import write_bills
from demo.bills.samples import sample_bills
from reckon.runner import run_bills
from storage.layout import DataLayout


def test_a_quarantined_bill_fails_warnings_that_name_the_file_and_reason_first(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    layout = DataLayout(data)
    headers, lines = sample_bills("DHL", shipments_per_bill=(4,))
    write_bills("DHL", headers, lines, layout)
    (layout.bills_inbox / "DHL" / "DHL-damaged.pdf").write_bytes(b"%PDF-1.4 not a pdf at all")
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_bills(data, instance, log_level="WARNING")
    assert result is not None and result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    for name in ("no_file_quarantined", "quarantine_is_empty"):
        check = checks[name]
        assert check.passed is False, name
        assert check.severity == dg.AssetCheckSeverity.WARN, name
        assert next(iter(check.metadata)) == "reason", f"{name}: the reason comes first"
        reason = check.metadata["reason"].value
        assert isinstance(reason, str)
        assert reason.startswith("1 file(s) quarantined; DHL-damaged.pdf: "), reason
        assert check.description == reason, "the evaluation's description too"
