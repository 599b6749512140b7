"""The Sell REST client every stream shares: auth, pacing, TLS, retries, errors and envelopes."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Generator, Iterable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import requests
from singer_sdk import RESTStream
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_sell.pagination import SellPagePaginator

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_sell.tap import TapSell

REQUEST_TIMEOUT = 60  # seconds per request; a timed-out request is retried
RETRY_AFTER_CAP = 120.0  # seconds; never sleep longer than this on a server hint


class SellAuthError(FatalAPIError):
    """Sell refused the token: nothing later in the run can succeed."""


def sell_error_summary(response: requests.Response) -> str:
    """``code: details`` of each entry of Sell's error envelope (reference §2.4), else the text."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or "").strip()[:300]
    parts = []
    for entry in (body or {}).get("errors") or []:
        error = (entry or {}).get("error") or {}
        code = error.get("code", "error")
        detail = error.get("details") or error.get("message") or ""
        field = f" {error['field']}" if error.get("field") else ""
        parts.append(f"{code}{field}: {detail}".strip())
    logref = ((body or {}).get("meta") or {}).get("logref")
    summary = "; ".join(parts) or str(body)[:300]
    return f"{summary} (logref {logref})" if logref else summary


def retry_after_seconds(response: requests.Response | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta or HTTP date), if Sell ever sends one."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


class SellStream(RESTStream[int]):
    """Base stream: ``<api_url>/v2/<path>``, records are ``items[].data`` as Sell sends them."""

    records_jsonpath = "$.items[*].data"
    primary_keys = ("id",)
    #: query parameters this list accepts; Sell answers 400 to unknown ones (reference §2.4)
    paged = True
    extra_params: dict[str, Any] = {}

    @property
    def tap(self) -> TapSell:
        return self._tap  # type: ignore[return-value]

    @property
    def url_base(self) -> str:
        return f"{self.config['api_url'].rstrip('/')}/v2"

    @cached_property
    def authenticator(self) -> BearerTokenAuthenticator:
        return BearerTokenAuthenticator(token=self.config["api_token"])

    @property
    def http_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    @cached_property
    def user_agent(self) -> str:
        return self.tap.user_agent

    @property
    def requests_session(self) -> requests.Session:
        session = super().requests_session
        session.verify = self.tap.tls_verify
        return session

    @property
    def timeout(self) -> int:
        return REQUEST_TIMEOUT

    # --- requests -----------------------------------------------------------------------

    def get_new_paginator(self) -> SellPagePaginator | None:
        return SellPagePaginator() if self.paged else None

    def get_url_params(self, context: Context | None, next_page_token: int | None) -> dict:
        if not self.paged:
            return dict(self.extra_params)
        return {"page": next_page_token or 1, "per_page": 100, **self.extra_params}

    def request_decorator(self, func: Any) -> Any:
        """Pace every attempt (retries too) to the per-token limit, then apply the SDK retries."""
        limiter = self.tap.limiter

        def paced(prepared_request: requests.PreparedRequest, context: Context | None) -> Any:
            if limiter is not None:
                limiter.try_acquire("sell", blocking=True)
            try:
                return func(prepared_request, context)
            except requests.exceptions.SSLError as exc:
                # A certificate problem does not heal on retry (requests files it under
                # ConnectionError, which the SDK retries): fail now and say what to set.
                host = urlparse(prepared_request.url or "").netloc
                msg = (
                    f"TLS verification of {host} failed ({exc.__class__.__name__}); "
                    "give the CA with ca_bundle, or set verify_ssl to false for testing"
                )
                raise FatalAPIError(msg) from None

        return super().request_decorator(paced)

    def get_json(self, params: dict[str, Any], context: Context | None = None) -> dict[str, Any]:
        """One paced, retried GET of this stream's list with explicit parameters."""
        prepared = self.build_prepared_request(
            method="GET", url=self.get_url(context), params=params, headers=self.http_headers
        )
        with self.get_http_request_counter() as counter:
            counter.with_context(context)
            response = self.request_decorator(self._request)(prepared, context)
            counter.increment()
        body: dict[str, Any] = response.json()
        return body

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        for item in response.json().get("items") or []:
            yield item["data"]

    # --- errors and retries ------------------------------------------------------------

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status == 401:
            msg = "api_token was rejected by Sell (401 unauthorized)"
            raise SellAuthError(msg)
        if status == 429 or status >= 500:
            raise RetriableAPIError(self.response_error_message(response), response)
        if status >= 400:
            raise FatalAPIError(self.response_error_message(response))

    def response_error_message(self, response: requests.Response) -> str:
        """Method, path, status and Sell's ``code``/``details``; never headers or the query."""
        path = urlparse(response.url).path or self.path
        method = response.request.method if response.request is not None else "GET"
        return f"Sell {method} {path} failed: {response.status_code} {sell_error_summary(response)}"

    def backoff_wait_generator(self) -> Generator[float, Any, None]:
        """Exponential (0.5 s, 1 s, 2 s ... 30 s) unless the server says how long to wait."""
        exception = yield  # type: ignore[misc]
        attempt = 0
        while True:
            response = getattr(exception, "response", None)
            hinted = retry_after_seconds(response)
            delay = hinted if hinted is not None else min(0.5 * 2**attempt, 30.0)
            attempt += 1
            exception = yield delay

    def backoff_max_tries(self) -> int:
        return 8

    def backoff_jitter(self, value: float) -> float:
        return value * (1 + 0.25 * (time.monotonic_ns() % 1000) / 1000)
