"""The analyst's window, in a real browser: the Dagster UI answers the four everyday questions.

A small demo (`reckon demo`, ending yesterday, its last nights as nightly runs, a few bad
rows and a damaged bill dropped in) is opened in `dagster-webserver`, started here on
127.0.0.1, and Debian's chromium, driven by Playwright (never Playwright's own browsers),
opens the page of each question and reads what it shows:

1. COGS yesterday per company, and the receipt layers behind the largest issues;
2. the stock ageing table;
3. what is disputed with a carrier this period, and why;
4. quarantine: the failed check after a bad row, the reason first.

Screenshots go to docs/analyst-tour/ (the README's tour) when RECKON_UPDATE_SCREENSHOTS is
set, and to the test's folder otherwise. A run made by `reckon demo` is then re-executed
from the webserver, in the code location (issue 11, item 6).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from assets.defs.sensors import bill_inbox_sensor, reconciliation_sensor
from assets.resources import ReckonResource
from storage.layout import DataLayout
from tests.operations.processes import ROOT, clean_env

# The module's demo takes minutes on a loaded 2-core machine: its fixture gets 40.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TOUR = ROOT / "docs" / "analyst-tour"
UPDATE_TOUR = bool(os.environ.get("RECKON_UPDATE_SCREENSHOTS"))
TOUR_DATA = os.environ.get("RECKON_TOUR_DATA") if UPDATE_TOUR else None
"""With RECKON_UPDATE_SCREENSHOTS, the tour's screenshots may be taken over a copy of the data
directory of a finished `make demo` (its 200 days hold stock older than 90 and 180 days)
instead of the test's own demo of 31 days (a month of bills, with disputes)."""
DAYS = 31
NIGHTS = 1
YESTERDAY = date.today() - timedelta(days=1)
FIRST = YESTERDAY - timedelta(days=DAYS - 1)


@dataclass(frozen=True)
class Window:
    data: Path
    home: Path
    url: str
    shots: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_serving(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"webserver ended: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"webserver did not answer in 300 s: {log.read_text()[-3000:]}")


def _demo(data: Path) -> None:
    demo = subprocess.run(
        [sys.executable, "-m", "reckon.cli", "demo", "--data", str(data), "--from", str(FIRST),
         "--to", str(YESTERDAY), "--nightly", str(NIGHTS)],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "exactly the bad input the demo dropped in" in demo.stdout


@pytest.fixture(scope="module")
def window(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Window]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (.ci/run does)")
    root = tmp_path_factory.mktemp("analyst")
    data = root / "data"
    if TOUR_DATA:
        shutil.copytree(TOUR_DATA, data, symlinks=True)
    else:
        _demo(data)
    home = data / ".dagster_home"
    # Without the daemon a queued run would wait forever: here the webserver launches the
    # re-execution itself (the default run coordinator: no `run_coordinator`, no `concurrency`
    # block), in the code location's process.
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nrun_coordinator:\n  module: dagster.core.run_coordinator\n"
        "  class: DefaultRunCoordinator\n"
    )
    port = _free_port()
    env = {**clean_env(), "DAGSTER_HOME": str(home), "RECKON_DATA_DIR": str(data)}
    env["RECKON_START_DATE"] = str(DataLayout(data).first_extract_day("movements"))
    log = root / "webserver.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "dagster_webserver", "-w", str(ROOT / "workspace.yaml"),
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, server, log)
        shots = TOUR if UPDATE_TOUR else root / "shots"
        shots.mkdir(parents=True, exist_ok=True)
        yield Window(data, home, url, shots)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(window: Window) -> Iterator[BrowserContext]:
    """One browser context for the module: what the UI keeps in local storage (the dismissed
    community dialog) holds from page to page."""
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium.new_context(viewport={"width": 1600, "height": 1000})
        finally:
            chromium.close()


