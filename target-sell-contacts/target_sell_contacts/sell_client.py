"""The Sell REST v2 client of the target: envelopes, errors, retries and pacing.

Retries are urllib3's ``Retry`` (429 / 5xx / connection errors, honouring ``Retry-After``); every
attempt, first or retried, first takes a permit from one pyrate-limiter bucket shared by all sink
threads, so ``max_in_flight`` threads together stay at ``requests_per_second`` for the token.

Writes come in two kinds. Idempotent ones (``PUT``) are retried after anything.
A plain ``POST`` create is retried only when the server certainly did not apply it (429, or a
connection that never opened); a dropped connection, a time-out or a 5xx after the request was
sent raise ``AmbiguousWriteError`` so the caller can look for the record before trying again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from pyrate_limiter import Duration, InMemoryBucket, Limiter, Rate
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from target_sell_contacts import __version__

LOGGER = logging.getLogger("target_sell_contacts.sell")
PER_PAGE = 100
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "POST"})


class SellError(Exception):
    """A Sell error envelope (reference §2.4) or a transport failure."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: str | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
        logref: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details
        self.errors = list(errors)
        self.logref = logref

    def reason(self) -> str:
        """One line naming every error Sell reported, with its field and English details."""
        parts = []
        for err in self.errors or [{"code": self.code, "details": self.details}]:
            field = err.get("field")
            text = err.get("details") or err.get("message") or err.get("code") or "error"
            parts.append(f"{field}: {text}" if field else str(text))
        prefix = f"{self.status} " if self.status else ""
        return prefix + "; ".join(parts)


class AuthError(SellError):
    """401/403: the token is wrong, expired or lacks scope."""


class NotFoundError(SellError):
    """404: the record does not exist (deleted or merged away in Sell)."""


class RejectedError(SellError):
    """422 (and other 4xx on a write): Sell refuses this record's values; skip and report it."""


class TransientError(SellError):
    """429 / 5xx / connection trouble that outlived every retry: the run must fail."""


class AmbiguousWriteError(TransientError):
    """A create was sent but its outcome is unknown (dropped connection, time-out, 5xx)."""


class PacedRetry(Retry):
    """``Retry`` whose every re-attempt first takes a permit from the shared limiter."""

    pacer: Pacer | None = None

    def new(self, **kw: Any) -> PacedRetry:
        retry = super().new(**kw)
        retry.pacer = self.pacer
        return retry

    def sleep(self, response: Any = None) -> None:
        if response is not None:
            LOGGER.info("Sell answered %s; retrying (%d left)", response.status, self.total or 0)
        super().sleep(response)
        if self.pacer is not None:
            self.pacer.acquire()


class Pacer:
    """At most ``per_second`` requests in any one-second window, across all threads.

    Sell counts a request when it arrives, we when we send it; scheduling jitter between the two
    can squeeze eleven requests into Sell's second. Each 429 therefore widens our window a little
    (``slow_down``), so a run settles just under the limit instead of retrying all the time.
    """

    START_BUFFER_MS = 20
    STEP_MS = 20
    MAX_BUFFER_MS = 300

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.rate_limited = 0
        self._limiter: Limiter | None = None
        if per_second and per_second > 0:
            # A whole number of permits per window keeps the window exact; fractions round up
            # to a longer window with the same average.
            if float(per_second).is_integer():
                rate = Rate(int(per_second), Duration.SECOND)
            else:
                rate = Rate(1, round(1000 / per_second))
            self._limiter = Limiter(InMemoryBucket([rate]), buffer_ms=self.START_BUFFER_MS)
        self.acquired = 0
        self._lock = threading.Lock()

    def slow_down(self) -> None:
        with self._lock:
            self.rate_limited += 1
            if self._limiter is not None:
                wider = min(self._limiter.buffer_ms + self.STEP_MS, self.MAX_BUFFER_MS)
                self._limiter.buffer_ms = wider

    def acquire(self) -> None:
        if self._limiter is not None:
            self._limiter.try_acquire("sell", blocking=True)
        with self._lock:
            self.acquired += 1


