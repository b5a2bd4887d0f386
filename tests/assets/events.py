"""Reading what a Dagster run recorded, for the asset tests."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg


def observations_by_partition(
    result: dg.ExecuteInProcessResult, asset: str
) -> dict[str, Mapping[str, dg.MetadataValue]]:
    """Partition key -> metadata of each AssetObservation the run logged for `asset`."""
    observed = {}
    for event in result.all_events:
        if event.event_type_value != "ASSET_OBSERVATION":
            continue
        observation = event.asset_observation_data.asset_observation
        if observation.asset_key.path == [asset]:
            observed[observation.partition] = observation.metadata
    return observed
