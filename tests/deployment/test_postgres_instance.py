"""A team deployment: Dagster's instance on a real PostgreSQL server (docs/deployment.md).

The demo runs with RECKON_DAGSTER_POSTGRES_URL set; its runs are then rows of PostgreSQL's
`runs` table, not SQLite files in the Dagster home. A run launched through the queued run
coordinator waits in the queue until `dagster-daemon run` takes it and it succeeds, and
`dagster-webserver` serves all of these runs from the same database over GraphQL. Every server
runs on 127.0.0.1 and is stopped by its fixture's finalizer.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from reckon.instance import POSTGRES_URL_VARIABLE
from tests.deployment.postgres_server import PostgresServer, missing_reason, postgres_server
from tests.operations.processes import ROOT, clean_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason())),
]

FIRST, LAST = "2026-01-01", "2026-01-07"
DEMO_JOBS = {"nightly", "bills", "reconcile_periods", "profit"}
BIN = Path(sys.executable).parent
WORKSPACE = str(ROOT / "workspace.yaml")
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


@dataclass(frozen=True)
class Deployment:
    data: Path
    home: Path
    env: dict[str, str]
    postgres: PostgresServer
    demo_output: str


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server("reckon_dagster") as server:
        yield server


@pytest.fixture(scope="module")
def deployment(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """The demo over a week, run by the CLI with only the URL variable telling it PostgreSQL."""
    data = tmp_path_factory.mktemp("team") / "data"
    env = clean_env() | {POSTGRES_URL_VARIABLE: postgres.url}
    demo = subprocess.run(
        [sys.executable, "-m", "reckon.cli", "demo", "--data", str(data),
         "--from", FIRST, "--to", LAST, "--nightly", "0"],  # one run per job
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-4000:]
    home = data / ".dagster_home"
    service_env = env | {"DAGSTER_HOME": str(home), "RECKON_DATA_DIR": str(data)}
    return Deployment(data, home, service_env, postgres, demo.stdout)


def _runs(postgres: PostgresServer) -> dict[str, tuple[str, str]]:
    """run id -> (job, status), straight from PostgreSQL's `runs` table."""
    rows = postgres.query("SELECT run_id, pipeline_name, status FROM runs")
    return {run_id: (job, status) for run_id, job, status in rows}


def test_the_demo_s_runs_are_stored_in_postgres(deployment: Deployment) -> None:
    runs = _runs(deployment.postgres)
    assert sorted(job for job, _ in runs.values()) == sorted(DEMO_JOBS)
    assert {status for _, status in runs.values()} == {"SUCCESS"}
    for run_id in runs:
        assert run_id in deployment.demo_output, "the runs the CLI reported are these rows"
    materialized = deployment.postgres.query(
        "SELECT count(DISTINCT asset_key) FROM event_logs "
        "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
    )[0][0]
    assert materialized >= 10, "event logs (materializations) are in PostgreSQL too"
    partitions = deployment.postgres.query("SELECT count(*) FROM dynamic_partitions")[0][0]
    assert partitions > 0, "the bill files and billing periods registered are in PostgreSQL"
    assert not (deployment.home / "history").exists(), "no SQLite run storage in the home"
    config = (deployment.home / "dagster.yaml").read_text()
    assert POSTGRES_URL_VARIABLE in config and deployment.postgres.url not in config


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _service(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A long-running server in its own process group; the group is stopped on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        # what the server started (a code server, a run) goes with it
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _wait(what: str, ready, process: subprocess.Popen, log: Path, timeout: float = 600):
    """Poll `ready()` until it returns something; fail with the server's log if it ends first."""
    deadline = time.monotonic() + timeout
    while True:
        found = ready()
        if found:
            return found
        if process.poll() is not None:
            raise AssertionError(f"{what}: the server ended first\n{log.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s\n{log.read_text()[-4000:]}")
        time.sleep(1)


def _graphql(port: int, query: str) -> dict | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


RUNS_QUERY = "{ runsOrError { __typename ... on Runs { results { runId jobName status } } } }"


def test_the_daemon_takes_a_queued_run_and_the_webserver_reads_the_runs(
    deployment: Deployment, tmp_path: Path
) -> None:
    run_id = str(uuid.uuid4())
    launched = subprocess.run(
        [str(BIN / "dagster"), "job", "launch", "-w", WORKSPACE, "-j", "nightly",
         "--run-id", run_id, "--tags", json.dumps({"dagster/partition": LAST})],
        cwd=ROOT, env=deployment.env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    before = _runs(deployment.postgres)
    assert before[run_id] == ("nightly", "QUEUED"), "queued, not started"
    assert len(before) == len(DEMO_JOBS) + 1

    port = _free_port()
    daemon_log, web_log = tmp_path / "daemon.log", tmp_path / "webserver.log"
    daemon_command = [str(BIN / "dagster-daemon"), "run", "-w", WORKSPACE]
    web_command = [str(BIN / "dagster-webserver"), "-w", WORKSPACE, "-h", "127.0.0.1",
                   "-p", str(port)]  # fmt: skip
    with (
        _service(daemon_command, deployment.env, daemon_log) as daemon,
        _service(web_command, deployment.env, web_log) as webserver,
    ):

        def finished() -> str | None:
            status = _runs(deployment.postgres)[run_id][1]
            return status if status in FINISHED else None

        status = _wait("the queued run", finished, daemon, daemon_log)
        failure = deployment.postgres.query(
            "SELECT event FROM event_logs WHERE run_id = "
            f"'{run_id}' AND dagster_event_type IN ('STEP_FAILURE', 'RUN_FAILURE')"
        )
        assert status == "SUCCESS", f"{status}: {failure}"

        stored = _runs(deployment.postgres)
        answer = _wait("the webserver", lambda: _graphql(port, RUNS_QUERY), webserver, web_log)
    runs = answer["data"]["runsOrError"]
    assert runs["__typename"] == "Runs", answer
    served = {r["runId"]: (r["jobName"], r["status"]) for r in runs["results"]}
    for known in before:  # the demo's runs and the queued one; the sensors may add more
        assert served.get(known) == stored[known], f"run {known} as the webserver reads it"
    assert served[run_id] == ("nightly", "SUCCESS")
