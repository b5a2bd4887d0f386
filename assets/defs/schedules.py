"""The overnight run: every daily asset for yesterday, plus the reference tables it needs."""

import dagster as dg

nightly_job = dg.define_asset_job(
    name="nightly",
    selection=dg.AssetSelection.groups("inputs", "costing")
    | dg.AssetSelection.assets("costing_exports"),
    description="Load yesterday's extracts and compute everything that depends on them.",
)

nightly_schedule = dg.build_schedule_from_partitioned_job(
    nightly_job,
    hour_of_day=2,
    description="02:00 every night, for the day that just ended.",
)
