"""Reading what a Dagster run recorded, for the asset tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dagster as dg


def latest_by_partition(
    results: Iterable[dg.ExecuteInProcessResult], asset: str
) -> dict[str, Mapping[str, dg.MetadataValue]]:
    """Partition key -> metadata of the last materialization of `asset` in `results` (in
    order): what the UI shows first for the partition. A range run's own materialization
    is followed by one per partition with that partition's own figures."""
    latest: dict[str, Mapping[str, dg.MetadataValue]] = {}
    for result in results:
        for event in result.get_asset_materialization_events():
            materialization = event.materialization
            if materialization.asset_key.path == [asset] and materialization.partition:
                latest[materialization.partition] = materialization.metadata
    return latest