def _dismiss_dialog(page: Page) -> None:
    """The UI's "Join the Dagster community" dialog, shown once on a first visit."""
    skip = page.get_by_role("button", name="Skip")
    if skip.count() and skip.first.is_visible():
        skip.first.click()
        skip.first.wait_for(state="hidden", timeout=10_000)


def _open(browser: BrowserContext, window: Window, path: str) -> Page:
    page = browser.new_page()
    page.goto(window.url + path)
    return page


def _shot(page: Page, window: Window, name: str, at: str | None = None) -> Path:
    """A screenshot of what the analyst sees, scrolled to `at` (a text on the page)."""
    _dismiss_dialog(page)
    if at is not None:
        page.get_by_text(at, exact=True).first.scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # let the UI settle after a scroll (the picture only)
    _dismiss_dialog(page)
    path = window.shots / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def _see(page: Page, text: str) -> None:
    """Wait (the UI loads its data after the page) until `text` is on the page."""
    page.get_by_text(text, exact=False).first.wait_for(timeout=120_000)


def _partition(asset: str, key: str) -> str:
    return f"/assets/{asset}?view=partitions&partition={urllib.parse.quote(key, safe='')}"


def _warehouse(window: Window, sql: str) -> list[tuple]:
    with duckdb.connect(str(window.data / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(sql).fetchall()


def test_cogs_of_yesterday_per_company_and_the_layers_behind_it(
    window: Window, browser: BrowserContext
) -> None:
    """Question 1: yesterday's nightly materialization (the Partitions tab: one click) shows
    COGS per company in its own currency, never a sum over CNY and USD, and the receipt
    layers behind the largest issues."""
    cogs = dict(
        _warehouse(
            window,
            f"SELECT company, sum(amount) FROM costing_cogs WHERE posting_date = "
            f"DATE '{YESTERDAY}' GROUP BY company",
        )
    )
    page = _open(browser, window, _partition("costing", str(YESTERDAY)))
    _see(page, "cogs CN01 (CNY)")
    _see(page, "layers_behind_largest_issues")
    text = page.inner_text("body")
    assert "cogs US01 (USD)" in text
    assert str(cogs["CN01"]) in text and str(cogs["US01"]) in text, "the day's exact figures"
    assert str(cogs["CN01"] + cogs["US01"]) not in text, "no sum over two currencies"
    assert "figures_cover" in text and f"{YESTERDAY}" in text
    for column in ("receipt", "receipt_date", "quantity", "unit_cost"):
        assert column in text
    _shot(page, window, "1-cogs-per-company")
    _shot(page, window, "1b-layers-behind-largest-issues", at="layers_behind_largest_issues")
    page.close()


def test_the_stock_ageing_table(window: Window, browser: BrowserContext) -> None:
    """Question 2: stock per company and age bucket, with the top aged SKUs."""
    page = _open(browser, window, _partition("stock_ageing", str(YESTERDAY)))
    _see(page, "by_company_and_bucket")
    _see(page, "0-30")
    text = page.inner_text("body")
    assert "CN01" in text and "US01" in text and "quantity" in text
    assert "top_skus_over_90_days" in text
    _shot(page, window, "2-stock-ageing")
    page.close()


def test_a_dispute_with_its_reason(window: Window, browser: BrowserContext) -> None:
    """Question 3: a billing period's disputes per carrier with the reason and the amount,
    and the path of the period's dispute workbook."""
    ((key, reason, amount),) = _warehouse(
        window,
        "SELECT carrier || '|' || period_start, reason, sum(disputed_amount) "
        "FROM carrier_disputes GROUP BY ALL ORDER BY 3 DESC, 1, 2 LIMIT 1",
    )
    page = _open(browser, window, _partition("reconciliation_exports", key))
    _see(page, "disputes_by")
    _see(page, reason)
    text = page.inner_text("body")
    assert str(amount) in text
    carrier, start = key.split("|")
    assert f"{carrier}_{start}_disputes.xlsx" in text, "the workbook's path"
    _shot(page, window, "3-disputes-with-reasons")
    page.close()


def test_a_bad_row_fails_the_quarantine_check(window: Window, browser: BrowserContext) -> None:
    """Question 4: the bad rows the demo dropped in fail the movements check (red), each
    with its reason first; the damaged bill fails the bill quarantine's warning check."""
    page = _open(browser, window, "/assets/movements?view=checks")
    _see(page, "loaded_without_quarantine")
    _see(page, "NO-SUCH-SKU")
    text = page.inner_text("body")
    assert "Failed" in text and "TELEPORT" in text
    _shot(page, window, "4-quarantine-check-failed")
    page.close()
    page = _open(browser, window, "/assets/bill_quarantine?view=checks")
    _see(page, "quarantine_is_empty")
    page.get_by_text("quarantine_is_empty").first.click()
    _see(page, "cannot be read as a PDF")
    _shot(page, window, "4b-bill-quarantine")
    page.close()


def test_demo_runs_belong_to_the_code_location(window: Window) -> None:
    """Every run the demo made is a run of the `reckon` location (job pages, timeline)."""
    label = {".dagster/repository": "__repository__@reckon"}  # how the UI finds them
    with dg.DagsterInstance.from_config(str(window.home)) as instance:
        runs = instance.get_runs()
        listed = instance.get_runs(dg.RunsFilter(tags=label))
    assert len(runs) >= 1 + NIGHTS + 3
    assert {r.run_id for r in listed} == {r.run_id for r in runs}
    for run in runs:
        assert run.remote_job_origin is not None, run.job_name
        assert run.remote_job_origin.location_name == "reckon"


def test_opening_the_ui_after_the_demo_launches_nothing(window: Window) -> None:
    """The sensors left on after the demo request no run: its bills are reconciled, its
    files parsed; only closed periods from the first data day would be registered."""
    resource = ReckonResource(data_dir=str(window.data))
    first = DataLayout(window.data).first_extract_day("shipments") or FIRST
    with dg.DagsterInstance.from_config(str(window.home)) as instance:
        for sensor in (reconciliation_sensor, bill_inbox_sensor):
            with dg.build_sensor_context(instance=instance, resources={"reckon": resource}) as ctx:
                tick = sensor(ctx)
            requests = tick.run_requests if isinstance(tick, dg.SensorResult) else []
            assert not requests, (sensor.name, requests)
            if isinstance(tick, dg.SensorResult):
                for added in tick.dynamic_partitions_requests or []:
                    for key in getattr(added, "partition_keys", []):
                        assert key.split("|")[1] >= str(first - timedelta(days=31)), key


REEXECUTE = """
mutation Reexecute($parent: String!) {
  launchPipelineReexecution(reexecutionParams: {parentRunId: $parent, strategy: ALL_STEPS}) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}
"""


def test_a_demo_run_is_reexecuted_from_the_ui(window: Window) -> None:
    """The last nightly run of the demo, re-executed through the webserver, runs again in
    the code location and succeeds."""
    with dg.DagsterInstance.from_config(str(window.home)) as instance:
        nightly = instance.get_runs(dg.RunsFilter(job_name="nightly"), limit=1)[0]
        body = json.dumps({"query": REEXECUTE, "variables": {"parent": nightly.run_id}})
        request = urllib.request.Request(
            f"{window.url}/graphql", body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.load(response)["data"]["launchPipelineReexecution"]
        assert answer["__typename"] == "LaunchRunSuccess", answer
        run_id = answer["run"]["runId"]
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            run = instance.get_run_by_id(run_id)
            if run is not None and run.is_finished:
                break
            time.sleep(1)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS, run
        assert run.parent_run_id == nightly.run_id
        assert run.tags["dagster/partition"] == str(YESTERDAY)
        assert run.tags["reckon/pid"] != nightly.tags["reckon/pid"], "its own process"
