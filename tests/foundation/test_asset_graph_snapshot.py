"""A snapshot of every asset's spec, so an accidental change to the graph shows up in review.

After an intended change: `RECKON_UPDATE_SNAPSHOT=1 uv run pytest tests/foundation/test_asset_graph_snapshot.py`
and commit the new `asset_graph.json` with the change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from assets.definitions import defs

SNAPSHOT = Path(__file__).with_name("asset_graph.json")


def describe_graph() -> dict[str, dict[str, object]]:
    graph = defs.resolve_asset_graph()
    described: dict[str, dict[str, object]] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        policy = node.backfill_policy
        described[key.to_user_string()] = {
            "group": node.group_name,
            "partitions": str(node.partitions_def) if node.partitions_def else None,
            "backfill": policy.policy_type.value if policy else None,
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "checks": sorted(c.name for c in node.check_keys),
            "automation": str(node.automation_condition) if node.automation_condition else None,
        }
    jobs = sorted(j.name for j in defs.jobs or [])
    schedules = sorted(s.name for s in defs.schedules or [])
    sensors = sorted(s.name for s in defs.sensors or [])
    return {"assets": described, "jobs": jobs, "schedules": schedules, "sensors": sensors}


def test_the_code_location_loads_as_the_webserver_loads_it() -> None:
    """Catches what resolving one job does not: e.g. a job named like an asset's op."""
    dg.Definitions.validate_loadable(defs)


def test_asset_graph_matches_snapshot() -> None:
    current = describe_graph()
    if os.environ.get("RECKON_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert current == expected, (
        "the asset graph changed; if intended, regenerate with RECKON_UPDATE_SNAPSHOT=1"
    )
