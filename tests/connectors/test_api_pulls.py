"""API bills in production (issue 12, point 3): carriers.yaml `api` blocks, credentials from
the environment, a durable since-cursor, retries, token refresh, listings that change while
paged, idempotent re-pulls, and the Dagster asset and check; against the demo carrier API
on 127.0.0.1 with injected faults."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import dagster as dg
import pytest
import yaml
from typer.testing import CliRunner

from assets.defs.api_bills import PULL_CHECK, api_bill_pulls
from assets.resources import ReckonResource
from demo.bills import write_bills
from demo.bills.samples import sample_bills
from demo.carrier_api import CarrierApi, Fault
from parsers.connectors.http_api import (
    ApiSource,
    AuthError,
    BearerToken,
    ClientCredentials,
    ConnectorError,
    RetryPolicy,
    fetch_bills,
)
from reckon.cli import app
from runs.api_bills import pull_configured, read_cursor
from runs.inbox import survey_inbox, withdrawals
from storage.config import ConfigError, load_carriers
from storage.layout import DataLayout
from tests.demo_bills.readers import read_ups_envelope, read_ups_source

TOKEN = "s3cret-token"
CLIENT_ID, CLIENT_SECRET = "reckon-client", "cl1ent-s3cret"
FAST = RetryPolicy(max_attempts=4, backoff_base_s=0.0, backoff_max_s=0.0, read_timeout_s=5.0)
NO_WAIT = {"max_attempts": 2, "backoff_base_s": 0, "backoff_max_s": 0}
ENV = {"UPS_TOKEN": TOKEN, "ACME_TOKEN": TOKEN}


@pytest.fixture
def layout(tmp_path: Path) -> DataLayout:
    """Three UPS bills dated Feb 1-3 on the API, and the same three as carrier ACME."""
    layout = DataLayout(tmp_path / "data")
    headers, lines = sample_bills("UPS", shipments_per_bill=(15, 2, 0))
    write_bills("UPS", headers, lines, layout)
    shutil.copytree(layout.bills_api_dir / "UPS", layout.bills_api_dir / "ACME")
    return layout


def write_carriers(layout: DataLayout, url: str, **api: object) -> None:
    """carriers.yaml with UPS and ACME pulled from `url` by bearer tokens from UPS_TOKEN and
    ACME_TOKEN, retrying twice without waiting; `api` adds to both blocks."""
    carriers = [
        {
            "carrier": code,
            "billing_cycle": "WEEKLY",
            "currency": "USD",
            "api": {
                "endpoint": f"{url}/carriers/{code}/bills",
                "token_env": f"{code}_TOKEN",
                "retries": NO_WAIT,
                **api,
            },
        }
        for code in ("UPS", "ACME")
    ]
    layout.carriers_file.write_text(yaml.safe_dump({"carriers": carriers}), encoding="utf-8")


def inbox_files(layout: DataLayout, carrier: str) -> dict[str, tuple[bytes, int]]:
    """Name -> (bytes, mtime) of the carrier's inbox files."""
    folder = layout.bills_inbox / carrier
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def add_api_bill(layout: DataLayout, carrier: str, number: str, day: str) -> None:
    """A new bill on the API (a copy of the first with another number and date)."""
    folder = layout.bills_api_dir / carrier
    document = json.loads((folder / "UPS-2026-0001.json").read_bytes())
    document["invoice"] = {**document["invoice"], "invoiceNumber": number, "invoiceDate": day}
    (folder / f"{number}.json").write_text(json.dumps(document), encoding="utf-8")


def ups(url: str, page_size: int = 100) -> ApiSource:
    return ApiSource(url, "UPS", BearerToken(TOKEN), page_size=page_size, policy=FAST)


def test_a_read_timeout_is_retried_and_the_bill_is_complete(layout: DataLayout) -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, backoff_base_s=0.0, read_timeout_s=0.2)
    with CarrierApi(layout, TOKEN) as api:
        api.inject("UPS", "charges", [Fault(delay_s=1.0)])
        result = fetch_bills(
            ApiSource(api.url, "UPS", BearerToken(TOKEN), policy=policy), layout, sleep=waits.append
        )
    assert waits == [0.0]
    assert [b.status for b in result.bills] == ["new"] * 3
    for path in result.paths:
        assert read_ups_envelope(path)[:2] == read_ups_source(
            layout.bills_api_dir / "UPS" / path.name
        )


