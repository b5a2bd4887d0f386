"""A small carrier billing API on 127.0.0.1 that serves the generated API bills.

The HTTP bill connector (parsers/connectors/http_api.py) must cope with what real
carrier APIs do: paging, a token check, OAuth client credentials with tokens that
expire, and transient failures (503 / 429 with Retry-After). This server serves
`bills/api/<CARRIER>/<bill>.json` (written by demo/bills/json_api.py) with exactly
those behaviours, plus faults a test injects (`CarrierApi.inject`: a status, a delay
past the client's timeout, a change to the bills between two pages), so tests and
`make demo` exercise the connector against a real socket. The protocol is in
demo/bills/FORMATS.md ("The API"). It is bounded: it stops by itself after
`lifetime_s` even if nobody closes it.

Run by hand: `python -m demo.carrier_api --data DIR --token T [--fail-every 5]`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import re
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from storage.layout import DataLayout

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
LIST_ROUTE = re.compile(r"^/carriers/(?P<carrier>[A-Z0-9_]+)/bills$")
CHARGES_ROUTE = re.compile(
    r"^/carriers/(?P<carrier>[A-Z0-9_]+)/bills/(?P<bill>[A-Za-z0-9._-]+)/charges$"
)
TOKEN_ROUTE = "/oauth/token"
TRANSIENT_STATUSES = (503, 429)


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@lru_cache(maxsize=64)
def _load_bill(path: Path, mtime_ns: int, size: int) -> dict:
    """Parsed bill document, cached per file version (pages of one bill share one parse)."""
    return json.loads(path.read_bytes())


def _bill(folder: Path, bill_number: str) -> dict:
    path = folder / f"{bill_number}.json"
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise _BadRequest(404, f"no invoice {bill_number!r}") from None
    return _load_bill(path, stat.st_mtime_ns, stat.st_size)


def _int_param(query: dict[str, list[str]], name: str, default: int, maximum: int) -> int:
    raw = query.get(name, [str(default)])[-1]
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise _BadRequest(400, f"{name} must be an integer in 1..{maximum}, got {raw!r}")
    return int(raw)


def _date_param(query: dict[str, list[str]], name: str) -> date | None:
    raw = query.get(name, [None])[-1]
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _BadRequest(400, f"{name} must be YYYY-MM-DD, got {raw!r}") from None


def _page(items: list, page: int, page_size: int) -> tuple[list, int, int | None]:
    """The items of `page` (1-based), the page count (at least 1), and the next page or None."""
    total_pages = max(1, math.ceil(len(items) / page_size))
    if page > total_pages:
        raise _BadRequest(404, f"page {page} is past the last page {total_pages}")
    chunk = items[(page - 1) * page_size : page * page_size]
    return chunk, total_pages, page + 1 if page < total_pages else None


@dataclass(frozen=True)
class Fault:
    """What one injected request gets instead of (or before) its normal answer."""

    status: int | None = None
    """Answer with this status (and an error body) instead of the normal answer."""
    retry_after: str | None = None
    delay_s: float = 0.0
    """Wait this long before answering: past the client's read timeout, a timeout."""
    before: Callable[[], None] | None = None
    """Run first, e.g. to change the bills on disk between two pages of a listing."""


