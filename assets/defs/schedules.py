"""The overnight run: every daily asset for yesterday, plus the reference tables it needs;
and the hourly pull of API bills. Both are off until switched on (UI or `dagster schedule
start`)."""

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

api_bills_job = dg.define_asset_job(
    name="pull_api_bills",
    selection=dg.AssetSelection.assets("api_bill_pulls"),
    description="Pull new bills from every carrier's billing API into the bill inbox.",
)

api_bills_schedule = dg.ScheduleDefinition(
    job=api_bills_job,
    cron_schedule="15 * * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every hour at :15: new API bills into the inbox, where the inbox sensor "
    "takes them in.",
)
