"""Fetch carrier bills from a billing API over HTTP into the bill inbox.

Carrier APIs page, rate-limit and fail transiently, and a bill fetched badly
is a bill silently short of lines (DOMAIN.md: "never lose a row"). So this
connector retries 429/5xx/connection errors (tenacity: at most
`max_attempts`, no wait after the last) with full-jitter exponential backoff,
or the server's Retry-After when it sends one (tenacity does not read HTTP
headers, so `retry_delay` computes each wait), then fails naming the URL; it
keeps every raw response body in the raw store *before* parsing it; and it
checks that the pages it followed add up to the invoice's charge count.

Each bill becomes one JSON envelope in `bills/inbox/<CARRIER>/<bill>.json`
holding the raw page bodies in order (format: demo/bills/FORMATS.md, "The
envelope"). The envelope has no timestamps, so fetching the same bill twice
writes identical bytes and the raw store deduplicates it by hash.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import tenacity

from storage.files import RAW_FILE_MODE, write_bytes
from storage.layout import DataLayout

ENVELOPE_FORMAT = "reckon.api_bill/1"
DEFAULT_PAGE_SIZE = 100
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SAFE_BILL_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ConnectorError(RuntimeError):
    """A bill could not be fetched completely; the message names the URL and the reason."""


class AuthError(ConnectorError):
    """The API refused the token (401/403): retrying cannot help."""


class _Transient(Exception):
    """A response worth another try (429/5xx), with the server's Retry-After if any."""

    def __init__(self, status: int, retry_after: str | None) -> None:
        super().__init__(f"HTTP {status}")
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Defaults suit a carrier API polled by a nightly batch."""

    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0
    """A Retry-After longer than this is capped (a batch run must stay bounded)."""
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0


def retry_delay(
    failures: int, retry_after: str | None, policy: RetryPolicy, rng: random.Random
) -> float:
    """Seconds to wait after the `failures`-th failed attempt of one request.

    The server's Retry-After (seconds or an HTTP date) wins when present and valid,
    capped at `max_retry_after_s`; otherwise full-jitter exponential backoff:
    uniform(0, min(backoff_max_s, backoff_base_s * 2**(failures-1))).
    """
    if retry_after is not None:
        value = retry_after.strip()
        seconds: float | None = None
        if value.isdigit():
            seconds = float(value)
        else:
            try:
                seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                seconds = None
        if seconds is not None:
            return min(max(seconds, 0.0), policy.max_retry_after_s)
    ceiling = min(policy.backoff_max_s, policy.backoff_base_s * 2 ** (failures - 1))
    return rng.uniform(0, ceiling)


def resolve_token(carrier: str, token: str | None, token_env: str | None = None) -> str:
    """The token given (from configuration), else the environment variable, else a clear error."""
    if token:
        return token
    name = token_env or f"RECKON_{carrier}_API_TOKEN"
    value = os.environ.get(name)
    if not value:
        raise AuthError(
            f"{carrier}: no API token configured and environment variable {name} is unset"
        )
    return value


def carrier_endpoint(base_url: str, carrier: str) -> str:
    """The carrier's bills endpoint: `base_url` itself when it already is one (as
    carriers.yaml's `api.endpoint`), else `<base_url>/carriers/<CARRIER>/bills` (a server
    root, as demo.carrier_api.serve yields)."""
    base = base_url.rstrip("/")
    suffix = f"/carriers/{carrier}/bills"
    return base if base.endswith(suffix) else base + suffix


class _Fetcher:
    """One HTTP client plus its retrying (tenacity) and the raw store, for one carrier."""

    def __init__(
        self,
        base_url: str,
        carrier: str,
        token: str,
        layout: DataLayout,
        policy: RetryPolicy,
        sleep: Callable[[float], None],
        transport: httpx.BaseTransport | None,
    ) -> None:
        endpoint = urlsplit(carrier_endpoint(base_url, carrier))
        self.base_url = f"{endpoint.scheme}://{endpoint.netloc}"
        self.endpoint_path = endpoint.path
        self.carrier = carrier
        self.layout = layout
        self.policy = policy
        self.rng = random.Random()
        self.client = httpx.Client(
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(policy.read_timeout_s, connect=policy.connect_timeout_s),
            transport=transport,
        )
        self.retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type((httpx.TransportError, _Transient)),
            sleep=sleep,
            reraise=True,
        )

    def get(self, path: str) -> httpx.Response:
        """GET `path` (path + query on the API), retrying transient failures within the policy."""
        url = f"{self.base_url}{path}"
        try:
            return self.retrying(self._attempt, url)
        except (httpx.TransportError, _Transient) as error:
            last = (
                str(error) if isinstance(error, _Transient) else f"{type(error).__name__}: {error}"
            )
            raise ConnectorError(
                f"GET {url}: gave up after {self.policy.max_attempts} attempts; "
                f"last failure: {last}"
            ) from None

    def _attempt(self, url: str) -> httpx.Response:
        """One GET: the response when 200, _Transient when worth another try, else an error."""
        response = self.client.get(url)
        if response.status_code == 200:
            return response
        if response.status_code in (401, 403):
            raise AuthError(
                f"GET {url}: HTTP {response.status_code}, the API refused the token "
                f"({response.text[:200]!r})"
            )
        if response.status_code not in RETRY_STATUSES:
            raise ConnectorError(
                f"GET {url}: HTTP {response.status_code} ({response.text[:200]!r})"
            )
        raise _Transient(response.status_code, response.headers.get("Retry-After"))

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """tenacity's wait: the server's Retry-After if it sent one, else jittered backoff."""
        error = state.outcome.exception() if state.outcome else None
        retry_after = error.retry_after if isinstance(error, _Transient) else None
        return retry_delay(state.attempt_number, retry_after, self.policy, self.rng)

    def keep_raw(self, body: bytes) -> str:
        """Store the body as received in the raw store (parsers/ingest.py's layout,
        `raw/<sha[:2]>/<sha>.json`, read-only, written once); return its sha256."""
        digest = hashlib.sha256(body).hexdigest()
        path = self.layout.raw_store / digest[:2] / f"{digest}.json"
        if not path.exists():
            write_bytes(path, body, mode=RAW_FILE_MODE)
        return digest

    def get_json(self, path: str) -> tuple[httpx.Response, str, dict]:
        """GET, keep the raw body, then parse it: the raw copy exists even if parsing fails."""
        response = self.get(path)
        digest = self.keep_raw(response.content)
        try:
            document = json.loads(response.content)
        except ValueError as error:
            raise ConnectorError(
                f"GET {self.base_url}{path}: response is not JSON ({error}); raw body kept as "
                f"raw/{digest[:2]}/{digest}.json"
            ) from None
        if not isinstance(document, dict):
            raise ConnectorError(f"GET {self.base_url}{path}: expected a JSON object")
        return response, digest, document


def _next_path(current: str, document: dict, url: str) -> str | None:
    """The `next` link as a path + query on the same API, or None at the last page."""
    link = document.get("next")
    if link is None:
        return None
    if not isinstance(link, str):
        raise ConnectorError(f"GET {url}: 'next' is not a string: {link!r}")
    parts = urlsplit(link)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if path == current:
        raise ConnectorError(f"GET {url}: 'next' points back at the same page")
    return path


def list_invoices(fetcher: _Fetcher, since: date | None, page_size: int) -> list[str]:
    """Every invoice number the API lists from `since` on, following the list's pages."""
    query = f"page=1&page_size={page_size}" + (f"&since={since.isoformat()}" if since else "")
    path: str | None = f"{fetcher.endpoint_path}?{query}"
    numbers: list[str] = []
    list_page = 0
    while path is not None:
        _, _, document = fetcher.get_json(path)
        url = f"{fetcher.base_url}{path}"
        invoices = document.get("invoices")
        list_page += 1
        if document.get("page") != list_page or not isinstance(invoices, list):
            raise ConnectorError(
                f"GET {url}: expected list page {list_page} with an 'invoices' list, "
                f"got page {document.get('page')!r}"
            )
        for invoice in invoices:
            number = invoice.get("invoiceNumber") if isinstance(invoice, dict) else None
            if not isinstance(number, str) or not SAFE_BILL_NUMBER.match(number):
                raise ConnectorError(f"GET {url}: invalid invoiceNumber {number!r}")
            numbers.append(number)
        path = _next_path(path, document, url)
    return numbers


