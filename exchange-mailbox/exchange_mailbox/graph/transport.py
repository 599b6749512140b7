"""HTTP to Microsoft Graph for one mailbox: tokens, TLS, immutable ids, retries, concurrency.

Why each choice (SPEC S13.3, reference graph-contacts.md §6, §7, §10):
- Every request carries ``Prefer: IdType="ImmutableId"`` (it applies per request, batch
  sub-requests included), so a contact moved between folders keeps its id (S13.2).
- 429 and 503 are retried by urllib3's ``Retry`` honouring ``Retry-After`` (no retry loop of our
  own). ``BoundedRetry`` adds one rule, the one ``ews.retry_policy`` has for EWS: the waits of
  one request's busy spell total at most ``retry_max_wait`` seconds, then the busy answer comes
  back and the call raises ``GraphBusyError`` naming the setting (S10.2).
- Dropped connections are retried for reads only; a write whose answer was lost is never sent
  twice by this layer (it may have been applied): the caller resolves it (S7.2).
- At most 4 requests in flight for the mailbox (Outlook's per app-and-mailbox concurrency); an
  unordered ``$batch`` takes all 4 slots, as Graph hands up to 4 of its sub-requests at once.
- Logs name method, path and status, never a header (the bearer token) or a body (S11).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlsplit

import requests
import requests.adapters
from urllib3 import BaseHTTPResponse
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from ..app_tokens import AppTokens, graph_scope
from ..errors import ExchangeSetupError
from ..https import https_session
from ..settings import ExchangeSettings
from .errors import GraphBusyError, GraphError

log = logging.getLogger(__name__)

API_VERSION = "v1.0"
IMMUTABLE_IDS = 'IdType="ImmutableId"'
CONCURRENCY = 4
TIMEOUT = (10, 120)
BUSY_STATUSES = frozenset({429, 503, 504})


class BoundedRetry(Retry):
    """``Retry`` whose waits for one request total at most ``max_wait`` seconds."""

    def __init__(self, *args: Any, max_wait: float = 300.0, waited: float = 0.0, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.max_wait = max_wait
        self.waited = waited

    def new(self, **kw: Any) -> BoundedRetry:
        retry = super().new(**kw)
        retry.max_wait, retry.waited = self.max_wait, self.waited
        return retry

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if response is not None and error is None:
            wait = self.get_retry_after(response) if self.respect_retry_after_header else None
            if wait is None:  # the exponential back-off the next sleep will take
                wait = min(self.backoff_max, self.backoff_factor * 2 ** len(self.history))
            if self.waited + wait > self.max_wait:
                # raise_on_status is off: urllib3 hands the busy answer back to the caller.
                # The pool may be None, as in urllib3's own increment (same ignore there).
                busy = ResponseError(f"busy for {self.waited:.0f} s")
                raise MaxRetryError(_pool, url, busy)  # type: ignore[arg-type]
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        started = time.monotonic()
        super().sleep(response)
        self.waited += time.monotonic() - started


def _retry(max_wait: float, *, reads: bool) -> BoundedRetry:
    return BoundedRetry(
        total=None,
        connect=3,
        read=3 if reads else 0,
        other=0,
        status=50,
        redirect=0,
        allowed_methods=None,  # the methods are told apart by which session sends them
        status_forcelist=BUSY_STATUSES,
        backoff_factor=1.0,
        backoff_max=60,
        raise_on_status=False,
        raise_on_redirect=False,
        respect_retry_after_header=True,
        retry_after_max=int(max_wait) + 1,
        max_wait=max_wait,
    )


class MailboxSlots:
    """A counting limit with weights: a plain request takes 1 slot, an unordered batch all 4."""

    def __init__(self, capacity: int = CONCURRENCY) -> None:
        self.capacity = capacity
        self.used = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, slots: int = 1) -> Iterator[None]:
        slots = min(slots, self.capacity)
        with self._cond:
            self._cond.wait_for(lambda: self.used + slots <= self.capacity)
            self.used += slots
        try:
            yield
        finally:
            with self._cond:
                self.used -= slots
                self._cond.notify_all()


class BearerAuth(requests.auth.AuthBase):
    def __init__(self, tokens: AppTokens, scope: str) -> None:
        self.tokens = tokens
        self.scope = scope

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.tokens.token(self.scope)}"
        return request


class GraphTransport:
    """Requests to ``<graph_url>/v1.0`` on behalf of one mailbox (``user`` is its path)."""

    def __init__(self, settings: ExchangeSettings, tokens: AppTokens | None = None) -> None:
        self.settings = settings
        self.tokens = tokens or AppTokens(settings)
        self.root = f"{settings.graph_url}/{API_VERSION}"
        self.user = f"users/{quote(settings.primary_smtp_address, safe='@')}"
        self.slots = MailboxSlots()
        self.requests_sent = 0
        auth = BearerAuth(self.tokens, graph_scope(settings.graph_url))
        self._sessions = {
            reads: self._session(settings, auth, reads=reads) for reads in (True, False)
        }
        if settings.verify is False:
            log.warning("TLS certificate verification is OFF for %s (verify_ssl: false)", self.root)

    @staticmethod
    def _session(settings: ExchangeSettings, auth: BearerAuth, *, reads: bool) -> requests.Session:
        session = https_session(settings.verify)
        adapter = requests.adapters.HTTPAdapter(
            max_retries=_retry(settings.retry_max_wait, reads=reads)
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.auth = auth
        session.headers.update(
            {"Prefer": IMMUTABLE_IDS, "Accept": "application/json", "User-Agent": "contact-sync"}
        )
        return session

    def url(self, path: str) -> str:
        """``path`` relative to the version root (``users/…``), or an absolute link as given."""
        if path.startswith(("https://", "http://")):
            return path
        return f"{self.root}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        slots: int = 1,
        read: bool | None = None,
    ) -> requests.Response:
        """One request; ``read`` (default: GET) allows resending it after a dropped connection.
        Returns the answer whatever its status, except a busy one after ``retry_max_wait``."""
        url = self.url(path)
        reads = method == "GET" if read is None else read
        session = self._sessions[reads]
        with self.slots.hold(slots):
            started = time.monotonic()
            try:
                response = session.request(
                    method, url, params=params, json=json, headers=headers, timeout=TIMEOUT
                )
            except requests.exceptions.SSLError:
                raise ExchangeSetupError(
                    f"TLS failure talking to {self.settings.graph_url} (certificate verify "
                    "failed): give the server's CA in 'ca_bundle' (or, for a test server only, "
                    "set 'verify_ssl' to false).",
                    setting="ca_bundle",
                ) from None
        self.requests_sent += 1
        log.debug(
            "Graph %s %s -> %s (%.0f ms, request-id %s)",
            method,
            urlsplit(url).path,
            response.status_code,
            (time.monotonic() - started) * 1000,
            response.headers.get("request-id"),
        )
        if response.status_code in BUSY_STATUSES:
            error = GraphError.from_answer(response.status_code, _json(response), response.headers)
            raise GraphBusyError(
                error.status,
                error.code,
                f"Microsoft Graph stayed busy ({error.message or error.code}) longer than setting "
                f"'retry_max_wait' ({self.settings.retry_max_wait:g} s) allows",
                retry_after=error.retry_after,
                request_id=error.request_id,
            )
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request`` that raises ``GraphError`` for an error status; the JSON body or None."""
        response = self.request(method, path, **kwargs)
        body = _json(response)
        if response.status_code >= 400:
            raise GraphError.from_answer(response.status_code, body, response.headers)
        return body

    def pages(
        self, path: str, params: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        """Each page of a collection, following ``@odata.nextLink`` as given."""
        page = self.call("GET", path, params=params, **kwargs)
        while True:
            yield page
            link = page.get("@odata.nextLink")
            if not link:
                return
            page = self.call("GET", link, **kwargs)

    def items(self, path: str, params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        for page in self.pages(path, params):
            yield from page.get("value") or ()

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None
