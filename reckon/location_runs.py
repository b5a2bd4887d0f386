"""Runs of the CLI that belong to the code location the UI loads.

`JobDefinition.execute_in_process` records a run without a code-location origin: the UI's
job pages and timeline do not list it and it cannot be re-executed
(dagster-io/dagster#19458, DAGSTER-NOTES.md). Here the run is executed in this process the
same way, but created with the origin of the `reckon` location in workspace.yaml, so it is
that location's run: its job page lists it, the timeline shows it, and "Re-execute" launches
it again in the location's own code server (which reads the same data directory,
RECKON_DATA_DIR, set by `reckon ui`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import dagster as dg
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.execution.api import (
    ExecuteRunWithPlanIterable,
    create_execution_plan,
    job_execution_iterator,
)
from dagster._core.execution.context_creation_job import (
    PlanOrchestrationContextManager,
    orchestration_context_event_generator,
)
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.workspace.load_target import WorkspaceFileTarget

from reckon.instance import PROJECT_ROOT

WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"
REPOSITORY_NAME = "__repository__"
"""The name Dagster gives the one repository a `Definitions` object makes."""


@cache
def location_origin() -> RemoteRepositoryOrigin:
    """The repository of the code location workspace.yaml declares (read, not loaded)."""
    (origin,) = WorkspaceFileTarget(paths=[str(WORKSPACE_FILE)]).create_origins()
    return RemoteRepositoryOrigin(code_location_origin=origin, repository_name=REPOSITORY_NAME)


def job_origin(job_name: str) -> RemoteJobOrigin:
    return location_origin().get_job_origin(job_name)


def execute_in_location(
    job_def: dg.JobDefinition,
    instance: dg.DagsterInstance,
    run_config: Mapping[str, Any],
    tags: Mapping[str, str],
    asset_selection: Sequence[dg.AssetKey] | None = None,
) -> dg.ExecuteInProcessResult:
    """`job_def.execute_in_process(...)` (in-process executor, errors kept in the result),
    with the run recorded as a run of the `reckon` code location."""
    selection = frozenset(asset_selection or ())
    job = job_def.get_subset(asset_selection=set(selection)) if selection else job_def
    in_memory = InMemoryJob(job_def=job)
    execution_plan: ExecutionPlan = _plan(in_memory, run_config, instance)
    run = instance.create_run_for_job(
        job_def=job,
        run_config=run_config,
        tags={**job.run_tags, **tags},
        asset_selection=selection or None,
        execution_plan=execution_plan,
        remote_job_origin=job_origin(job_def.name),
    )
    events = list(
        ExecuteRunWithPlanIterable(
            execution_plan=execution_plan,
            iterator=job_execution_iterator,
            execution_context_manager=PlanOrchestrationContextManager(
                context_event_generator=orchestration_context_event_generator,
                job=in_memory,
                execution_plan=execution_plan,
                dagster_run=run,
                instance=instance,
                run_config=run_config,
                executor_defs=None,
                output_capture={},
                raise_on_error=False,
            ),
        )
    )
    finished = instance.get_run_by_id(run.run_id) or run
    return dg.ExecuteInProcessResult(
        job_def=job, event_list=events, dagster_run=finished, output_capture={}
    )


def _plan(
    job: InMemoryJob, run_config: Mapping[str, Any], instance: dg.DagsterInstance
) -> ExecutionPlan:
    ref = instance.get_ref() if instance.is_persistent else None
    return create_execution_plan(job, run_config=run_config, instance_ref=ref)