def fetch_envelope(fetcher: _Fetcher, bill_number: str, page_size: int) -> dict:
    """All charge pages of one invoice, raw, in order, checked complete."""
    path: str | None = (
        f"{fetcher.endpoint_path}/{quote(bill_number)}/charges?page=1&page_size={page_size}"
    )
    pages: list[dict] = []
    seen = 0
    expected = None
    while path is not None:
        response, digest, document = fetcher.get_json(path)
        url = f"{fetcher.base_url}{path}"
        api_page = len(pages) + 1
        charges = document.get("charges")
        if document.get("page") != api_page or not isinstance(charges, list):
            raise ConnectorError(
                f"GET {url}: expected page {api_page} with a 'charges' list, "
                f"got page {document.get('page')!r}"
            )
        invoice = document.get("invoice") or {}
        if invoice.get("invoiceNumber") != bill_number:
            raise ConnectorError(
                f"GET {url}: page belongs to invoice {invoice.get('invoiceNumber')!r}, "
                f"not {bill_number!r}"
            )
        expected = document.get("totalCharges")
        seen += len(charges)
        entry: dict = {
            "api_page": api_page,
            "request": path,
            "status": response.status_code,
            "content_type": response.headers.get("Content-Type", ""),
            "sha256": digest,
        }
        try:
            entry["body"] = response.content.decode("utf-8")
        except UnicodeDecodeError:
            entry["body_base64"] = base64.b64encode(response.content).decode("ascii")
        pages.append(entry)
        path = _next_path(path, document, url)
    if expected != seen:
        raise ConnectorError(
            f"{fetcher.base_url}{fetcher.endpoint_path}/{bill_number}/charges: the pages "
            f"held {seen} charges but the API reports totalCharges={expected!r}"
        )
    return {
        "envelope": ENVELOPE_FORMAT,
        "carrier": fetcher.carrier,
        "bill_number": bill_number,
        "pages": pages,
    }