class CarrierApi:
    """The server, started on construction; use as a context manager or call `close()`.

    `fail_every=k` makes every k-th request (counted over all requests) a transient
    failure, alternating 503 and 429, each with `Retry-After: <retry_after>`;
    `fail_every=1` makes every request fail (a permanently failing endpoint).
    `statuses` counts the status codes served, so tests can see retries happen.

    `token` is a fixed bearer token the API accepts (None: none). With `client_id` and
    `client_secret`, `POST /oauth/token` (client credentials, HTTP Basic) issues tokens,
    accepted until `expire_tokens()`.
    """

    def __init__(
        self,
        layout: DataLayout,
        token: str | None,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        fail_every: int | None = None,
        retry_after: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        lifetime_s: float = 600.0,
    ) -> None:
        if fail_every is not None and fail_every < 1:
            raise ValueError(f"fail_every must be >= 1 or None, got {fail_every}")
        self.api_dir = layout.bills_api_dir
        self.token = token
        self.client = (client_id, client_secret) if client_id and client_secret else None
        self.issued: set[str] = set()
        self._faults: dict[tuple[str, str], tuple[deque[Fault | None], Fault | None]] = {}
        self.fail_every = fail_every
        self.retry_after = retry_after
        self.statuses: Counter[int] = Counter()
        self._requests = 0
        self._failures = 0
        self._lock = threading.Lock()
        self._closed = False
        self.closed = threading.Event()
        """Set once the port is released (after `close()` or the lifetime deadline)."""
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self.url = f"http://{host}:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self._deadline = threading.Timer(lifetime_s, self.close)
        self._deadline.daemon = True
        self._deadline.start()

    def close(self) -> None:
        """Stop serving and release the port; safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._deadline.cancel()
        self._httpd.shutdown()
        self._httpd.server_close()
        self.closed.set()

    def __enter__(self) -> CarrierApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def injected_failure(self) -> int | None:
        """Count this request; return the status to fail it with, if it is a k-th one."""
        with self._lock:
            self._requests += 1
            if self.fail_every is None or self._requests % self.fail_every:
                return None
            self._failures += 1
            return TRANSIENT_STATUSES[(self._failures - 1) % len(TRANSIENT_STATUSES)]

    def inject(
        self, carrier: str, route: str, faults: list[Fault | None], *, then: Fault | None = None
    ) -> None:
        """The next requests of `carrier` on `route` ("list", "charges" or "any") get
        `faults` in order (None: answered normally), every later one `then`."""
        with self._lock:
            self._faults[(carrier, route)] = (deque(faults), then)

    def injected(self, carrier: str, route: str) -> Fault | None:
        with self._lock:
            for key in ((carrier, route), (carrier, "any")):
                if key in self._faults:
                    queue, then = self._faults[key]
                    return queue.popleft() if queue else then
        return None

    def issue_token(self, authorization: str | None) -> str | None:
        """A new access token for the right client credentials (HTTP Basic), else None."""
        if self.client is None or not authorization or not authorization.startswith("Basic "):
            return None
        try:
            given = base64.b64decode(authorization[6:], validate=True).decode("utf-8")
        except ValueError:
            return None
        if tuple(given.split(":", 1)) != self.client:
            return None
        token = secrets.token_urlsafe(16)
        with self._lock:
            self.issued.add(token)
        return token

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (401), as when it expires."""
        with self._lock:
            self.issued.clear()

    def accepts(self, authorization: str | None) -> bool:
        with self._lock:
            valid = set(self.issued) | ({self.token} if self.token else set())
        return any(authorization == f"Bearer {token}" for token in valid)

    def record(self, status: int) -> None:
        with self._lock:
            self.statuses[status] += 1

    def invoices(self, carrier: str, query: dict[str, list[str]]) -> dict:
        since, until = _date_param(query, "since"), _date_param(query, "until")
        page = _int_param(query, "page", 1, 10**9)
        page_size = _int_param(query, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        folder = self.api_dir / carrier
        found = []
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            invoice = _bill(folder, path.stem)["invoice"]
            day = date.fromisoformat(invoice["invoiceDate"])
            if (since is None or day >= since) and (until is None or day <= until):
                found.append(invoice)
        chunk, total_pages, next_page = _page(found, page, page_size)
        extra = "".join(f"&{k}={v}" for k, v in (("since", since), ("until", until)) if v)
        version = hashlib.sha256(json.dumps(found, sort_keys=True).encode()).hexdigest()[:16]
        return {
            "invoices": chunk,
            "listVersion": version,
            "page": page,
            "pageSize": page_size,
            "totalPages": total_pages,
            "totalInvoices": len(found),
            "next": None
            if next_page is None
            else f"/carriers/{carrier}/bills?page={next_page}&page_size={page_size}{extra}",
        }

    def charges(self, carrier: str, bill_number: str, query: dict[str, list[str]]) -> dict:
        page = _int_param(query, "page", 1, 10**9)
        page_size = _int_param(query, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        document = _bill(self.api_dir / carrier, bill_number)
        chunk, total_pages, next_page = _page(document["charges"], page, page_size)
        path = f"/carriers/{carrier}/bills/{quote(bill_number)}/charges"
        return {
            "invoice": document["invoice"],
            "page": page,
            "pageSize": page_size,
            "totalPages": total_pages,
            "totalCharges": len(document["charges"]),
            "charges": chunk,
            "next": None if next_page is None else f"{path}?page={next_page}&page_size={page_size}",
        }


def _handler_for(api: CarrierApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "DemoCarrierAPI/1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: tests and `make demo` read `api.statuses`, not a request log."""

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            api.record(status)  # before the client can see the response, so counts never lag
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up waiting (a timeout test)

        def _fault(self, path: str) -> bool:
            """Apply an injected fault; True when it answered the request itself."""
            match = LIST_ROUTE.match(path) or CHARGES_ROUTE.match(path)
            if match is None:
                return False
            route = "list" if LIST_ROUTE.match(path) else "charges"
            fault = api.injected(match["carrier"], route)
            if fault is None:
                return False
            if fault.before is not None:
                fault.before()
            if fault.delay_s:
                time.sleep(fault.delay_s)
            if fault.status is None:
                return False
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._send(fault.status, {"error": f"injected HTTP {fault.status}"}, headers)
            return True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode("utf-8")) if length else {}
            if urlsplit(self.path).path != TOKEN_ROUTE:
                self._send(404, {"error": f"no such endpoint {self.path!r}"})
                return
            if form.get("grant_type") != ["client_credentials"]:
                self._send(400, {"error": "unsupported_grant_type"})
                return
            token = api.issue_token(self.headers.get("Authorization"))
            if token is None:
                self._send(401, {"error": "invalid_client"}, {"WWW-Authenticate": "Basic"})
                return
            self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

        def do_GET(self) -> None:
            if self._fault(urlsplit(self.path).path):
                return
            failure = api.injected_failure()
            if failure is not None:
                self._send(
                    failure,
                    {"error": "temporarily unavailable" if failure == 503 else "rate limited"},
                    {"Retry-After": str(api.retry_after)},
                )
                return
            if not api.accepts(self.headers.get("Authorization")):
                self._send(
                    401,
                    {"error": "invalid or missing bearer token"},
                    {"WWW-Authenticate": "Bearer"},
                )
                return
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            try:
                if match := LIST_ROUTE.match(url.path):
                    body = api.invoices(match["carrier"], query)
                elif match := CHARGES_ROUTE.match(url.path):
                    body = api.charges(match["carrier"], match["bill"], query)
                else:
                    raise _BadRequest(404, f"no such endpoint {url.path!r}")
            except _BadRequest as error:
                self._send(error.status, {"error": str(error)})
                return
            self._send(200, body)

    return Handler


@contextmanager
def serve(
    layout: DataLayout,
    token: str,
    *,
    fail_every: int | None = None,
    retry_after: int = 0,
    lifetime_s: float = 600.0,
) -> Iterator[str]:
    """Serve `layout.bills_api_dir` on an ephemeral 127.0.0.1 port; yields the base URL."""
    with CarrierApi(
        layout, token, fail_every=fail_every, retry_after=retry_after, lifetime_s=lifetime_s
    ) as api:
        yield api.url


@dataclass
class DemoFetch:
    """What `fetch_demo_bills` did: the envelopes per carrier and the statuses served."""

    paths: dict[str, list[Path]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def retried(self) -> int:
        """Injected transient failures the connector recovered from."""
        return sum(n for status, n in self.statuses.items() if status in TRANSIENT_STATUSES)


def fetch_demo_bills(
    layout: DataLayout, *, fail_every: int | None = 5, since: date | None = None
) -> DemoFetch:
    """What `make demo` runs: serve every carrier under `bills/api/` on 127.0.0.1 and pull
    its bills the way production does (runs/api_bills.py `pull_carrier`: carriers.yaml's
    `api` block, the token from the environment it names, the since-cursor kept under
    state/), with every `fail_every`-th request failing transiently so the retries are
    exercised. The token is random per run and handed over as that environment variable;
    the retry backoff is shortened to 0.05-1 s, the local server failing on purpose.
    A carrier with an API folder but no `api` block is pulled with the default settings.
    `since` starts the cursor at that day. A failed pull raises, naming carrier and reason.
    """
    from pipelines.reconciliation.config import ApiSettings, RetrySettings
    from runs.api_bills import pull_carrier, write_cursor
    from storage.config import load_carriers

    configured: dict[str, ApiSettings] = {}
    if layout.carriers_file.exists():
        for config in load_carriers(layout.carriers_file).carriers:
            if config.api is not None:
                configured[config.carrier] = config.api
    carriers = (
        sorted(p.name for p in layout.bills_api_dir.iterdir() if p.is_dir())
        if (layout.bills_api_dir.is_dir())
        else []
    )
    token = secrets.token_urlsafe(16)
    result = DemoFetch()
    retries = RetrySettings(backoff_base_s=0.05, backoff_max_s=1.0)
    with CarrierApi(layout, token, fail_every=fail_every, retry_after=0) as api:
        for carrier in carriers:
            default = ApiSettings(endpoint=api.url, token_env=f"RECKON_{carrier}_TOKEN")
            settings = configured.get(carrier, default).model_copy(update={"retries": retries})
            if since is not None:
                write_cursor(layout, carrier, settings.cursor_field, since.isoformat())
            env = {settings.token_env or "": token}
            pulled = pull_carrier(layout, carrier, settings, env=env, base_url=api.url)
            if not pulled.ok:
                raise RuntimeError(f"demo API pull of {carrier} failed: {pulled.reason}")
            result.paths[carrier] = list(pulled.paths)
        result.statuses.update(api.statuses)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="data directory (DataLayout root)")
    parser.add_argument("--token", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fail-every", type=int, default=None)
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--lifetime", type=float, default=600.0, help="seconds before it stops")
    args = parser.parse_args(argv)
    api = CarrierApi(
        DataLayout(args.data),
        args.token,
        fail_every=args.fail_every,
        retry_after=args.retry_after,
        port=args.port,
        lifetime_s=args.lifetime,
    )
    print(api.url, flush=True)
    api._thread.join()


if __name__ == "__main__":
    main()
