"""JSON batching: ``POST /v1.0/$batch`` with up to 20 sub-requests (reference §6).

Each sub-request is authorised, throttled, counted (``batched`` in the stats) and answered on its
own; the batch answers 200 once it parses. ``dependsOn`` runs requests in order and answers 424
for those whose dependency failed; only the three shapes that work on Graph today are accepted
(none, a chain, or all on one request). Answers of an unordered batch come back in another order
than the requests (reverse), since Graph does not keep the order either.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from multidict import CIMultiDict

from graph_sandbox.answers import Answer
from graph_sandbox.call import GraphCall, GraphState, Principal, resolve_mailbox
from graph_sandbox.dispatch import execute
from graph_sandbox.errors import GraphError, bad_request, throttled
from graph_sandbox.routing import Route, is_write, parse_path, split_url
from graph_sandbox.throttling import CONCURRENCY_MESSAGE

MAX_REQUESTS = 20
METHODS = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})


@dataclass
class SubRequest:
    id: str
    method: str
    url: str
    headers: CIMultiDict[str]
    body: Any
    depends_on: list[str] = field(default_factory=list)
    route: Route | None = None
    route_error: GraphError | None = None


def parse_batch(body: Any) -> tuple[list[SubRequest], bool]:
    """The sub-requests and whether they are ordered by ``dependsOn``; 400 for a bad batch."""
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise bad_request("Invalid batch payload format.")
    raw = body["requests"]
    if not raw:
        raise bad_request("Invalid batch payload format: no requests.")
    if len(raw) > MAX_REQUESTS:
        raise bad_request(f"Number of requests in a batch exceeds the limit of {MAX_REQUESTS}.")
    seen: set[str] = set()
    requests: list[SubRequest] = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise bad_request("Invalid batch payload format.")
        rid, method, url = entry.get("id"), entry.get("method"), entry.get("url")
        if not isinstance(rid, str) or not rid:
            raise bad_request("Every request in a batch needs an id.")
        if rid.lower() in seen:
            raise bad_request(f"Request id '{rid}' is used more than once in the batch.")
        seen.add(rid.lower())
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise bad_request(f"Request '{rid}' has an invalid method.")
        if not isinstance(url, str) or not url:
            raise bad_request(f"Request '{rid}' has no url.")
        headers = entry.get("headers") or {}
        if not isinstance(headers, dict):
            raise bad_request(f"Request '{rid}': headers must be an object.")
        headers = CIMultiDict({str(k): str(v) for k, v in headers.items()})
        if "body" in entry and "Content-Type" not in headers:
            raise bad_request(f"Request '{rid}' has a body but no Content-Type header.")
        depends = entry.get("dependsOn") or []
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise bad_request(f"Request '{rid}': dependsOn must be a list of ids.")
        requests.append(SubRequest(rid, method.upper(), url, headers, entry.get("body"), depends))
    ordered = any(r.depends_on for r in requests)
    if ordered:
        _check_shape(requests)
    return requests, ordered


def _check_shape(requests: list[SubRequest]) -> None:
    ids = [r.id.lower() for r in requests]
    deps = [[d.lower() for d in r.depends_on] for r in requests]
    for dep_list in deps:
        for dep in dep_list:
            if dep not in ids:
                raise bad_request(f"dependsOn names an unknown request id '{dep}'.")
    chain = all(d == ([ids[i - 1]] if i else []) for i, d in enumerate(deps))
    star = not deps[0] and all(d == [ids[0]] for d in deps[1:])
    if not (chain or star):
        raise bad_request(
            "dependsOn must make the batch a chain (each on the one before) or have every "
            "request depend on the same first one; other shapes do not work on Graph."
        )


def route_requests(requests: list[SubRequest]) -> None:
    for request in requests:
        try:
            path, _ = split_url(request.url)
            request.route = parse_path(path)
            if request.route.resource == "batch":
                raise bad_request("A batch cannot contain another batch.")
        except GraphError as err:
            request.route, request.route_error = None, err


def slot_needs(
    state: GraphState, principal: Principal, requests: list[SubRequest], ordered: bool
) -> dict[str, int]:
    """Concurrency slots the batch needs per mailbox address (see throttling.py)."""
    counts: dict[str, int] = {}
    for request in requests:
        if request.route is None:
            continue
        try:
            mailbox = resolve_mailbox(state, principal, request.route)
        except GraphError:
            continue
        counts[mailbox.address.lower()] = counts.get(mailbox.address.lower(), 0) + 1
    return {address: 1 if ordered else min(count, 4) for address, count in counts.items()}


def _inner(request: SubRequest, status: int, body: Any = None, headers: dict | None = None) -> dict:
    answer: dict[str, Any] = {"id": request.id, "status": status, "headers": dict(headers or {})}
    if body is not None:
        answer["headers"].setdefault("Content-Type", "application/json")
        answer["body"] = body
    return answer


def run_batch(
    state: GraphState,
    principal: Principal,
    requests: list[SubRequest],
    ordered: bool,
    *,
    base_url: str,
    slots: dict[str, int],
    envelope: Callable[[GraphError], dict],
    on_answer: Callable[[str, SubRequest, Answer | None, GraphError | None, str | None], None],
) -> Answer:
    """Run the sub-requests; ``on_answer(operation, request, answer, error, tenant)`` counts
    and records each one."""
    failed: set[str] = set()
    responses: list[dict] = []
    for request in requests:
        operation = f"{request.method} {request.route.template}" if request.route else "(invalid)"
        if any(d.lower() in failed for d in request.depends_on):
            failed.add(request.id.lower())
            err = GraphError(424, "FailedDependency", "The request depends on a failed request.")
            on_answer(operation, request, None, err, None)
            responses.append(_inner(request, 424, envelope(err)))
            continue
        answer, err, tenant = _run_one(state, principal, request, base_url, slots)
        on_answer(operation, request, answer, err, tenant)
        if err is not None:
            failed.add(request.id.lower())
            responses.append(_inner(request, err.status, envelope(err), err.headers))
        else:
            assert answer is not None
            if answer.status >= 400:
                failed.add(request.id.lower())
            responses.append(_inner(request, answer.status, answer.body, answer.headers))
    if not ordered:
        responses.reverse()
    return Answer(200, {"responses": responses})


def _run_one(
    state: GraphState,
    principal: Principal,
    request: SubRequest,
    base_url: str,
    slots: dict[str, int],
) -> tuple[Answer | None, GraphError | None, str | None]:
    tenant = None
    try:
        if request.route is None:
            raise request.route_error or bad_request("Invalid request url.")
        route = request.route
        _, query_text = split_url(request.url)
        mailbox = resolve_mailbox(state, principal, route)
        tenant = mailbox.address
        write = is_write(request.method, route)
        principal.check_permission(route.family, write)
        if not slots.get(mailbox.address.lower()):
            raise throttled(state.throttle.retry_after, CONCURRENCY_MESSAGE)
        state.throttle.spend(principal.key, mailbox.address)
        body = request.body
        if isinstance(body, str) and "json" in request.headers.get("Content-Type", ""):
            body = json.loads(body)
        call = GraphCall(
            state=state,
            principal=principal,
            mailbox=mailbox,
            method=request.method,
            route=route,
            query=_query(query_text),
            headers=request.headers,
            body=body,
            base_url=base_url,
        )
        return execute(call), None, tenant
    except GraphError as err:
        return None, err, tenant
    except Exception:  # a sandbox bug must still look like a server error
        traceback.print_exc(file=sys.stderr)
        return (
            None,
            GraphError(500, "generalException", "An internal server error occurred."),
            tenant,
        )


def _query(text: str) -> dict[str, str]:
    return dict(parse_qsl(text, keep_blank_values=True))
