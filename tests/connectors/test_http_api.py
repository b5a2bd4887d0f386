"""The HTTP bill connector against the real demo carrier API on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import random
import socket
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
import yaml

from demo.bills import write_bills
from demo.bills.samples import sample_bills
from demo.carrier_api import CarrierApi, serve
from parsers.connectors.http_api import (
    ApiSource,
    AuthError,
    BearerToken,
    ConnectorError,
    RetryPolicy,
    carrier_endpoint,
    fetch_bills,
    retry_delay,
)
from pipelines.reconciliation.config import ApiSettings
from runs.api_bills import api_source, pull_configured
from storage.layout import DataLayout
from tests.demo_bills.readers import read_ups_envelope, read_ups_source

TOKEN = "s3cret-token"
FAST = RetryPolicy(max_attempts=4, backoff_base_s=0.0, backoff_max_s=0.0, read_timeout_s=5.0)


def fetch(
    url: str,
    token: str,
    layout: DataLayout,
    since: str | None = None,
    *,
    page_size: int = 100,
    policy: RetryPolicy = FAST,
    sleep: Callable[[float], None] = lambda s: None,
    transport: httpx.BaseTransport | None = None,
) -> list[Path]:
    """The UPS bills fetched with a fixed bearer token: the paths of their envelopes."""
    source = ApiSource(url, "UPS", BearerToken(token), page_size=page_size, policy=policy)
    return fetch_bills(source, layout, since, sleep=sleep, transport=transport).paths


@pytest.fixture
def layout(tmp_path: Path) -> DataLayout:
    """Three UPS bills: 35 charges-ish, a few, and one without charges; dated Feb 1-3."""
    layout = DataLayout(tmp_path)
    headers, lines = sample_bills("UPS", shipments_per_bill=(15, 2, 0))
    write_bills("UPS", headers, lines, layout)
    return layout


def _source(layout: DataLayout, bill: str) -> tuple[dict, list]:
    return read_ups_source(layout.bills_api_dir / "UPS" / f"{bill}.json")


def test_fetches_every_bill_over_pages_into_envelopes(layout: DataLayout) -> None:
    with CarrierApi(layout, TOKEN) as api:
        paths = fetch(api.url, TOKEN, layout, page_size=10, policy=FAST)
    assert [p.name for p in paths] == [
        "UPS-2026-0001.json",
        "UPS-2026-0002.json",
        "UPS-2026-0003.json",
    ]
    assert all(p.parent == layout.bills_inbox / "UPS" for p in paths)
    for path in paths:
        header, lines, locators = read_ups_envelope(path)
        assert (header, lines) == _source(layout, path.stem)
    envelope = json.loads(paths[0].read_bytes())
    n_lines = len(_source(layout, "UPS-2026-0001")[1])
    assert n_lines > 20
    assert [p["api_page"] for p in envelope["pages"]] == list(range(1, (n_lines + 9) // 10 + 1))
    assert (
        envelope["pages"][1]["request"]
        == "/carriers/UPS/bills/UPS-2026-0001/charges?page=2&page_size=10"
    )
    _, _, locators = read_ups_envelope(paths[0])
    assert locators[:2] == ["api_page=1;index=0", "api_page=1;index=1"]
    assert locators[10] == "api_page=2;index=0"
    empty = json.loads(paths[2].read_bytes())
    assert len(empty["pages"]) == 1 and json.loads(empty["pages"][0]["body"])["charges"] == []


def test_the_invoice_list_is_paged_too(layout: DataLayout) -> None:
    with CarrierApi(layout, TOKEN) as api:
        paths = fetch(api.url, TOKEN, layout, page_size=1, policy=FAST)
        list_pages = httpx.get(
            f"{api.url}/carriers/UPS/bills?page=1&page_size=1",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).json()
    assert list_pages["totalPages"] == 3 and list_pages["next"].startswith(
        "/carriers/UPS/bills?page=2"
    )
    assert len(paths) == 3


def test_since_keeps_only_bills_dated_from_that_day(layout: DataLayout) -> None:
    with serve(layout, TOKEN) as url:
        paths = fetch(url, TOKEN, layout, "2026-02-02", policy=FAST)
    assert [p.stem for p in paths] == ["UPS-2026-0002", "UPS-2026-0003"]


def test_raw_responses_are_kept_content_addressed_before_parsing(layout: DataLayout) -> None:
    with serve(layout, TOKEN) as url:
        [path, *_] = fetch(url, TOKEN, layout, page_size=10, policy=FAST)
    for page in json.loads(path.read_bytes())["pages"]:
        body = page["body"].encode("utf-8")
        assert hashlib.sha256(body).hexdigest() == page["sha256"]
        raw = layout.raw_store / page["sha256"][:2] / f"{page['sha256']}.json"
        assert raw.read_bytes() == body
        assert not raw.stat().st_mode & stat.S_IWUSR  # immutable copy
    # the invoice list pages were kept too: 3 bills' charge pages + 1 list page
    assert len(list(layout.raw_store.glob("*/*.json"))) == 4 + 1 + 1 + 1


def test_fetching_the_same_bill_twice_gives_identical_bytes(layout: DataLayout) -> None:
    with serve(layout, TOKEN) as url:
        first = {p: p.read_bytes() for p in fetch(url, TOKEN, layout, policy=FAST)}
    with serve(layout, TOKEN, fail_every=2) as url:  # another port, retries on the way
        second = {p: p.read_bytes() for p in fetch(url, TOKEN, layout, policy=FAST)}
    assert first == second


def test_wrong_token_is_refused_without_retrying(layout: DataLayout) -> None:
    with CarrierApi(layout, TOKEN) as api:
        with pytest.raises(
            AuthError, match=r"GET http://127\.0\.0\.1:\d+/carriers/UPS/bills.*HTTP 401"
        ):
            fetch(api.url, "wrong", layout, policy=FAST)
        assert api.statuses == {401: 1}
    assert not (layout.bills_inbox / "UPS").exists()


def test_token_from_the_environment_variable_carriers_yaml_names(layout: DataLayout) -> None:
    settings = ApiSettings(endpoint="http://127.0.0.1:9/carriers/UPS/bills", token_env="UPS_TOKEN")
    with serve(layout, TOKEN) as url:
        source = api_source("UPS", settings, {"UPS_TOKEN": TOKEN}, base_url=url)
        assert len(fetch_bills(source, layout).paths) == 3
    with pytest.raises(
        AuthError, match=r"UPS: environment variable UPS_TOKEN \(API bearer token\) is unset"
    ):
        api_source("UPS", settings, {"UPS_TOKEN": ""})


def test_transient_503_and_429_are_retried_honouring_retry_after(layout: DataLayout) -> None:
    waits: list[float] = []
    with CarrierApi(layout, TOKEN, fail_every=3, retry_after=7) as api:
        paths = fetch(api.url, TOKEN, layout, page_size=10, policy=FAST, sleep=waits.append)
        statuses = dict(api.statuses)
    assert statuses[503] >= 1 and statuses[429] >= 1
    assert waits == [7.0] * (statuses[503] + statuses[429])
    for path in paths:
        assert read_ups_envelope(path)[:2] == _source(layout, path.stem)


def test_permanent_failure_gives_up_after_bounded_attempts(layout: DataLayout) -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, max_retry_after_s=2.0)
    with CarrierApi(layout, TOKEN, fail_every=1, retry_after=3600) as api:
        with pytest.raises(
            ConnectorError,
            match=r"GET http://127\.0\.0\.1:\d+/carriers/UPS/bills\?page=1"
            r"&page_size=100: gave up after 3 attempts; last failure: HTTP (503|429)",
        ):
            fetch(api.url, TOKEN, layout, policy=policy, sleep=waits.append)
        assert sum(api.statuses.values()) == 3
    assert waits == [2.0, 2.0]  # Retry-After honoured but capped; no wait after the last try


def test_connection_refused_is_retried_then_reported(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    with pytest.raises(
        ConnectorError, match=rf"GET http://127\.0\.0\.1:{port}/carriers/UPS/.*ConnectError"
    ):
        fetch(
            f"http://127.0.0.1:{port}",
            TOKEN,
            DataLayout(tmp_path),
            policy=RetryPolicy(max_attempts=2, backoff_base_s=0.01),
            sleep=waits.append,
        )
    assert len(waits) == 1 and 0 <= waits[0] <= 0.01


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        policy = RetryPolicy(max_attempts=2, backoff_base_s=0.0, read_timeout_s=0.2)
        with pytest.raises(
            ConnectorError, match="gave up after 2 attempts; last failure: ReadTimeout"
        ):
            fetch(url, TOKEN, DataLayout(tmp_path), policy=policy, sleep=lambda s: None)


def test_unknown_endpoint_is_not_retried(layout: DataLayout) -> None:
    with CarrierApi(layout, TOKEN) as api:
        with pytest.raises(
            ConnectorError, match=r"/nowhere/carriers/UPS/bills\?page=1&page_size=100: HTTP 404"
        ):
            fetch(api.url + "/nowhere", TOKEN, layout, policy=FAST)
        assert api.statuses == {404: 1}


def test_a_body_that_is_not_json_is_kept_raw_and_reported(tmp_path: Path) -> None:
    garbage = b"<html>upstream proxy error</html>"
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=garbage))
    layout = DataLayout(tmp_path)
    digest = hashlib.sha256(garbage).hexdigest()
    with pytest.raises(ConnectorError, match=f"not JSON.*raw/{digest[:2]}/{digest}.json"):
        fetch("http://carrier.test", TOKEN, layout, transport=transport)
    assert (layout.raw_store / digest[:2] / f"{digest}.json").read_bytes() == garbage


def test_retry_delay_backoff_and_retry_after() -> None:
    policy = RetryPolicy(backoff_base_s=0.5, backoff_max_s=4.0, max_retry_after_s=60.0)
    rng = random.Random(7)
    for failures, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = [retry_delay(failures, None, policy, rng) for _ in range(200)]
        assert min(delays) >= 0 and max(delays) <= ceiling
        assert max(delays) > ceiling / 2  # jittered over the whole range, not fixed
    assert retry_delay(1, "12", policy, rng) == 12.0
    assert retry_delay(1, "600", policy, rng) == 60.0
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_delay(1, soon, policy, rng) <= 30
    assert retry_delay(1, "soon-ish", policy, rng) <= 0.5  # unparseable: plain backoff


def test_server_pages_and_validates_parameters(layout: DataLayout) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with serve(layout, TOKEN) as url:
        base = f"{url}/carriers/UPS/bills/UPS-2026-0002/charges"
        first = httpx.get(f"{base}?page=1&page_size=2", headers=auth).json()
        assert first["page"] == 1 and len(first["charges"]) == 2
        assert first["totalCharges"] == len(_source(layout, "UPS-2026-0002")[1])
        assert first["next"] == "/carriers/UPS/bills/UPS-2026-0002/charges?page=2&page_size=2"
        assert httpx.get(f"{base}?page=99", headers=auth).status_code == 404
        assert httpx.get(f"{base}?page_size=0", headers=auth).status_code == 400
        assert httpx.get(f"{url}/carriers/UPS/bills/NOPE/charges", headers=auth).status_code == 404
        assert (
            httpx.get(f"{url}/carriers/UPS/bills?since=yesterday", headers=auth).status_code == 400
        )
        refused = httpx.get(base)
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"


def test_server_stops_by_itself(layout: DataLayout) -> None:
    api = CarrierApi(layout, TOKEN, lifetime_s=0.05)
    assert api.closed.wait(timeout=10)
    api._thread.join(timeout=10)
    assert not api._thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(api.url)
    api.close()  # still safe


def test_pull_with_carriers_yaml_settings_and_a_full_endpoint_url(layout: DataLayout) -> None:
    from demo.rate_cards import demo_carriers

    with serve(layout, TOKEN) as url:
        carriers = demo_carriers()
        [ups] = [c for c in carriers["carriers"] if c["carrier"] == "UPS"]
        ups["api"]["endpoint"] = f"{url}/carriers/UPS/bills"
        layout.carriers_file.write_text(yaml.safe_dump(carriers), encoding="utf-8")
        [pull] = pull_configured(layout, env={"RECKON_UPS_TOKEN": TOKEN})
        assert carrier_endpoint(url, "UPS") == f"{url}/carriers/UPS/bills"
    assert (pull.carrier, pull.ok, pull.new) == ("UPS", True, 3)
    with pytest.raises(ValueError, match=r"carrier\(s\) \['DHL'\] have no 'api' block"):
        pull_configured(layout, ["DHL"])


def test_demo_fetch_serves_and_fetches_every_api_carrier_with_retries(layout: DataLayout) -> None:
    from demo.carrier_api import fetch_demo_bills

    result = fetch_demo_bills(layout, fail_every=3)
    assert list(result.paths) == ["UPS"] and len(result.paths["UPS"]) == 3
    assert result.retried >= 1 and result.statuses[200] >= 4
    for path in result.paths["UPS"]:
        assert read_ups_envelope(path)[:2] == _source(layout, path.stem)