def test_429_honours_retry_after_in_seconds_and_as_an_http_date(layout: DataLayout) -> None:
    waits: list[float] = []
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    with CarrierApi(layout, TOKEN) as api:
        api.inject(
            "UPS", "list", [Fault(status=429, retry_after="3"), Fault(status=429, retry_after=soon)]
        )
        result = fetch_bills(ups(api.url), layout, sleep=waits.append)
        assert api.statuses[429] == 2
    assert waits[0] == 3.0 and 15 <= waits[1] <= 20
    assert len(result.bills) == 3


def test_503_then_ok_is_retried_with_jittered_backoff(layout: DataLayout) -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.01)
    with CarrierApi(layout, TOKEN) as api:
        api.inject("UPS", "charges", [Fault(status=503), Fault(status=503)])
        source = ApiSource(api.url, "UPS", BearerToken(TOKEN), policy=policy)
        result = fetch_bills(source, layout, sleep=waits.append)
        assert api.statuses[503] == 2
    assert len(waits) == 2 and all(0 <= w <= 0.01 for w in waits)
    assert len(result.bills) == 3


def test_a_client_error_other_than_401_and_429_is_not_retried(layout: DataLayout) -> None:
    with CarrierApi(layout, TOKEN) as api:
        api.inject("UPS", "list", [Fault(status=400)])
        with pytest.raises(ConnectorError, match=r"/carriers/UPS/bills\?page=1.*HTTP 400"):
            fetch_bills(ups(api.url), layout)
        assert api.statuses == {400: 1}


def test_the_retries_stop_within_the_total_time(layout: DataLayout) -> None:
    """Retry-After 60 s would end past max_elapsed_s 30 s: no retry is started."""
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=5, max_elapsed_s=30.0)
    with CarrierApi(layout, TOKEN) as api:
        api.inject("UPS", "list", [], then=Fault(status=503, retry_after="60"))
        source = ApiSource(api.url, "UPS", BearerToken(TOKEN), policy=policy)
        with pytest.raises(
            ConnectorError, match="gave up after 1 attempts; last failure: HTTP 503"
        ):
            fetch_bills(source, layout, sleep=waits.append)
    assert waits == []


def test_a_listing_that_changes_while_paged_is_read_again(layout: DataLayout) -> None:
    """A bill added between pages 1 and 2 shifts the listing (sorted by number): page 2
    would repeat page 1's bill. The changed listVersion restarts the listing: every bill
    once, the new one included."""
    with CarrierApi(layout, TOKEN) as api:
        added = Fault(before=lambda: add_api_bill(layout, "UPS", "UPS-2026-0000", "2026-02-04"))
        api.inject("UPS", "list", [None, added])
        result = fetch_bills(ups(api.url, page_size=1), layout)
    numbers = [b.bill_number for b in result.bills]
    assert numbers == ["UPS-2026-0000", "UPS-2026-0001", "UPS-2026-0002", "UPS-2026-0003"]
    assert result.restarts == 1 and result.cursor == "2026-02-04"


def test_a_listing_that_never_settles_fails_clearly(layout: DataLayout) -> None:
    count = iter(range(100))

    def another() -> None:
        add_api_bill(layout, "UPS", f"UPS-2026-00{next(count):02d}", "2026-02-05")

    with CarrierApi(layout, TOKEN) as api:
        api.inject("UPS", "list", [None], then=Fault(before=another))
        with pytest.raises(
            ConnectorError, match=r"/carriers/UPS/bills: changed while being paged on 4 readings"
        ):
            fetch_bills(ups(api.url, page_size=1), layout)
    assert not (layout.bills_inbox / "UPS").exists()  # nothing listed, nothing written


