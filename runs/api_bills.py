"""Pull new bills from the carriers' billing APIs into the bill inbox (issue 12).

The HTTP connector (parsers/connectors/http_api.py) takes plain values, so that parsers/
does not depend on the reconciliation configuration; this is where each carrier's
carriers.yaml `api` block is mapped onto it, credentials are read from the environment
(carriers.yaml names the variables, never holds a secret) and the since-cursor is kept.

The cursor of a carrier (`state/api_cursors/<CARRIER>.json`, written atomically) is the
greatest value of its `cursor_field` listed by the last pull that fully succeeded. A pull
asks for bills from that value on (inclusive), so the last day is listed again: harmless,
because a pulled bill whose bytes are had already is not written again (the inbox and the
raw store are content-addressed), and a changed bill replaces its file as a correction. A
pull that fails leaves the cursor where it was, so the next one repeats it. One carrier
failing never stops the others: each pull's outcome says what happened and why.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from parsers.connectors.http_api import (
    ApiSource,
    AuthError,
    BearerToken,
    ClientCredentials,
    ConnectorError,
    RetryPolicy,
    fetch_bills,
)
from pipelines.reconciliation.config import ApiSettings
from storage.config import load_carriers
from storage.files import write_bytes
from storage.layout import DataLayout

CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class CarrierPull:
    """One carrier's pull: counts of bills listed and of what was new, corrected (updated)
    or had already, the cursor before and after, and the reason when it failed."""

    carrier: str
    ok: bool
    pulled: int = 0
    new: int = 0
    updated: int = 0
    already_had: int = 0
    cursor_before: str | None = None
    cursor_after: str | None = None
    restarts: int = 0
    token_refreshes: int = 0
    reason: str | None = None
    paths: tuple[Path, ...] = ()
    """The inbox files of the bills listed (written now or had already)."""


def _env(env: Mapping[str, str], carrier: str, name: str, what: str) -> str:
    value = env.get(name)
    if not value:
        raise AuthError(f"{carrier}: environment variable {name} ({what}) is unset")
    return value


def api_source(
    carrier: str,
    settings: ApiSettings,
    env: Mapping[str, str],
    *,
    base_url: str | None = None,
) -> ApiSource:
    """The connector's view of a carrier's `api` block, with the credentials from `env`
    (AuthError naming the variable, never a value, when one is unset). `base_url` overrides
    `api.endpoint`, for a server on an ephemeral port."""
    auth: BearerToken | ClientCredentials
    if settings.oauth is not None:
        oauth = settings.oauth
        auth = ClientCredentials(
            token_url=oauth.token_url,
            client_id=_env(env, carrier, oauth.client_id_env, "OAuth client id"),
            client_secret=_env(env, carrier, oauth.client_secret_env, "OAuth client secret"),
            scope=oauth.scope,
        )
    else:
        assert settings.token_env is not None  # ApiSettings requires one of the two
        auth = BearerToken(_env(env, carrier, settings.token_env, "API bearer token"))
    retries = settings.retries
    policy = RetryPolicy(
        max_attempts=retries.max_attempts,
        backoff_base_s=retries.backoff_base_s,
        backoff_max_s=retries.backoff_max_s,
        max_retry_after_s=retries.max_retry_after_s,
        max_elapsed_s=retries.max_elapsed_s,
        connect_timeout_s=min(CONNECT_TIMEOUT_S, settings.timeout_s),
        read_timeout_s=settings.timeout_s,
    )
    return ApiSource(
        base_url=base_url or settings.endpoint,
        carrier=carrier,
        auth=auth,
        page_size=settings.page_size,
        cursor_param=settings.cursor_param,
        cursor_field=settings.cursor_field,
        policy=policy,
    )


def read_cursor(layout: DataLayout, carrier: str, cursor_field: str) -> str | None:
    """The carrier's since-cursor, or None (never pulled, or pulled by another cursor field:
    then everything is listed again, which is harmless)."""
    path = layout.api_cursors_dir / f"{carrier}.json"
    if not path.is_file():
        return None
    state = json.loads(path.read_bytes())
    return state["cursor"] if state.get("cursor_field") == cursor_field else None


def write_cursor(layout: DataLayout, carrier: str, cursor_field: str, cursor: str) -> None:
    state = {"carrier": carrier, "cursor_field": cursor_field, "cursor": cursor}
    data = (json.dumps(state, indent=1) + "\n").encode("utf-8")
    write_bytes(layout.api_cursors_dir / f"{carrier}.json", data)


def pull_carrier(
    layout: DataLayout,
    carrier: str,
    settings: ApiSettings,
    *,
    env: Mapping[str, str] = os.environ,
    base_url: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CarrierPull:
    """Pull one carrier's bills from its cursor on; advance the cursor only when the whole
    pull succeeded. A failure is returned (with its reason), not raised."""
    before = read_cursor(layout, carrier, settings.cursor_field)
    try:
        source = api_source(carrier, settings, env, base_url=base_url)
        result = fetch_bills(source, layout, before, sleep=sleep)
    except ConnectorError as error:
        return CarrierPull(
            carrier, ok=False, cursor_before=before, cursor_after=before, reason=str(error)
        )
    known = [c for c in (before, result.cursor) if c is not None]
    after = max(known) if known else None
    if after is not None and after != before:
        write_cursor(layout, carrier, settings.cursor_field, after)
    return CarrierPull(
        carrier,
        ok=True,
        pulled=len(result.bills),
        new=result.count("new"),
        updated=result.count("updated"),
        already_had=result.count("unchanged"),
        cursor_before=before,
        cursor_after=after,
        restarts=result.restarts,
        token_refreshes=result.token_refreshes,
        paths=tuple(result.paths),
    )


def pull_configured(
    layout: DataLayout,
    carriers: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] = os.environ,
    sleep: Callable[[float], None] = time.sleep,
) -> list[CarrierPull]:
    """Pull every carrier with an `api` block in carriers.yaml (or only `carriers`, each of
    which must have one: a KeyError or ValueError naming it otherwise), in file order."""
    if not layout.carriers_file.is_file():
        if carriers:
            raise ValueError(f"{layout.carriers_file} does not exist: no carrier to pull")
        return []
    configured = load_carriers(layout.carriers_file)
    if carriers:
        chosen = [configured.get(code) for code in carriers]
        without = [c.carrier for c in chosen if c.api is None]
        if without:
            raise ValueError(f"{layout.carriers_file}: carrier(s) {without} have no 'api' block")
    else:
        chosen = [c for c in configured.carriers if c.api is not None]
    return [
        pull_carrier(layout, c.carrier, c.api, env=env, sleep=sleep)
        for c in chosen
        if c.api is not None
    ]
