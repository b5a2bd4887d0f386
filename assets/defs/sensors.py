"""The bill inbox sensor: new files become partitions and are parsed; quarantine is retried.

A batch of new files is requested as one run over their (contiguous, just
added) partition range, so parsing uses both cores; a quarantined file is
requested again, once, whenever the registry fingerprint (every parser and
template version) differs from the one it failed under.
"""

import hashlib

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from assets.bill_files import scan_inbox
from assets.defs.bills import GROUP, bill_file_partitions
from assets.resources import ReckonResource
from parsers.ingest import list_quarantined
from parsers.registry import Registry

bills_job = dg.define_asset_job(
    name="bills",
    selection=dg.AssetSelection.groups(GROUP),
    description="Raw-store, parse or quarantine bill files (one partition per file).",
)


def new_files_run_request(keys: list[str]) -> dg.RunRequest:
    """One run for all of `keys` (already contiguous at the end of the partition set)."""
    batch_id = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    if len(keys) == 1:
        return dg.RunRequest(run_key=f"parse:{batch_id}", partition_key=keys[0])
    return dg.RunRequest(
        run_key=f"parse:{batch_id}",
        tags={ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]},
    )


@dg.sensor(
    job=bills_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches bills/inbox/<CARRIER>/ for new files and retries quarantined ones.",
)
def bill_inbox_sensor(
    context: dg.SensorEvaluationContext, reckon: ReckonResource
) -> dg.SensorResult | dg.SkipReason:
    layout = reckon.layout
    files = scan_inbox(layout.bills_inbox)
    known = set(context.instance.get_dynamic_partitions(bill_file_partitions.name))
    new_keys = [f.partition_key for f in files if f.partition_key not in known]
    fingerprint = Registry.default().fingerprint()
    key_by_sha = {f.sha256: f.partition_key for f in files}
    retry_keys = [
        key_by_sha[r.sha256]
        for r in list_quarantined(layout.quarantine_dir / "bills")
        if r.registry_fingerprint != fingerprint and key_by_sha.get(r.sha256) in known
    ]
    if not new_keys and not retry_keys:
        return dg.SkipReason(f"{len(files)} inbox files, none new, no quarantine to retry")
    requests = [new_files_run_request(new_keys)] if new_keys else []
    requests += [
        dg.RunRequest(run_key=f"retry:{key}:{fingerprint[:12]}", partition_key=key)
        for key in retry_keys
    ]
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[bill_file_partitions.build_add_request(new_keys)]
        if new_keys
        else [],
    )