def write_envelope(layout: DataLayout, envelope: dict) -> Path:
    """`bills/inbox/<CARRIER>/<bill>.json`, written atomically; same envelope, same bytes."""
    path = layout.bills_inbox / envelope["carrier"] / f"{envelope['bill_number']}.json"
    data = (json.dumps(envelope, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    return write_bytes(path, data)


def fetch_bills(
    base_url: str,
    carrier: str,
    token: str | None,
    layout: DataLayout,
    since: date | None,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    policy: RetryPolicy | None = None,
    token_env: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> list[Path]:
    """Fetch every invoice of `carrier` dated from `since` on into the inbox; return the paths.

    `base_url` is the API root (the carrier's endpoint in carriers.yaml, or what
    demo.carrier_api.serve yields). The connector takes plain values and knows nothing of
    carriers.yaml: runs/api_bills.py maps a carrier's `api` settings onto them. `token`
    comes from configuration; when None it is read from `token_env` (default
    `RECKON_<CARRIER>_API_TOKEN`). Raises AuthError on a refused
    token and ConnectorError, naming the URL, when a request still fails after
    `policy.max_attempts` or a response is malformed or incomplete. Envelopes of invoices
    fetched before a failure are already written (each is complete on its own).
    """
    fetcher = _Fetcher(
        base_url,
        carrier,
        resolve_token(carrier, token, token_env),
        layout,
        policy or RetryPolicy(),
        sleep,
        transport,
    )
    with fetcher.client:
        numbers = list_invoices(fetcher, since, page_size)
        return [
            write_envelope(layout, fetch_envelope(fetcher, number, page_size)) for number in numbers
        ]