class _PacedAdapter(HTTPAdapter):
    def __init__(self, pacer: Pacer, **kwargs: Any) -> None:
        self._pacer = pacer
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        self._pacer.acquire()
        return super().send(request, *args, **kwargs)


@dataclass
class Page:
    items: list[dict[str, Any]]
    has_next: bool


class SellClient:
    """Thread-safe Sell API client; one per run and token."""

    def __init__(
        self,
        api_url: str,
        api_token: str,
        *,
        requests_per_second: float = 10,
        max_in_flight: int = 4,
        verify: bool | str = True,
        timeout: float = 60,
        max_retries: int = 8,
        backoff_factor: float = 0.5,
    ) -> None:
        self.base = api_url.rstrip("/")
        if self.base.endswith("/v2"):
            self.base = self.base[: -len("/v2")]
        self.timeout = timeout
        self.pacer = Pacer(requests_per_second)
        pool = max(max_in_flight, 1)
        # Idempotent requests: any failure may be retried.
        retry_all = PacedRetry(
            total=max_retries,
            connect=max_retries,
            read=max_retries,
            status=max_retries,
            other=0,
            allowed_methods=IDEMPOTENT,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            backoff_max=30,
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        retry_all.pacer = self.pacer
        # Plain creates: only what certainly was not applied (429, refused connection).
        retry_once = PacedRetry(
            total=max_retries,
            connect=max_retries,
            read=0,
            status=max_retries,
            other=0,
            allowed_methods=frozenset({"POST"}),
            status_forcelist=frozenset({429}),
            backoff_factor=backoff_factor,
            backoff_max=30,
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        retry_once.pacer = self.pacer
        self._idempotent = self._session(api_token, verify, retry_all, pool)
        self._once = self._session(api_token, verify, retry_once, pool)

    def _session(self, token: str, verify: bool | str, retry: Retry, pool: int) -> requests.Session:
        session = requests.Session()
        adapter = _PacedAdapter(
            self.pacer, max_retries=retry, pool_connections=1, pool_maxsize=pool
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.verify = verify
        session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": f"target-sell-contacts/{__version__}",
            }
        )
        return session

    def close(self) -> None:
        self._idempotent.close()
        self._once.close()

    # -- transport ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """One API call; returns the decoded body (``{}`` for 204) or raises a ``SellError``."""
        session = self._idempotent if idempotent else self._once
        url = f"{self.base}/v2/{path.lstrip('/')}"
        body = {"data": dict(data)} if data is not None else None
        try:
            resp = session.request(method, url, params=params, json=body, timeout=self.timeout)
        except requests.exceptions.SSLError as exc:
            msg = f"TLS error talking to Sell at {self.base} (check api_url, ca_bundle, verify_ssl)"
            raise TransientError(msg) from exc
        except requests.exceptions.ConnectionError as exc:
            if not idempotent and not _never_sent(exc):
                msg = f"{method} {path}: connection lost after sending; outcome unknown"
                raise AmbiguousWriteError(msg) from exc
            msg = f"{method} {path}: cannot reach Sell at {self.base} ({type(exc).__name__})"
            raise TransientError(msg) from exc
        except requests.exceptions.Timeout as exc:
            if not idempotent:
                msg = f"{method} {path}: timed out after sending; outcome unknown"
                raise AmbiguousWriteError(msg) from exc
            msg = f"{method} {path}: Sell did not answer within {self.timeout}s"
            raise TransientError(msg) from exc
        except requests.exceptions.RequestException as exc:
            msg = f"{method} {path}: {type(exc).__name__}"
            raise TransientError(msg) from exc
        if resp.status_code < 400:
            if resp.status_code == 204 or not resp.content:
                return {}
            return resp.json()
        raise _error_from(resp, method, path, idempotent=idempotent)

    # -- reads -------------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.request("GET", path, params=params or None)

    def page(self, path: str, params: Mapping[str, Any] | None = None, page: int = 1) -> Page:
        query = {"per_page": PER_PAGE, **(params or {}), "page": page}
        body = self.request("GET", path, params=query)
        items = [item["data"] for item in body.get("items", [])]
        links = (body.get("meta") or {}).get("links") or {}
        has_next = bool(links.get("next_page")) and len(items) > 0
        return Page(items=items, has_next=has_next)

    def iter_pages(
        self, path: str, params: Mapping[str, Any] | None = None, *, max_pages: int = 100_000
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a list in turn (stops at the last page, reference §2.2)."""
        for number in range(1, max_pages + 1):
            page = self.page(path, params, number)
            yield page.items
            if not page.has_next or len(page.items) < int((params or {}).get("per_page", PER_PAGE)):
                return

    def iter_all(
        self, path: str, params: Mapping[str, Any] | None = None, *, max_pages: int = 100_000
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list, page by page."""
        for items in self.iter_pages(path, params, max_pages=max_pages):
            yield from items

    def by_ids(self, path: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Records by id, ``PER_PAGE`` ids per request; missing ids are simply absent."""
        found: dict[int, dict[str, Any]] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), PER_PAGE):
            chunk = unique[start : start + PER_PAGE]
            page = self.page(path, {"ids": ",".join(str(i) for i in chunk), "sort_by": "id"})
            for item in page.items:
                found[int(item["id"])] = item
        return found

    def self_user(self) -> dict[str, Any]:
        return self.get("users/self").get("data", {})

    def custom_fields(self, resource: str) -> list[dict[str, Any]]:
        """Custom-field definitions of ``contact`` or ``lead`` (the API cannot create them)."""
        body = self.get(f"{resource}/custom_fields")
        if "items" in body:
            return [item["data"] for item in body["items"]]
        data = body.get("data")
        return list(data) if isinstance(data, list) else []

    # -- writes ------------------------------------------------------------------------------

    def create(self, path: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Plain ``POST``; raises ``AmbiguousWriteError`` when the outcome is unknown."""
        return self.request("POST", path, data=data, idempotent=False)["data"]

    def update(self, path: str, ident: int, data: Mapping[str, Any]) -> dict[str, Any]:
        """Partial ``PUT``: only the given attributes change."""
        return self.request("PUT", f"{path}/{ident}", data=data)["data"]


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never established, so a POST cannot have been applied."""
    text = repr(exc)
    return any(
        marker in text
        for marker in ("NewConnectionError", "ConnectTimeoutError", "Connection refused")
    )


def _error_from(resp: requests.Response, method: str, path: str, *, idempotent: bool) -> SellError:
    errors: list[dict[str, Any]] = []
    logref = resp.headers.get("X-Request-Id")
    try:
        body = resp.json()
        errors = [e.get("error", {}) for e in body.get("errors", []) if isinstance(e, dict)]
        logref = (body.get("meta") or {}).get("logref") or logref
    except ValueError:
        pass
    first = errors[0] if errors else {}
    status = resp.status_code
    kwargs: dict[str, Any] = {
        "status": status,
        "code": first.get("code"),
        "details": first.get("details") or first.get("message"),
        "errors": errors,
        "logref": logref,
    }
    where = f"{method} {path}"
    if status in (401, 403):
        return AuthError(f"{where}: Sell refused the api_token ({status})", **kwargs)
    if status == 404:
        return NotFoundError(f"{where}: not found", **kwargs)
    if status >= 500 or status == 429:
        if not idempotent and status != 429:
            return AmbiguousWriteError(
                f"{where}: {status} after sending; outcome unknown", **kwargs
            )
        return TransientError(f"{where}: {status} after retries", **kwargs)
    err = RejectedError(f"{where}: {status}", **kwargs)
    err.args = (f"{where}: {err.reason()}",)
    return err
