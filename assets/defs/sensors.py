"""Sensors: the bill inbox, and reconciliation reruns.

Bill inbox: new files become partitions and are parsed; a batch of new files is
one run over their (contiguous, just added) partition range, so parsing uses
both cores; a quarantined file is requested again, once, whenever the registry
fingerprint (every parser and template version) differs from the one it failed
under. A file whose bytes left the inbox (removed, or replaced by a corrected file under
its name) is run again, which withdraws it; one back in the inbox is taken in again.
When what the inbox holds besides bill files (links, special files, nested
folders...: runs/inbox.py) changes, `bill_quarantine` is refreshed, so its check
reports them even when no new bill arrives. Reconciliation: see `reconciliation_sensor`.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from assets.defs.bills import BILL_FILE_KEYS, GROUP, bill_file_partitions
from assets.defs.reconciliation import CARRIER_PERIOD_KEYS, carrier_period_partitions
from assets.partition_ranges import covering_range_tags, range_tags
from assets.resources import ReckonResource
from parsers.registry import Registry
from runs.inbox import RefusedEntry, absent_keys, inbox_work
from runs.partition_keys import bill_file_key_carrier, period_key_carrier
from runs.reconciliation import closed_period_keys, failed_period_keys
from storage.layout import DataLayout

bills_job = dg.define_asset_job(
    name="bills",
    selection=dg.AssetSelection.groups(GROUP) - dg.AssetSelection.assets("api_bill_pulls"),
    description="Raw-store, parse or quarantine bill files (one partition per file).",
)


def new_files_run_request(keys: list[str]) -> dg.RunRequest:
    """One run for all of `keys` (already contiguous at the end of the partition set)."""
    batch_id = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    if len(keys) == 1:
        return dg.RunRequest(run_key=f"parse:{batch_id}", partition_key=keys[0])
    return dg.RunRequest(run_key=f"parse:{batch_id}", tags=range_tags(keys[0], keys[-1]))


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
    registered = context.instance.get_dynamic_partitions(BILL_FILE_KEYS)
    work = inbox_work(layout.bills_inbox, registered)
    survey, new_keys = work.survey, work.new_keys
    files = survey.files
    refused = refused_digest(survey.refused)
    fingerprint = Registry.default().fingerprint()
    retry_keys = work.retry_keys(layout.quarantine_dir / "bills", fingerprint)
    before = inbox_cursor(context.cursor)
    refresh = refused != before["refused"] and not new_keys
    # files whose bytes left the inbox are withdrawn, files back are taken in again
    gone = absent_keys(files, registered)
    moved = sorted(set(gone) ^ set(before["gone"]), key=registered.index)
    if not new_keys and not retry_keys and not refresh and not moved:
        return dg.SkipReason(
            f"{len(files)} inbox files, none new, no quarantine to retry; "
            f"{len(survey.refused)} inbox entries refused (see bill_quarantine)"
        )
    requests = [new_files_run_request(new_keys)] if new_keys else []
    requests += [
        dg.RunRequest(run_key=f"retry:{key}:{fingerprint[:12]}", partition_key=key)
        for key in retry_keys
    ]
    if moved:
        digest = hashlib.sha256("\n".join(moved).encode()).hexdigest()[:16]
        requests.append(
            dg.RunRequest(run_key=f"withdraw:{digest}", tags=covering_range_tags(moved, registered))
        )
    if refresh:
        requests.append(dg.RunRequest(asset_selection=[dg.AssetKey("bill_quarantine")]))
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[bill_file_partitions.build_add_request(new_keys)]
        if new_keys
        else [],
        cursor=json.dumps({"refused": refused, "gone": gone}),
    )


def inbox_cursor(cursor: str | None) -> dict:
    """The inbox sensor's cursor: the digest of the refused entries and the registered files
    whose bytes are not in the inbox (a bare digest before withdrawals were tracked)."""
    if not cursor:
        return {"refused": refused_digest([]), "gone": []}
    if not cursor.startswith("{"):
        return {"refused": cursor, "gone": []}
    return json.loads(cursor)


def refused_digest(refused: list[RefusedEntry]) -> str:
    """Changes whenever an inbox entry is refused, or stops being, or for another reason."""
    text = "\n".join(f"{e.name}\0{e.code}" for e in refused)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


reconciliation_job = dg.define_asset_job(
    # Not "reconciliation": a job may not share its name with an asset's op.
    name="reconcile_periods",
    selection=dg.AssetSelection.assets(
        "rate_cards", "reconciliation", "reconciliation_exports", "order_logistics_cost"
    ),
    description="Reconcile carrier billing periods (one partition per carrier and period).",
)


def covering_range_request(keys: list[str], ordered: list[str], run_key: str) -> dg.RunRequest:
    """One run over the smallest contiguous range of `ordered` partitions holding `keys`.

    Dynamic partitions keep the order they were added in; a range may include a few
    periods more than asked, which is harmless: reconciling a period is idempotent.
    """
    if len(set(keys)) == 1:
        return dg.RunRequest(run_key=run_key, partition_key=keys[0])
    return dg.RunRequest(run_key=run_key, tags=covering_range_tags(keys, ordered))


def _last_reconciliation_storage_id(instance: dg.DagsterInstance) -> int:
    """Where the latest reconciliation materialization sits in the event log (0: none).

    Bills parsed before it were already reconciled (`reckon run` and the demo parse, then
    reconcile): a sensor switched on afterwards, with no cursor yet, must not rerun them."""
    latest = instance.fetch_materializations(dg.AssetKey("reconciliation"), limit=1)
    return latest.records[0].storage_id if latest.records else 0


RECONCILIATION_INPUTS = ("shipments", "fx_rates", "companies")
"""The nightly inputs a period reads besides bills and contracts."""


def inputs_fingerprint(instance: dg.DagsterInstance) -> str:
    """Changes whenever one of RECONCILIATION_INPUTS is materialised again."""
    latest = [
        instance.fetch_materializations(dg.AssetKey(name), limit=1).records
        for name in RECONCILIATION_INPUTS
    ]
    ids = [str(found[0].storage_id) if found else "-" for found in latest]
    return hashlib.sha256(":".join(ids).encode()).hexdigest()[:16]


def contracts_fingerprint(layout: DataLayout) -> str:
    """Changes whenever a rate card or carriers.yaml changes."""
    digest = hashlib.sha256()
    files = sorted(layout.rate_cards_dir.glob("*.y*ml")) if layout.rate_cards_dir.is_dir() else []
    for path in [*files, layout.carriers_file]:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@dg.sensor(
    job=reconciliation_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Registers billing periods as days pass; reruns a carrier's periods when its "
    "bills are parsed, every period when a rate card or carriers.yaml changes, and the periods "
    "a run failed when bills, shipments, FX rates or companies are loaded again.",
)
def reconciliation_sensor(
    context: dg.SensorEvaluationContext, reckon: ReckonResource
) -> dg.SensorResult | dg.SkipReason:
    layout = reckon.layout
    if not layout.carriers_file.is_file():
        return dg.SkipReason(f"no {layout.carriers_file}")
    first_day = layout.first_extract_day("shipments")
    if first_day is None:
        return dg.SkipReason("no shipments extract yet: no billing period to register")
    state = json.loads(context.cursor) if context.cursor else {}
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    wanted = closed_period_keys(layout, first_day, yesterday)
    known = context.instance.get_dynamic_partitions(CARRIER_PERIOD_KEYS)
    new_keys = [k for k in wanted if k not in set(known)]
    ordered = [*known, *new_keys]
    fingerprint = contracts_fingerprint(layout)
    records = context.instance.fetch_materializations(
        dg.AssetKey("bill_lines"), limit=1000, cursor=state.get("bills_cursor"), ascending=True
    )
    reconciled_after = _last_reconciliation_storage_id(context.instance)
    carriers = sorted(
        {
            bill_file_key_carrier(r.partition_key)
            for r in records.records
            if r.partition_key and r.storage_id > reconciled_after
        }
    )
    requests = []
    inputs = inputs_fingerprint(context.instance)
    if state.get("contracts") and state["contracts"] != fingerprint:
        requests.append(covering_range_request(ordered, ordered, f"contracts:{fingerprint}"))
    else:
        for carrier in carriers:
            keys = [k for k in ordered if period_key_carrier(k) == carrier]
            if keys:
                run_key = f"bills:{carrier}:{records.cursor}"
                requests.append(covering_range_request(keys, ordered, run_key))
        # periods that failed are retried once each time their inputs change
        failed = [k for k in failed_period_keys(layout) if k in set(ordered)]
        if failed and (records.records or state.get("inputs") != inputs):
            run_key = f"retry:{inputs}:{records.cursor}"
            requests.append(covering_range_request(failed, ordered, run_key))
    cursor = json.dumps(
        {
            "contracts": fingerprint,
            "bills_cursor": records.cursor or state.get("bills_cursor"),
            "inputs": inputs,
        }
    )
    if not requests and not new_keys:
        return dg.SkipReason("no new periods, bills or contract changes")
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[carrier_period_partitions.build_add_request(new_keys)]
        if new_keys
        else [],
        cursor=cursor,
    )
