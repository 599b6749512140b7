"""Graph on the EWS sandbox's aiohttp application: one process, one store, both protocols.

``install`` adds ``/v1.0/...``, the identity platform's endpoints and a middleware placed before
the latency one, so a request holds its concurrency slot for its whole life (latency included)
and the per-mailbox limit of 4 is observable. Every answer carries ``request-id`` and
``client-request-id`` (headers and, for errors, ``innerError``), as Graph's do.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import sys
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from sandbox_common import FaultInjector, RequestStats

from graph_sandbox import batch
from graph_sandbox.answers import Answer
from graph_sandbox.call import GraphCall, GraphState, Principal, authenticate, resolve_mailbox
from graph_sandbox.dispatch import execute
from graph_sandbox.errors import GraphError, bad_request, envelope, throttled
from graph_sandbox.routing import Route, is_write, parse_path

PREFIX = "/v1.0/"
CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8"
)
GRAPH_KEY = web.AppKey("graph_state", GraphState)


@dataclass
class Runtime:
    """What the Graph side shares with the EWS side of the process."""

    graph: GraphState
    stats: RequestStats
    faults: FaultInjector
    backoff_ms: int = 500
    slow_ms: int = 1500
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def record(self, operation: str, status: int, answer: Answer | None, body: Any) -> None:
        """``--record-responses``: every Graph JSON answer, for the CSDL check in the tests."""
        directory: Path | None = self.graph.record_dir
        if directory is None:
            return
        payload = {
            "operation": operation,
            "status": status,
            "entity_type": answer.entity_type if answer else None,
            "shape": answer.shape if answer else "error",
            "body": body,
        }
        path = directory / f"{next(self._counter):07d}-graph.json"
        path.write_text(json.dumps(payload, ensure_ascii=False))


@dataclass
class Prepared:
    """A Graph HTTP request after authentication, routing, counting and throttling."""

    principal: Principal
    route: Route
    operation: str
    body: Any
    tenant: str | None = None
    slots: dict[str, int] = field(default_factory=dict)
    batch: tuple[list[batch.SubRequest], bool] | None = None
    fault: str | None = None


PREPARED_KEY = "graph_prepared"


def _now_inner() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _json_response(
    status: int, body: Any, headers: dict[str, str], request_id: str, client_request_id: str
) -> web.Response:
    out = {
        "request-id": request_id,
        "client-request-id": client_request_id,
        "x-ms-ags-diagnostic": json.dumps(
            {
                "ServerInfo": {
                    "DataCenter": "Sandbox",
                    "Slice": "E",
                    "Ring": "5",
                    "ScaleUnit": "000",
                    "RoleInstance": "SANDBOX01",
                }
            },
            separators=(",", ":"),
        ),
        "OData-Version": "4.0",
        **headers,
    }
    if body is None:
        return web.Response(status=status, headers=out)
    out["Content-Type"] = CONTENT_TYPE
    return web.Response(status=status, headers=out, body=json.dumps(body).encode())


async def _read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and "
            "payload is of valid JSON format."
        ) from exc


def install(app: web.Application, runtime: Runtime) -> None:
    """Add Graph and the identity platform to the EWS sandbox's application."""
    graph = runtime.graph
    app[GRAPH_KEY] = graph

    def count_identity(operation: str) -> None:
        runtime.stats.record_touch("identity", operation)

    @web.middleware
    async def graph_middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith(PREFIX):
            return await handler(request)
        request_id = str(uuid.uuid4())
        client_request_id = request.headers.get("client-request-id") or request_id
        request["graph_ids"] = (request_id, client_request_id)
        try:
            prepared = await _prepare(runtime, request)
        except GraphError as err:
            return _error(runtime, request, err, operation=request.get("graph_operation"))
        request[PREPARED_KEY] = prepared
        principal_key = prepared.principal.key
        try:
            if prepared.fault == "drop_before":
                return _drop(request)
            if prepared.fault == "slow":
                await asyncio.sleep(runtime.slow_ms / 1000.0)
            response = await handler(request)
            if prepared.fault == "drop_after":
                runtime.stats.record_status(0, tenant=prepared.tenant)
                return _drop(request)
            return response
        finally:
            for address, slots in prepared.slots.items():
                graph.throttle.release(principal_key, address, slots)

    async def graph_handler(request: web.Request) -> web.StreamResponse:
        prepared: Prepared = request[PREPARED_KEY]
        request_id, client_request_id = request["graph_ids"]
        base_url = f"{request.scheme}://{request.host}"
        try:
            if prepared.batch is not None:
                answer = _run_batch(runtime, request, prepared, base_url)
            else:
                mailbox = resolve_mailbox(graph, prepared.principal, prepared.route)
                call = GraphCall(
                    state=graph,
                    principal=prepared.principal,
                    mailbox=mailbox,
                    method=request.method,
                    route=prepared.route,
                    query=request.query,
                    headers=request.headers,
                    body=prepared.body,
                    base_url=base_url,
                )
                answer = execute(call)
        except GraphError as err:
            return _error(
                runtime, request, err, operation=prepared.operation, tenant=prepared.tenant
            )
        except Exception:  # a sandbox bug must still look like a server error
            traceback.print_exc(file=sys.stderr)
            err = GraphError(500, "generalException", "An internal server error occurred.")
            return _error(
                runtime, request, err, operation=prepared.operation, tenant=prepared.tenant
            )
        runtime.stats.record_status(answer.status, tenant=prepared.tenant)
        runtime.record(prepared.operation, answer.status, answer, answer.body)
        headers = dict(answer.headers)
        if answer.entity_type == "contact" and answer.shape == "entity" and answer.body:
            headers["ETag"] = answer.body.get("@odata.etag", "")
        return _json_response(answer.status, answer.body, headers, request_id, client_request_id)

    async def expire_delta_tokens(request: web.Request) -> web.Response:
        """Test control: every delta token issued so far answers 410 SyncStateNotFound."""
        graph.expire_delta_tokens(request.query.get("mailbox"))
        return web.json_response({"expired": request.query.get("mailbox") or "all"})

    app.middlewares.insert(0, graph_middleware)
    app.router.add_route("*", PREFIX + "{tail:.*}", graph_handler)
    app.router.add_post("/_sandbox/graph/expire-delta-tokens", expire_delta_tokens)
    graph.identity.routes(app, count_identity)


