"""A short, honest terminal summary of a run: what was produced, what failed, where to look."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import dagster as dg


def describe_run(result: dg.ExecuteInProcessResult, data: Path) -> str:
    """Materialisations per asset, failed checks, exports folder, and how to open the UI."""
    partitions: dict[str, int] = defaultdict(int)
    for event in result.get_asset_materialization_events():
        partitions[event.asset_key.to_user_string()] += 1
    failed_checks = [
        f"  - {e.asset_key.to_user_string()}: {e.check_name} ({e.severity.value})"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]
    lines = [f"Run {result.run_id}: {'succeeded' if result.success else 'FAILED'}"]
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.error
            message = error.message.strip().splitlines()[-1] if error else "unknown error"
            lines.append(f"  step {event.step_key} failed: {message}")
    lines.append(f"Assets materialised ({len(partitions)}):")
    lines += [f"  - {key}: {n} partition(s)" for key, n in sorted(partitions.items())]
    if failed_checks:
        lines.append(f"Checks that did not pass ({len(failed_checks)}):")
        lines += failed_checks
    exports = data / "exports"
    if exports.is_dir():
        files = sorted(p for p in exports.rglob("*") if p.is_file())
        lines.append(f"Exports: {len(files)} files under {exports}")
    lines.append("Open the UI: make ui   (or: uv run reckon ui --data " + str(data) + ")")
    return "\n".join(lines)
