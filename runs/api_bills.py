"""Fetch a carrier's bills from its billing API with the settings in carriers.yaml.

The HTTP connector (parsers/connectors/http_api.py) takes plain values so that
parsers/ does not depend on the reconciliation configuration; this is where a
carrier's `api` block (endpoint, token_env, page_size) is mapped onto them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from parsers.connectors.http_api import ConnectorError, RetryPolicy, fetch_bills
from storage.config import load_carriers
from storage.layout import DataLayout


def fetch_configured(
    layout: DataLayout,
    carrier: str,
    since: date | None = None,
    *,
    base_url: str | None = None,
    policy: RetryPolicy | None = None,
) -> list[Path]:
    """fetch_bills with the carrier's `api` settings from carriers.yaml.

    The token is read from the environment variable `api.token_env` (carriers.yaml never
    holds the token itself). `base_url` overrides `api.endpoint`, for the demo server on an
    ephemeral port.
    """
    settings = load_carriers(layout.carriers_file).get(carrier).api
    if settings is None:
        raise ConnectorError(f"{layout.carriers_file}: carrier {carrier} has no 'api' settings")
    return fetch_bills(
        base_url or settings.endpoint,
        carrier,
        None,
        layout,
        since,
        page_size=settings.page_size,
        policy=policy,
        token_env=settings.token_env,
    )