async def _prepare(runtime: Runtime, request: web.Request) -> Prepared:
    graph = runtime.graph
    route: Route | None = None
    route_error: GraphError | None = None
    try:
        route = parse_path(request.path[len(PREFIX) :])
    except GraphError as err:
        route_error = err
    operation = f"{request.method} {route.template}" if route else "(invalid)"
    request["graph_operation"] = operation
    write = route is not None and is_write(request.method, route)
    try:
        principal = authenticate(graph, request.headers.get("Authorization"))
    except GraphError:
        runtime.stats.record(operation, write=write)
        raise
    if route is None:
        runtime.stats.record(operation, write=write)
        raise route_error or bad_request("Invalid request.")
    body = await _read_json(request) if request.method in ("POST", "PATCH", "PUT") else None
    if route.resource == "batch":
        return _prepare_batch(runtime, request, principal, route, operation=operation, body=body)
    try:
        mailbox = resolve_mailbox(graph, principal, route)
        principal.check_permission(route.family, write)
    except GraphError:
        runtime.stats.record(operation, write=write)
        raise
    tenant = mailbox.address
    request["graph_tenant"] = tenant
    runtime.stats.record(operation, write=write, tenant=tenant)
    prepared = Prepared(principal, route, operation, body, tenant=tenant)
    prepared.fault = _fault(runtime)
    graph.throttle.spend(principal.key, mailbox.address)
    graph.throttle.acquire(principal.key, mailbox.address)
    prepared.slots[mailbox.address.lower()] = 1
    return prepared


def _prepare_batch(
    runtime: Runtime,
    request: web.Request,
    principal: Principal,
    route: Route,
    *,
    operation: str,
    body: Any,
) -> Prepared:
    try:
        requests, ordered = batch.parse_batch(body)
    except GraphError:
        runtime.stats.record(operation, write=False)
        raise
    batch.route_requests(requests)
    write = any(r.route is not None and is_write(r.method, r.route) for r in requests)
    needs = batch.slot_needs(runtime.graph, principal, requests, ordered)
    tenant = next(iter(needs)) if len(needs) == 1 else None
    if tenant is not None:
        tenant = runtime.graph.mailboxes[tenant].address
    request["graph_tenant"] = tenant
    runtime.stats.record(operation, write=write, tenant=tenant)
    prepared = Prepared(principal, route, operation, body, tenant=tenant, batch=(requests, ordered))
    prepared.fault = _fault(runtime)
    for address, wanted in needs.items():
        prepared.slots[address] = runtime.graph.throttle.try_acquire(principal.key, address, wanted)
    return prepared


def _fault(runtime: Runtime) -> str | None:
    """Draw from the same injector as EWS; server_busy and http_503 are answered right away."""
    fault = runtime.faults.draw()
    if fault:
        runtime.stats.record_fault(fault)
    if fault == "server_busy":
        raise throttled(
            max(1, math.ceil(runtime.backoff_ms / 1000)),
            "Application is over its MailboxConcurrency limit.",
        )
    if fault == "http_503":
        raise GraphError(
            503,
            "ServiceUnavailable",
            "Service is temporarily unavailable. Please try again later.",
            headers={"Retry-After": str(max(1, math.ceil(runtime.backoff_ms / 1000)))},
        )
    return fault


def _run_batch(runtime: Runtime, request: web.Request, prepared: Prepared, base_url: str) -> Answer:
    assert prepared.batch is not None
    requests, ordered = prepared.batch
    request_id, client_request_id = request["graph_ids"]

    def inner_envelope(err: GraphError) -> dict:
        return envelope(
            err, date=_now_inner(), request_id=request_id, client_request_id=client_request_id
        )

    def on_answer(operation: str, sub: batch.SubRequest, answer: Answer | None,
                  err: GraphError | None, tenant: str | None) -> None:  # fmt: skip
        write = sub.route is not None and is_write(sub.method, sub.route)
        runtime.stats.record_batched(operation, write=write, tenant=tenant)
        status = err.status if err is not None else answer.status  # type: ignore[union-attr]
        body = inner_envelope(err) if err is not None else answer.body  # type: ignore[union-attr]
        runtime.record(f"$batch {operation}", status, answer, body)

    return batch.run_batch(
        runtime.graph,
        prepared.principal,
        requests,
        ordered,
        base_url=base_url,
        slots=prepared.slots,
        envelope=inner_envelope,
        on_answer=on_answer,
    )


def _error(
    runtime: Runtime,
    request: web.Request,
    err: GraphError,
    *,
    operation: str | None,
    tenant: str | None = None,
) -> web.Response:
    request_id, client_request_id = request["graph_ids"]
    tenant = tenant or request.get("graph_tenant")
    body = envelope(
        err, date=_now_inner(), request_id=request_id, client_request_id=client_request_id
    )
    runtime.stats.record_status(err.status, tenant=tenant)
    runtime.record(operation or "(invalid)", err.status, None, body)
    return _json_response(err.status, body, dict(err.headers), request_id, client_request_id)


def _drop(request: web.Request) -> web.Response:
    """Close the socket without an answer, as a cut-off connection would."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)
