"""Fetch carrier bills from a billing API over HTTP into the bill inbox.

Carrier APIs page, rate-limit, expire tokens and fail transiently, and a bill fetched
badly is a bill silently short of lines (DOMAIN.md: "never lose a row"). So this
connector retries timeouts, connection errors, 429 and 5xx (tenacity: at most
`max_attempts` and `max_elapsed_s` per request, no wait after the last) with full-jitter
exponential backoff, or the server's Retry-After when it sends one (tenacity does not
read HTTP headers, so `retry_delay` computes each wait), then fails naming the URL; other
4xx are not retried. A 401 under OAuth client credentials asks for a new token once and
repeats the request. It keeps every raw response body in the raw store *before* parsing
it; it checks that the pages it followed add up to the invoice's charge count; and when
a listing (or a bill's pages) changes while it is being paged, it starts that listing
again (at most MAX_RESTARTS times), so no bill is lost or doubled by a shifted page.

Each bill becomes one JSON envelope in `bills/inbox/<CARRIER>/<bill>.json`
holding the raw page bodies in order (format: demo/bills/FORMATS.md, "The
envelope"). The envelope has no timestamps, so fetching the same bill twice
gives identical bytes, which are not written again (`store_envelope`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import httpx
import tenacity

from storage.files import RAW_FILE_MODE, is_regular_file, write_bytes
from storage.layout import DataLayout

ENVELOPE_FORMAT = "reckon.api_bill/1"
DEFAULT_PAGE_SIZE = 100
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SAFE_BILL_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_RESTARTS = 3
"""How many times a listing (or a bill's pages) that changed while being paged is read
again from its first page before the pull fails."""
T = TypeVar("T")


class ConnectorError(RuntimeError):
    """A bill could not be fetched completely; the message names the URL and the reason."""


class AuthError(ConnectorError):
    """The API refused the credentials (401/403, or the token endpoint refused them)."""


class _Transient(Exception):
    """A response worth another try (429/5xx), with the server's Retry-After if any."""

    def __init__(self, status: int, retry_after: str | None) -> None:
        super().__init__(f"HTTP {status}")
        self.retry_after = retry_after


class _Unauthorized(Exception):
    """A 401: the token expired or was revoked (a new one may help, once)."""


class _Changed(Exception):
    """The listing, or a bill's pages, changed between two pages of one reading."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request. Defaults suit a carrier API polled by a batch."""

    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0
    """A Retry-After longer than this is capped (a batch run must stay bounded)."""
    max_elapsed_s: float = 300.0
    """No retry is started that would end past this many seconds after the first try."""
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0


@dataclass(frozen=True)
class BearerToken:
    """A fixed bearer token (read from the environment by the caller)."""

    token: str = field(repr=False)


@dataclass(frozen=True)
class ClientCredentials:
    """OAuth 2.0 client credentials (RFC 6749, 4.4): tokens come from `token_url`."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None


@dataclass(frozen=True)
class ApiSource:
    """One carrier's billing API, as the connector needs it (runs/api_bills.py maps a
    carrier's carriers.yaml `api` block onto it)."""

    base_url: str
    """The API root, or the carrier's bills endpoint itself (`carrier_endpoint`)."""
    carrier: str
    auth: BearerToken | ClientCredentials
    page_size: int = DEFAULT_PAGE_SIZE
    cursor_param: str = "since"
    cursor_field: str = "invoiceDate"
    policy: RetryPolicy = RetryPolicy()


BillStatus = Literal["new", "updated", "unchanged"]


@dataclass(frozen=True)
class PulledBill:
    """One envelope: `new` (first seen), `updated` (the bill changed: a correction that
    supersedes the file under its name) or `unchanged` (these bytes were had already)."""

    bill_number: str
    path: Path
    status: BillStatus


@dataclass(frozen=True)
class PullResult:
    """What `fetch_bills` got: every listed bill, the greatest cursor value listed (None
    when nothing was listed), and how often a listing was restarted or a token renewed."""

    bills: list[PulledBill]
    cursor: str | None
    restarts: int
    token_refreshes: int

    @property
    def paths(self) -> list[Path]:
        return [b.path for b in self.bills]

    def count(self, status: BillStatus) -> int:
        return sum(b.status == status for b in self.bills)


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


def carrier_endpoint(base_url: str, carrier: str) -> str:
    """The carrier's bills endpoint: `base_url` itself when it already is one (as
    carriers.yaml's `api.endpoint`), else `<base_url>/carriers/<CARRIER>/bills` (a server
    root, as demo.carrier_api.serve yields)."""
    base = base_url.rstrip("/")
    suffix = f"/carriers/{carrier}/bills"
    return base if base.endswith(suffix) else base + suffix


def _short(response: httpx.Response) -> str:
    return repr(response.text[:200])


class _Fetcher:
    """One HTTP client plus its retrying (tenacity), credentials and the raw store, for
    one carrier. Credentials go only into request headers, never into a message."""

    def __init__(
        self,
        source: ApiSource,
        layout: DataLayout,
        sleep: Callable[[float], None],
        transport: httpx.BaseTransport | None,
    ) -> None:
        endpoint = urlsplit(carrier_endpoint(source.base_url, source.carrier))
        self.base_url = f"{endpoint.scheme}://{endpoint.netloc}"
        self.endpoint_path = endpoint.path
        self.source = source
        self.layout = layout
        self.policy = policy = source.policy
        self.rng = random.Random()
        self.token = source.auth.token if isinstance(source.auth, BearerToken) else None
        self.token_refreshes = 0
        self.client = httpx.Client(
            headers={"Accept": "application/json"},
            timeout=httpx.Timeout(policy.read_timeout_s, connect=policy.connect_timeout_s),
            transport=transport,
        )
        self.retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.max_attempts)
            | tenacity.stop_before_delay(policy.max_elapsed_s),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type((httpx.TransportError, _Transient)),
            sleep=sleep,
            reraise=True,
        )

    def _retried(self, what: str, attempt: Callable[[], T]) -> T:
        """`attempt` retried within the policy; giving up is a ConnectorError naming `what`."""
        try:
            return self.retrying(attempt)
        except (httpx.TransportError, _Transient) as error:
            last = (
                str(error) if isinstance(error, _Transient) else f"{type(error).__name__}: {error}"
            )
            attempts = self.retrying.statistics.get("attempt_number", self.policy.max_attempts)
            raise ConnectorError(
                f"{what}: gave up after {attempts} attempts; last failure: {last}"
            ) from None

    def get(self, path: str) -> httpx.Response:
        """GET `path` (path + query on the API), retrying transient failures within the
        policy; a 401 under client credentials gets a new token and one more try."""
        url = f"{self.base_url}{path}"
        if self.token is None:
            self.token = self._new_token()
        try:
            return self._retried(f"GET {url}", lambda: self._attempt(url))
        except _Unauthorized as refused:
            auth = self.source.auth
            if not isinstance(auth, ClientCredentials):
                raise AuthError(
                    f"GET {url}: HTTP 401, the API refused the token ({refused})"
                ) from None
            self.token = self._new_token()
            self.token_refreshes += 1
        try:
            return self._retried(f"GET {url}", lambda: self._attempt(url))
        except _Unauthorized as refused:
            raise AuthError(
                f"GET {url}: HTTP 401 again with a new token from {auth.token_url} ({refused})"
            ) from None

    def _attempt(self, url: str) -> httpx.Response:
        """One GET: the response when 200, _Transient when worth another try, else an error."""
        response = self.client.get(url, headers={"Authorization": f"Bearer {self.token}"})
        if response.status_code == 200:
            return response
        if response.status_code == 401:
            raise _Unauthorized(_short(response))
        if response.status_code == 403:
            raise AuthError(f"GET {url}: HTTP 403, the API refused the token ({_short(response)})")
        if response.status_code not in RETRY_STATUSES:
            raise ConnectorError(f"GET {url}: HTTP {response.status_code} ({_short(response)})")
        raise _Transient(response.status_code, response.headers.get("Retry-After"))

    def _new_token(self) -> str:
        """An access token from the OAuth token endpoint (client credentials, HTTP Basic)."""
        auth = self.source.auth
        assert isinstance(auth, ClientCredentials)  # a BearerToken is set at construction
        what = f"POST {auth.token_url}"

        def attempt() -> httpx.Response:
            form = {"grant_type": "client_credentials"}
            if auth.scope:
                form["scope"] = auth.scope
            response = self.client.post(
                auth.token_url, data=form, auth=(auth.client_id, auth.client_secret)
            )
            if response.status_code in RETRY_STATUSES:
                raise _Transient(response.status_code, response.headers.get("Retry-After"))
            return response

        response = self._retried(what, attempt)
        try:
            document = response.json()
        except ValueError:
            document = {}
        if response.status_code != 200:
            code = document.get("error") if isinstance(document, dict) else None
            raise AuthError(
                f"{what}: HTTP {response.status_code}, the token endpoint refused the client "
                f"credentials of {auth.client_id!r} (error {code!r})"
            )
        token = document.get("access_token") if isinstance(document, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthError(f"{what}: the answer holds no access_token")
        return token

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


def _restarting(what: str, read: Callable[[], T]) -> tuple[T, int]:
    """`read()` and how many times it was started again because what it pages changed."""
    last: _Changed | None = None
    for restarts in range(MAX_RESTARTS + 1):
        try:
            return read(), restarts
        except _Changed as changed:
            last = changed
    raise ConnectorError(
        f"{what}: changed while being paged on {MAX_RESTARTS + 1} readings in a row; last: {last}"
    )


@dataclass(frozen=True)
class Listed:
    """An invoice the listing named, with its value of the cursor field."""

    number: str
    cursor: str


def _list_once(fetcher: _Fetcher, since: str | None) -> list[Listed]:
    """Every listed invoice, following the pages; _Changed when the listing's version or
    size differs between pages or an invoice comes twice (the listing shifted)."""
    source = fetcher.source
    query: dict[str, str | int] = {"page": 1, "page_size": source.page_size}
    if since is not None:
        query[source.cursor_param] = since
    path: str | None = f"{fetcher.endpoint_path}?{urlencode(query)}"
    listed: list[Listed] = []
    first: tuple[object, object] | None = None
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
        version = (document.get("listVersion"), document.get("totalInvoices"))
        first = first or version
        if version != first:
            raise _Changed(
                f"GET {url}: listing (listVersion, totalInvoices) {version} on page {list_page}, "
                f"{first} on page 1"
            )
        for invoice in invoices:
            listed.append(_listed(invoice, source.cursor_field, url))
        path = _next_path(path, document, url)
    numbers = [item.number for item in listed]
    doubled = sorted({n for n in numbers if numbers.count(n) > 1})
    if doubled:
        raise _Changed(f"{fetcher.endpoint_path}: invoices listed twice: {doubled}")
    total = first[1] if first else None
    if isinstance(total, int) and total != len(listed):
        raise _Changed(
            f"{fetcher.endpoint_path}: {len(listed)} invoices listed, totalInvoices {total}"
        )
    return listed


def _listed(invoice: object, cursor_field: str, url: str) -> Listed:
    number = invoice.get("invoiceNumber") if isinstance(invoice, dict) else None
    if not isinstance(number, str) or not SAFE_BILL_NUMBER.match(number):
        raise ConnectorError(f"GET {url}: invalid invoiceNumber {number!r}")
    assert isinstance(invoice, dict)
    cursor = invoice.get(cursor_field)
    if not isinstance(cursor, str) or not cursor:
        raise ConnectorError(
            f"GET {url}: invoice {number} has no text {cursor_field!r} (the since-cursor "
            f"field), got {cursor!r}"
        )
    return Listed(number, cursor)


def _envelope_once(fetcher: _Fetcher, bill_number: str) -> dict:
    """All charge pages of one invoice, raw, in order, checked complete; _Changed when the
    invoice or its charge count differs between pages (the bill changed meanwhile)."""
    page_size = fetcher.source.page_size
    path: str | None = (
        f"{fetcher.endpoint_path}/{quote(bill_number)}/charges?page=1&page_size={page_size}"
    )
    pages: list[dict] = []
    seen = 0
    first: tuple[object, object] | None = None
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
        version = (invoice, document.get("totalCharges"))
        first = first or version
        if version != first:
            raise _Changed(f"GET {url}: the invoice or totalCharges differs from page 1's")
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
    expected = first[1] if first else None
    if expected != seen:
        raise ConnectorError(
            f"{fetcher.base_url}{fetcher.endpoint_path}/{bill_number}/charges: the pages "
            f"held {seen} charges but the API reports totalCharges={expected!r}"
        )
    return {
        "envelope": ENVELOPE_FORMAT,
        "carrier": fetcher.source.carrier,
        "bill_number": bill_number,
        "pages": pages,
    }


def store_envelope(layout: DataLayout, envelope: dict) -> PulledBill:
    """`bills/inbox/<CARRIER>/<bill>.json`, written atomically unless its bytes are had
    already: the same bytes under its name in the inbox or, when the inbox has no file
    under its name, in the raw store (taken in before: a bill withdrawn from the inbox is
    not brought back by pulling it again). A changed bill replaces the file under its name,
    which the bills pipeline takes as a correction superseding the earlier content
    (runs/inbox.py)."""
    number = envelope["bill_number"]
    path = layout.bills_inbox / envelope["carrier"] / f"{number}.json"
    data = (json.dumps(envelope, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    if is_regular_file(path):
        if path.read_bytes() == data:
            return PulledBill(number, path, "unchanged")
        write_bytes(path, data)
        return PulledBill(number, path, "updated")
    digest = hashlib.sha256(data).hexdigest()
    if (layout.raw_store / digest[:2] / f"{digest}.json").exists():
        return PulledBill(number, path, "unchanged")
    write_bytes(path, data)
    return PulledBill(number, path, "new")


def fetch_bills(
    source: ApiSource,
    layout: DataLayout,
    since: str | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> PullResult:
    """Fetch every invoice `source` lists from the cursor `since` on into the inbox.

    The connector takes plain values and knows nothing of carriers.yaml or where the
    cursor is kept (runs/api_bills.py). Raises AuthError on refused credentials and
    ConnectorError, naming the URL, when a request still fails within the policy or a
    response is malformed or incomplete. Envelopes of invoices fetched before a failure
    are already written (each is complete on its own), so a pull repeated from the same
    cursor picks up where it failed without doubling a bill.
    """
    fetcher = _Fetcher(source, layout, sleep, transport)
    with fetcher.client:
        listing = f"{fetcher.base_url}{fetcher.endpoint_path}"
        listed, restarts = _restarting(listing, partial(_list_once, fetcher, since))
        bills = []
        for item in listed:
            envelope, again = _restarting(
                f"{listing}/{item.number}/charges", partial(_envelope_once, fetcher, item.number)
            )
            restarts += again
            bills.append(store_envelope(layout, envelope))
    cursor = max((item.cursor for item in listed), default=None)
    return PullResult(bills, cursor, restarts, fetcher.token_refreshes)
