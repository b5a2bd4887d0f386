"""API bills in: pull every carrier with an `api` block in carriers.yaml into the inbox.

Thin wiring (runs/api_bills.py does the pulling): the envelopes land in
`bills/inbox/<CARRIER>/`, where `bill_inbox_sensor` registers them and `bill_files` /
`bill_lines` take them in like any other bill file. Not partitioned: each pull goes on
from the carrier's since-cursor. A carrier whose pull failed does not stop the others;
the check fails naming it and why, and its cursor stays where it was.
"""

import dagster as dg
import polars as pl

from assets.defs.bills import GROUP
from assets.metadata import preview_table
from assets.resources import ReckonResource
from runs.api_bills import CarrierPull, pull_configured

PULL_CHECK = "every_api_pull_succeeded"


def pulls_frame(pulls: list[CarrierPull]) -> pl.DataFrame:
    """One row per carrier pulled, for the asset's page."""
    return pl.DataFrame(
        [
            {
                "carrier": p.carrier,
                "status": "ok" if p.ok else "failed",
                "pulled": p.pulled,
                "new": p.new,
                "updated": p.updated,
                "already_had": p.already_had,
                "cursor_before": p.cursor_before,
                "cursor_after": p.cursor_after,
                "restarts": p.restarts,
                "token_refreshes": p.token_refreshes,
                "reason": p.reason,
            }
            for p in pulls
        ],
        schema={
            "carrier": pl.String,
            "status": pl.String,
            "pulled": pl.Int64,
            "new": pl.Int64,
            "updated": pl.Int64,
            "already_had": pl.Int64,
            "cursor_before": pl.String,
            "cursor_after": pl.String,
            "restarts": pl.Int64,
            "token_refreshes": pl.Int64,
            "reason": pl.String,
        },
    )


@dg.asset(
    group_name=GROUP,
    description=(
        "New bills pulled from each carrier's billing API (carriers.yaml `api`) into "
        "bills/inbox/<CARRIER>/, from the carrier's since-cursor on; the inbox sensor takes "
        "them in."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            PULL_CHECK,
            asset="api_bill_pulls",
            description="Every carrier's API pull succeeded (a failed one names the carrier "
            "and the reason; its cursor did not move).",
        )
    ],
)
def api_bill_pulls(context: dg.AssetExecutionContext, reckon: ReckonResource):
    pulls = pull_configured(reckon.layout)
    frame = pulls_frame(pulls)
    failed = [p for p in pulls if not p.ok]
    for pull in failed:
        context.log.error(f"{pull.carrier}: API pull failed: {pull.reason}")
    yield dg.MaterializeResult(
        metadata={
            "carriers": len(pulls),
            "carriers_failed": len(failed),
            "bills_pulled": sum(p.pulled for p in pulls),
            "bills_new": sum(p.new for p in pulls),
            "bills_updated": sum(p.updated for p in pulls),
            "bills_already_had": sum(p.already_had for p in pulls),
            "per_carrier": preview_table(frame, limit=50),
        }
    )
    yield dg.AssetCheckResult(
        check_name=PULL_CHECK,
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(f"{p.carrier}: {p.reason}" for p in failed) or None,
        metadata={
            "carriers_failed": len(failed),
            "failed": preview_table(frame.filter(pl.col("status") == "failed")),
        },
    )
