"""JSON ``$batch``: up to 20 requests in one, each answered on its own (reference §6).

``send`` posts one batch and returns the answers by request id (Graph keeps no order). Each
sub-request carries the immutable-id preference itself. Throttling is per sub-request: a busy one
(429/503) comes back with its own ``Retry-After`` while the others ran. For writes the caller
gets those as ``busy`` outcomes; ``read_all`` resends busy reads itself (a read is safe to
repeat), after the longest ``Retry-After``, and gives up once a busy spell has cost
``retry_max_wait`` seconds in total, as the transport does for whole requests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from .errors import GraphBusyError, GraphError, retry_after_seconds
from .transport import BUSY_STATUSES, CONCURRENCY, IMMUTABLE_IDS, GraphTransport

log = logging.getLogger(__name__)

MAX_BATCH = 20
DEFAULT_BUSY_WAIT = 1.0


@dataclass(frozen=True)
class SubRequest:
    """One request of a batch; ``url`` is relative to the version root (``/users/…``)."""

    id: str
    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        headers = {"Prefer": IMMUTABLE_IDS, **self.headers}
        out: dict[str, Any] = {"id": self.id, "method": self.method, "url": self.url}
        if self.body is not None:
            headers.setdefault("Content-Type", "application/json")
            out["body"] = self.body
        out["headers"] = headers
        return out


@dataclass(frozen=True)
class SubResponse:
    id: str
    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def busy(self) -> bool:
        return self.status in BUSY_STATUSES

    @property
    def retry_after(self) -> float | None:
        lowered = {k.lower(): v for k, v in (self.headers or {}).items()}
        return retry_after_seconds(lowered.get("retry-after"))

    def error(self) -> GraphError:
        return GraphError.from_answer(self.status, self.body, self.headers)


def relative_url(path: str, params: Mapping[str, str] | None = None) -> str:
    """A sub-request's url: ``/path`` and its query, percent-encoded as on the wire."""
    url = "/" + path.lstrip("/")
    if params:
        url += "?" + urlencode(params, quote_via=quote, safe="$,()'")
    return url


def chunks(items: Sequence[Any], size: int = MAX_BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def send(
    transport: GraphTransport, requests: Sequence[SubRequest], *, read: bool
) -> dict[str, SubResponse]:
    """POST one ``$batch`` (at most 20); answers by sub-request id."""
    if not requests:
        return {}
    if len(requests) > MAX_BATCH:
        msg = f"a $batch holds at most {MAX_BATCH} requests, not {len(requests)}"
        raise ValueError(msg)
    body = transport.call(
        "POST",
        "$batch",
        json={"requests": [r.to_json() for r in requests]},
        slots=CONCURRENCY,
        read=read,
    )
    out: dict[str, SubResponse] = {}
    for answer in (body or {}).get("responses") or ():
        out[str(answer.get("id"))] = SubResponse(
            id=str(answer.get("id")),
            status=int(answer.get("status") or 0),
            headers=answer.get("headers") or {},
            body=answer.get("body"),
        )
    missing = [r.id for r in requests if r.id not in out]
    if missing:
        msg = f"$batch answer lacks the requests {missing}"
        raise GraphError(502, "BatchAnswerIncomplete", msg)
    return out


def read_all(transport: GraphTransport, requests: Iterable[SubRequest]) -> dict[str, SubResponse]:
    """Every read answered (batches of 20); busy answers are resent, bounded in time."""
    pending = list(requests)
    out: dict[str, SubResponse] = {}
    spell_started: float | None = None
    max_wait = transport.settings.retry_max_wait
    while pending:
        busy: list[SubRequest] = []
        wait = 0.0
        for chunk in chunks(pending):
            for request, answer in zip(
                chunk, (a for a in _ordered(send(transport, chunk, read=True), chunk)), strict=True
            ):
                if answer.busy:
                    busy.append(request)
                    wait = max(wait, answer.retry_after or DEFAULT_BUSY_WAIT)
                else:
                    out[request.id] = answer
        if not busy:
            return out
        now = time.monotonic()
        spell_started = spell_started if spell_started is not None else now
        if now - spell_started + wait > max_wait:
            msg = (
                f"Microsoft Graph stayed busy for {len(busy)} batched reads longer than setting "
                f"'retry_max_wait' ({max_wait:g} s) allows"
            )
            raise GraphBusyError(429, "ApplicationThrottled", msg, retry_after=wait)
        log.info("Graph busy for %d batched reads: waiting %.1f s", len(busy), wait)
        time.sleep(wait)
        pending = busy
    return out


def _ordered(answers: Mapping[str, SubResponse], chunk: Sequence[SubRequest]) -> list[SubResponse]:
    return [answers[r.id] for r in chunk]
