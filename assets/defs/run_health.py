"""`dead_run_sensor`: runs whose process died are failed within a minute (assets/run_liveness.py).

The daemon's run monitoring (dagster.yaml) bounds how long a run may take to start and
to run; this sensor catches the run whose process is already gone, so the one-at-a-time
queue does not wait for the maximum runtime.
"""

import dagster as dg

from assets.run_liveness import fail_dead_runs


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks failed every STARTING or STARTED run whose process is gone.",
)
def dead_run_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    failed = fail_dead_runs(context.instance)
    for dead in failed:
        context.log.warning(f"run {dead.run_id} ({dead.job_name}): {dead.reason}")
    if not failed:
        return dg.SkipReason("no run left behind by a dead process")
    ids = ", ".join(d.run_id for d in failed)
    return dg.SkipReason(f"marked {len(failed)} run(s) failed: {ids}")
