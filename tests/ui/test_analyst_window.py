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
import re
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
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

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


_DISMISSED: set[int] = set()
"""Browser contexts whose community dialog was dismissed (the UI shows it once)."""


def _dismiss_dialog(page: Page) -> None:
    """The UI's "Join the Dagster community" dialog, shown once on a first visit. It opens a
    moment after the page (later on a loaded machine): until it has been dismissed in this
    browser context, wait a few seconds for it rather than click under it."""
    skip = page.get_by_role("button", name="Skip")
    if id(page.context) in _DISMISSED:
        return
    try:
        skip.first.wait_for(state="visible", timeout=5_000)
    except PlaywrightTimeoutError:
        return
    skip.first.click()
    skip.first.wait_for(state="hidden", timeout=10_000)
    _DISMISSED.add(id(page.context))


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


def _walk(browser: BrowserContext, window: Window, asset: str, tab: str, item: str) -> Page:
    """From the asset's page, what an analyst clicks: the tab (click 1), then `item` in it (a
    partition key or a check: click 2). Nothing else is clicked: the answer must be on the
    page then (the tour's "two clicks")."""
    page = _open(browser, window, f"/assets/{asset}")
    _see(page, tab)
    _dismiss_dialog(page)
    page.get_by_role("tab", name=tab).first.click()
    _see(page, item)
    _dismiss_dialog(page)
    _item(page, item).click()
    return page


def _item(page: Page, item: str) -> Locator:
    """A partition in the tab's list (its row is titled with the key; the key also labels the
    end of the status bar), or a check by its name."""
    titled = page.get_by_title(item, exact=True)
    return titled.first if titled.count() else page.get_by_text(item, exact=True).first


def _latest(page: Page) -> str:
    """The text of the selected partition's latest materialization (what the UI shows
    first), from its "Latest materialization" heading down."""
    _see(page, "Latest materialization")
    text = page.inner_text("body")
    return text[text.index("Latest materialization") :]


def _warehouse(window: Window, sql: str) -> list[tuple]:
    with duckdb.connect(str(window.data / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(sql).fetchall()


def _cogs(window: Window, day: date) -> dict[str, Decimal]:
    rows = _warehouse(
        window,
        f"SELECT company, sum(amount) FROM costing_cogs WHERE posting_date = DATE '{day}' "
        "GROUP BY company",
    )
    return {company: amount for company, amount in rows}


def _assert_the_days_own_cogs(text: str, window: Window, day: date) -> None:
    """The day's own COGS per company in its currency, exact; never a sum over CNY and USD."""
    cogs = _cogs(window, day)
    assert "cogs CN01 (CNY)" in text and "cogs US01 (USD)" in text, day
    assert str(cogs["CN01"]) in text and str(cogs["US01"]) in text, f"{day}'s exact figures"
    assert str(cogs["CN01"] + cogs["US01"]) not in text, "no sum over two currencies"
    assert re.search(rf"figures_cover\s+{day}\s", text), f"the figures are {day}'s own"


def test_cogs_of_yesterday_per_company_and_the_layers_behind_it(
    window: Window, browser: BrowserContext
) -> None:
    """Question 1: yesterday's nightly materialization (Partitions, yesterday: two clicks from
    the asset page) shows COGS per company in its own currency, never a sum over CNY and USD,
    and the receipt layers behind the largest issues."""
    page = _walk(browser, window, "costing", "Partitions", str(YESTERDAY))
    _see(page, "cogs CN01 (CNY)")
    _see(page, "layers_behind_largest_issues")
    text = _latest(page)
    _assert_the_days_own_cogs(text, window, YESTERDAY)
    for column in ("receipt", "receipt_date", "quantity", "unit_cost"):
        assert column in text
    _shot(page, window, "1-cogs-per-company")
    _shot(page, window, "1b-layers-behind-largest-issues", at="layers_behind_largest_issues")
    page.close()


def test_a_day_costed_inside_the_backfill_shows_its_own_figures(
    window: Window, browser: BrowserContext
) -> None:
    """Question 1 for a day the demo costed inside its range run (issue 11, point 3): two
    clicks, and its latest materialization shows that day's own figures, plotted numbers
    included, not the range's."""
    day = YESTERDAY - timedelta(days=NIGHTS + 10)
    page = _walk(browser, window, "costing", "Partitions", str(day))
    _see(page, "cogs CN01 (CNY)")
    text = _latest(page)
    _assert_the_days_own_cogs(text, window, day)
    assert "(the whole range)" not in text
    assert "costed_in_run_of" in text
    _shot(page, window, "1c-a-day-inside-the-backfill")
    page.close()


def test_the_stock_ageing_table(window: Window, browser: BrowserContext) -> None:
    """Question 2: stock per company and age bucket, with the value over 90 days per company
    and the top aged SKUs (Partitions, yesterday: two clicks)."""
    page = _walk(browser, window, "stock_ageing", "Partitions", str(YESTERDAY))
    _see(page, "by_company_and_bucket")
    _see(page, "0-30")
    text = page.inner_text("body")
    assert "CN01" in text and "US01" in text and "quantity" in text
    assert "top_skus_over_90_days" in text
    assert "value over 90 days CN01 (CNY)" in text and "value over 90 days US01 (USD)" in text
    _shot(page, window, "2-stock-ageing")
    page.close()


def test_a_dispute_with_its_reason(window: Window, browser: BrowserContext) -> None:
    """Question 3: a billing period's disputes with the reason and the amount, and the path
    of the period's dispute workbook (Partitions, the period: two clicks), the period's own
    (the demo reconciles every period in one run)."""
    page = _open(browser, window, "/assets/reconciliation_exports")
    _see(page, "Partitions")
    _dismiss_dialog(page)
    page.get_by_role("tab", name="Partitions").first.click()
    _see(page, "Partitions Selected")
    listed = [line for line in page.inner_text("body").splitlines() if "|" in line]
    keys = ", ".join(f"'{k}'" for k in dict.fromkeys(listed))
    ((key, reason, amount),) = _warehouse(
        window,
        "SELECT carrier || '|' || period_start, reason, sum(disputed_amount) FROM "
        f"carrier_disputes WHERE carrier || '|' || period_start IN ({keys}) "
        "GROUP BY ALL ORDER BY 3 DESC, 1, 2 LIMIT 1",
    )
    _item(page, key).click()
    _see(page, "disputes_by_reason")
    _see(page, reason)
    text = _latest(page)
    assert str(amount) in text
    carrier, start = key.split("|")
    assert f"{carrier}_{start}_disputes.xlsx" in text, "the workbook's path"
    others = [k for k in dict.fromkeys(listed) if k != key]
    assert not any(f"{k.replace('|', '_')}_disputes.xlsx" in text for k in others), "its own"
    _shot(page, window, "3-disputes-with-reasons")
    page.close()


def test_a_bad_row_fails_the_quarantine_check(window: Window, browser: BrowserContext) -> None:
    """Question 4: the bad rows the demo dropped in fail the movements check (a warning,
    non-blocking), the reason first; the damaged bill fails the bill quarantine's warning
    check (Checks, the check: two clicks each)."""
    page = _walk(browser, window, "movements", "Checks", "loaded_without_quarantine")
    _see(page, "NO-SUCH-SKU")
    text = page.inner_text("body")
    assert "Failed" in text and "TELEPORT" in text
    assert "This is a non-blocking asset check" in text
    assert "3 row(s) quarantined, 0 file(s) rejected" in text, "the reason first"
    _shot(page, window, "4-quarantine-check-failed")
    page.close()
    page = _walk(browser, window, "bill_quarantine", "Checks", "quarantine_is_empty")
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