def test_a_bill_that_changes_between_its_charge_pages_is_read_again(layout: DataLayout) -> None:
    path = layout.bills_api_dir / "UPS" / "UPS-2026-0001.json"

    def correct() -> None:
        document = json.loads(path.read_bytes())
        document["charges"] = document["charges"][:-1]
        document["invoice"]["chargeCount"] -= 1
        path.write_text(json.dumps(document), encoding="utf-8")

    with CarrierApi(layout, TOKEN) as api:
        api.inject("UPS", "charges", [None, Fault(before=correct)])
        result = fetch_bills(ups(api.url, page_size=10), layout)
    assert result.restarts == 1
    assert read_ups_envelope(result.paths[0])[:2] == read_ups_source(path)


def oauth_source(api: CarrierApi, secret: str = CLIENT_SECRET) -> ApiSource:
    credentials = ClientCredentials(f"{api.url}/oauth/token", CLIENT_ID, secret)
    return ApiSource(api.url, "UPS", credentials, page_size=10, policy=FAST)


def test_an_expired_token_is_renewed_once_and_the_request_repeated(layout: DataLayout) -> None:
    with CarrierApi(layout, None, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        api.inject("UPS", "charges", [None, Fault(before=api.expire_tokens)])
        result = fetch_bills(oauth_source(api), layout)
        assert api.statuses[401] == 1
    assert result.token_refreshes == 1 and len(result.bills) == 3
    for path in result.paths:
        assert read_ups_envelope(path)[:2] == read_ups_source(
            layout.bills_api_dir / "UPS" / path.name
        )


def test_a_token_refused_again_after_renewal_fails_without_looping(layout: DataLayout) -> None:
    with CarrierApi(layout, None, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        api.inject("UPS", "list", [], then=Fault(status=401))
        with pytest.raises(AuthError, match=r"HTTP 401 again with a new token from .*/oauth/token"):
            fetch_bills(oauth_source(api), layout)
        assert api.statuses[401] == 2


def test_refused_client_credentials_are_named_but_never_shown(layout: DataLayout) -> None:
    with (
        CarrierApi(layout, None, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api,
        pytest.raises(AuthError) as refused,
    ):
        fetch_bills(oauth_source(api, secret="wrong-secret"), layout)
    message = str(refused.value)
    assert "/oauth/token: HTTP 401" in message and "'reckon-client'" in message
    assert "invalid_client" in message and "wrong-secret" not in message
    assert "wrong-secret" not in repr(oauth_source(api, secret="wrong-secret"))


def test_pulls_go_on_from_the_cursor_and_a_repull_writes_nothing(layout: DataLayout) -> None:
    with CarrierApi(layout, TOKEN) as api:
        write_carriers(layout, api.url)
        [first, _] = pull_configured(layout, env=ENV)
        assert (first.pulled, first.new, first.cursor_before, first.cursor_after) == (
            3,
            3,
            None,
            "2026-02-03",
        )
        before = inbox_files(layout, "UPS")
        [again, _] = pull_configured(layout, env=ENV)
        # from the cursor on: only the last day is listed again, and it is had already
        assert (again.pulled, again.new, again.already_had) == (1, 0, 1)
        assert again.cursor_after == "2026-02-03"
        assert inbox_files(layout, "UPS") == before  # no file written, not even rewritten
        add_api_bill(layout, "UPS", "UPS-2026-0004", "2026-02-09")
        [later, _] = pull_configured(layout, env=ENV)
    assert (later.pulled, later.new, later.already_had, later.cursor_after) == (
        2,
        1,
        1,
        "2026-02-09",
    )
    assert read_cursor(layout, "UPS", "invoiceDate") == "2026-02-09"


def test_a_corrected_bill_supersedes_the_file_under_its_name(layout: DataLayout) -> None:
    with CarrierApi(layout, TOKEN) as api:
        write_carriers(layout, api.url)
        pull_configured(layout, ["UPS"], env=ENV)
        taken = [f.partition_key for f in survey_inbox(layout.bills_inbox).files]
        path = layout.bills_api_dir / "UPS" / "UPS-2026-0003.json"
        document = json.loads(path.read_bytes())
        document["invoice"]["accountNumber"] = "ACC9"
        path.write_text(json.dumps(document), encoding="utf-8")
        [pull] = pull_configured(layout, ["UPS"], env=ENV)
    assert (pull.updated, pull.new) == (1, 0)
    files = survey_inbox(layout.bills_inbox).files
    assert len(files) == 3  # the correction replaced the file under its name
    [gone] = withdrawals(files, taken)
    assert gone.key.startswith("UPS/UPS-2026-0003.json#")
    assert gone.replaced_by is not None and gone.replaced_by.startswith("UPS/UPS-2026-0003.json#")


def test_a_bill_had_already_in_the_raw_store_is_not_brought_back(layout: DataLayout) -> None:
    """A bill taken in (raw-stored) and withdrawn from the inbox stays withdrawn."""
    from parsers.ingest import store_raw

    with CarrierApi(layout, TOKEN) as api:
        result = fetch_bills(ups(api.url), layout)
        for path in result.paths:
            store_raw(path, layout.raw_store)
            path.unlink()
        again = fetch_bills(ups(api.url), layout)
    assert [b.status for b in again.bills] == ["unchanged"] * 3
    assert not list((layout.bills_inbox / "UPS").iterdir())


def test_a_bill_reverted_on_the_api_is_written_back_over_its_correction(
    layout: DataLayout,
) -> None:
    from parsers.ingest import store_raw

    path = layout.bills_api_dir / "UPS" / "UPS-2026-0002.json"
    original = path.read_bytes()
    with CarrierApi(layout, TOKEN) as api:
        first = fetch_bills(ups(api.url), layout).paths[1]
        v1 = first.read_bytes()
        store_raw(first, layout.raw_store)
        document = json.loads(original)
        document["invoice"]["accountNumber"] = "ACC9"
        path.write_text(json.dumps(document), encoding="utf-8")
        assert fetch_bills(ups(api.url), layout).bills[1].status == "updated"
        store_raw(first, layout.raw_store)
        path.write_bytes(original)
        reverted = fetch_bills(ups(api.url), layout).bills[1]
    assert reverted.status == "updated" and reverted.path.read_bytes() == v1


def test_a_failing_carrier_keeps_its_cursor_and_the_others_are_pulled(layout: DataLayout) -> None:
    with CarrierApi(layout, TOKEN) as api:
        write_carriers(layout, api.url)
        api.inject("ACME", "any", [], then=Fault(status=500))
        ups_pull, acme = pull_configured(layout, env=ENV, sleep=lambda s: None)
        assert ups_pull.ok and ups_pull.new == 3
        assert not acme.ok and acme.cursor_after is None
        assert acme.reason is not None
        assert "gave up after 2 attempts; last failure: HTTP 500" in acme.reason
        assert "/carriers/ACME/bills?page=1" in acme.reason
        assert read_cursor(layout, "ACME", "invoiceDate") is None
        api.inject("ACME", "any", [])  # the carrier's API is back
        _, repaired = pull_configured(layout, env=ENV)
    assert repaired.ok and (repaired.cursor_before, repaired.new) == (None, 3)
    assert read_cursor(layout, "ACME", "invoiceDate") == "2026-02-03"


def test_a_pull_failing_part_way_repeats_from_the_last_good_cursor(layout: DataLayout) -> None:
    with CarrierApi(layout, TOKEN) as api:
        write_carriers(layout, api.url)
        api.inject("UPS", "charges", [None], then=Fault(status=503))
        [failed] = pull_configured(layout, ["UPS"], env=ENV, sleep=lambda s: None)
        assert not failed.ok and read_cursor(layout, "UPS", "invoiceDate") is None
        assert len(inbox_files(layout, "UPS")) == 1  # the bill fetched before is complete
        api.inject("UPS", "charges", [])
        [done] = pull_configured(layout, ["UPS"], env=ENV)
    assert (done.pulled, done.new, done.already_had) == (3, 2, 1)


def test_a_missing_credential_fails_that_carrier_naming_the_variable(layout: DataLayout) -> None:
    with CarrierApi(layout, TOKEN) as api:
        write_carriers(layout, api.url)
        ups_pull, acme = pull_configured(layout, env={"UPS_TOKEN": TOKEN})
    assert ups_pull.ok and not acme.ok
    assert acme.reason == "ACME: environment variable ACME_TOKEN (API bearer token) is unset"


def test_oauth_settings_from_carriers_yaml(layout: DataLayout) -> None:
    with CarrierApi(layout, None, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        oauth = {
            "token_url": f"{api.url}/oauth/token",
            "client_id_env": "CLIENT_ID",
            "client_secret_env": "CLIENT_SECRET",
        }
        write_carriers(layout, api.url, token_env=None, oauth=oauth)
        env = {"CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET}
        pulls = pull_configured(layout, env=env)
    assert [(p.carrier, p.ok, p.new) for p in pulls] == [("UPS", True, 3), ("ACME", True, 3)]


def test_the_api_block_is_validated_naming_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "carriers.yaml"
    base = {"carrier": "UPS", "billing_cycle": "WEEKLY", "currency": "USD"}
    api = {"endpoint": "ftp://x", "token": "pasted-secret", "page_size": 0}
    path.write_text(yaml.safe_dump({"carriers": [{**base, "api": api}]}), encoding="utf-8")
    with pytest.raises(ConfigError) as invalid:
        load_carriers(path)
    message = str(invalid.value)
    assert f"{path}: carriers.0.api.endpoint: String should match pattern" in message
    assert f"{path}: carriers.0.api.token: Extra inputs are not permitted" in message
    assert f"{path}: carriers.0.api.page_size: Input should be greater than 0" in message
    assert "pasted-secret" not in message
    both = {"endpoint": "https://api.test/bills", "token_env": "T", "oauth": None}
    path.write_text(yaml.safe_dump({"carriers": [{**base, "api": both}]}), encoding="utf-8")
    load_carriers(path)  # oauth: null is no oauth
    none = {"endpoint": "https://api.test/bills"}
    path.write_text(yaml.safe_dump({"carriers": [{**base, "api": none}]}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"carriers\.0\.api: Value error, give exactly one of"):
        load_carriers(path)
    lower = {"endpoint": "https://api.test/bills", "token_env": "ups token"}
    path.write_text(yaml.safe_dump({"carriers": [{**base, "api": lower}]}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"carriers\.0\.api\.token_env: String should match"):
        load_carriers(path)


def test_the_asset_pulls_and_its_check_names_the_failed_carrier(
    layout: DataLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    resources = {"reckon": ReckonResource(data_dir=str(layout.root))}
    with CarrierApi(layout, TOKEN) as api:
        write_carriers(layout, api.url)
        api.inject("ACME", "any", [], then=Fault(status=500))
        result = dg.materialize([api_bill_pulls], resources=resources)
        api.inject("ACME", "any", [])
        again = dg.materialize([api_bill_pulls], resources=resources)
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == PULL_CHECK and not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert check.description is not None and check.description.startswith("ACME: GET http://")
    assert "HTTP 500" in check.description and "UPS" not in check.description
    [event] = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    assert (meta["carriers"].value, meta["carriers_failed"].value) == (2, 1)
    assert (meta["bills_pulled"].value, meta["bills_new"].value) == (3, 3)
    rows = {r.data["carrier"]: r.data for r in meta["per_carrier"].value.records}
    assert rows["UPS"]["cursor_after"] == "2026-02-03" and rows["ACME"]["cursor_after"] is None
    [check] = again.get_asset_check_evaluations()
    assert check.passed
    meta = again.get_asset_materialization_events()[0].materialization.metadata
    assert (meta["bills_new"].value, meta["bills_already_had"].value) == (3, 1)


def test_pull_bills_command(layout: DataLayout, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    with CarrierApi(layout, TOKEN) as api:
        write_carriers(layout, api.url)
        api.inject("ACME", "any", [], then=Fault(status=500))
        ok = runner.invoke(app, ["pull-bills", "--data", str(layout.root), "--carrier", "UPS"])
        failed = runner.invoke(app, ["pull-bills", "--data", str(layout.root)])
        unknown = runner.invoke(app, ["pull-bills", "--data", str(layout.root), "--carrier", "X"])
    assert ok.exit_code == 0, ok.output
    assert "UPS: 3 bill(s) listed, 3 new, 0 updated, 0 already had; cursor None -> 2026-02-03" in (
        ok.output
    )
    assert failed.exit_code == 1
    assert "ACME: FAILED, cursor stays None: GET http://127.0.0.1" in failed.output
    assert "UPS: 1 bill(s) listed, 0 new, 0 updated, 1 already had" in failed.output
    assert unknown.exit_code == 2 and "carrier 'X' not in carriers.yaml" in unknown.output
