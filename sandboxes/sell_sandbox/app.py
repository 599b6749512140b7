"""The aiohttp application: routes of reference §3-§6, auth, rate limit, faults and stats."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from sandbox_common import FaultInjector, RequestStats, add_sandbox_routes
from sandbox_common.serve import latency_middleware

from sell_sandbox import lead_conversions
from sell_sandbox.account import Account
from sell_sandbox.errors import (
    SellError,
    conflict,
    error_response,
    incorrect_path,
    incorrect_payload,
    invalid_param,
    invalid_payload,
    json_response,
    method_not_allowed,
    new_request_id,
    not_acceptable,
    not_found,
    rate_limited,
    raw_json_response,
    server_error,
    temporarily_unavailable,
    unauthorized,
)
from sell_sandbox.listing import collection, collection_page, parse_list_query
from sell_sandbox.ratelimit import TenantRateLimiter
from sell_sandbox.resources import CONTACT, DEAL, LEAD, READ_ONLY, USER, WRITABLE, Resource
from sell_sandbox.sync_api import add_sync_routes, note_deleted
from sell_sandbox.validation import validate

logger = logging.getLogger("sell_sandbox")

#: Fault kinds of ``--fault-rate`` (drawn by ``sandbox_common.FaultInjector``).
FAULT_KINDS = ("server_error", "unavailable", "drop_before", "drop_after", "slow")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class SellState:
    accounts: dict[str, Account]  # token -> account
    stats: RequestStats
    limiter: TenantRateLimiter
    faults: FaultInjector
    slow_seconds: float = 3.0
    #: What a conversion does to its lead: ``removed`` or ``kept`` (``--converted-leads``).
    converted_leads: str = "removed"


STATE = web.AppKey("sell_state", SellState)
ACCOUNT = "sell_account"
REQUEST_ID = "sell_request_id"


class ConnectionDroppedError(Exception):
    """Raised after the transport was aborted: nothing may be written any more."""


def _operation(request: web.Request) -> str:
    info = request.match_info
    resource = info.route.resource if info.http_exception is None else None
    template = resource.canonical if resource is not None else "(unknown path)"
    return f"{request.method} {template}"


def _authenticate(request: web.Request, state: SellState) -> Account:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    account = state.accounts.get(token.strip()) if scheme.lower() == "bearer" else None
    if account is None:
        raise unauthorized()
    return account


def _accepts_json(accept: str) -> bool:
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("", "*/*", "application/*") or "json" in media:
            return True
    return False


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise ConnectionDroppedError


def sell_middleware(state: SellState) -> Callable:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sandbox/"):
            return await handler(request)
        request_id = request[REQUEST_ID] = new_request_id()
        operation = _operation(request)
        tenant: str | None = None
        status = 500
        try:
            account = request[ACCOUNT] = _authenticate(request, state)
            tenant = account.key
            if not state.limiter.allow(tenant):
                raise rate_limited()
            fault = state.faults.draw()
            if fault:
                state.stats.record_fault(fault)
            if fault == "server_error":
                raise server_error()
            if fault == "unavailable":
                raise temporarily_unavailable()
            if fault == "drop_before":
                _drop(request)
            if fault == "slow":
                await asyncio.sleep(state.slow_seconds)
            if not _accepts_json(request.headers.get("Accept", "*/*")):
                raise not_acceptable(request.headers["Accept"])
            if request.match_info.http_exception is not None:
                exc = request.match_info.http_exception
                if isinstance(exc, web.HTTPMethodNotAllowed):
                    raise method_not_allowed(request.method, request.path)
                raise incorrect_path(request.path)
            response = await handler(request)
            if fault == "drop_after":
                _drop(request)
            response.headers.setdefault("X-Request-Id", request_id)
            status = response.status
            return response
        except SellError as error:
            status = error.status
            return error_response(error.status, error.errors, request_id)
        except web.HTTPException:
            raise
        except ConnectionDroppedError:
            status = 0
            # The client sees a reset; aiohttp must not try to answer on the dead transport.
            raise asyncio.CancelledError from None
        except Exception:
            # A sandbox bug must still answer like Sell does (and be visible on stderr).
            logger.exception("unhandled error in %s", operation)
            status = 500
            error = server_error()
            return error_response(error.status, error.errors, request_id)
        finally:
            state.stats.record(operation, write=request.method in WRITE_METHODS, tenant=tenant)
            state.stats.record_status(status, tenant=tenant)

    return middleware


# -- handlers ---------------------------------------------------------------------------------


def _account(request: web.Request) -> Account:
    return request[ACCOUNT]


def _reply(request: web.Request, body: object, status: int = 200) -> web.Response:
    return json_response(body, status=status, request_id=request[REQUEST_ID])


def _single(resource: Resource, data: dict) -> dict:
    return {"data": data, "meta": {"type": resource.name}}


async def _data(request: web.Request) -> dict:
    raw = await request.read()
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise invalid_payload("The request payload is not valid JSON.") from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise incorrect_payload(
            "The request payload must be a JSON object with a 'data' object: {\"data\": {...}}."
        )
    extra = set(body) - {"data", "meta"}
    if extra:
        raise incorrect_payload(
            f"Unexpected top-level keys in payload: {', '.join(sorted(extra))}."
        )
    return body["data"]


def _no_query(request: web.Request) -> None:
    """Endpoints without parameters still reject unknown ones (reference §2.4, PY tests)."""
    if request.query:
        name = next(iter(request.query))
        raise invalid_param(f"The request query parameter '{name}' is not supported.")


def _record_id(request: web.Request) -> int:
    _no_query(request)
    return int(request.match_info["id"])


def _reference_item(resource: Resource) -> Callable[[dict], dict]:
    def item(record: dict) -> dict:
        return {"data": dict(record), "meta": {"type": resource.name}}

    return item


def make_list(resource: Resource) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        account = _account(request)
        query = parse_list_query(request.query, resource, account)
        if resource.path not in WRITABLE:
            selected = query.select(account.reference[resource.path].values())
            body = collection(selected, query, request.url, _reference_item(resource))
            return _reply(request, body)
        if query.has_filters:
            selected = query.select(account.tables[resource.path].values())
        else:
            selected = account.sorted_records(
                resource.path, query.sort_field, query.descending, query.sort
            )
        page_items, meta = collection_page(selected, query, request.url)
        items = b", ".join(account.item_json(resource, r) for r in page_items)
        payload = b'{"items": [' + items + b'], "meta": ' + json.dumps(meta).encode() + b"}"
        return raw_json_response(payload, request_id=request[REQUEST_ID])

    return handler


def make_get(resource: Resource) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        account = _account(request)
        ident = _record_id(request)
        table = (
            account.tables[resource.path]
            if resource.path in WRITABLE
            else account.reference[resource.path]
        )
        record = table.get(ident)
        if record is None:
            raise not_found(resource.name, ident)
        data = account.view(resource, record) if resource.path in WRITABLE else dict(record)
        return _reply(request, _single(resource, data))

    return handler


def make_create(resource: Resource) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        account = _account(request)
        _no_query(request)
        changes = validate(account, resource, await _data(request), None)
        record = account.create(resource, changes)
        return _reply(request, _single(resource, account.view(resource, record)))

    return handler


def make_update(resource: Resource) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        account = _account(request)
        ident = _record_id(request)
        data = await _data(request)
        record = account.get(resource, ident)
        if record is None:
            raise not_found(resource.name, ident)
        changes = validate(account, resource, data, record)
        account.update(resource, record, changes)
        return _reply(request, _single(resource, account.view(resource, record)))

    return handler


def make_delete(resource: Resource) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        account = _account(request)
        ident = _record_id(request)
        record = account.get(resource, ident)
        if record is None:
            raise not_found(resource.name, ident)
        note_deleted(request.app, account, resource, ident)
        account.delete(resource, record)
        return web.Response(status=204, headers={"X-Request-Id": request[REQUEST_ID]})

    return handler


def make_upsert(resource: Resource) -> Handler:
    """0 matches ⇒ create, 1 ⇒ update, none given ⇒ 400, several ⇒ 409 (UNVERIFIED choice)."""

    async def handler(request: web.Request) -> web.Response:
        account = _account(request)
        query = parse_list_query(request.query, resource, account, paging=False)
        if not query.has_filters:
            raise invalid_param(
                "At least a single filter (query parameter) is required to upsert a"
                f" {resource.name}."
            )
        data = await _data(request)
        matches = query.select(account.tables[resource.path].values())
        if len(matches) > 1:
            ids = ", ".join(str(r["id"]) for r in matches[:10])
            raise conflict(
                f"The filters match {len(matches)} {resource.path} ({ids}); an upsert needs"
                " at most one match."
            )
        if matches:
            record = matches[0]
            account.update(resource, record, validate(account, resource, data, record))
        else:
            record = account.create(resource, validate(account, resource, data, None))
        return _reply(request, _single(resource, account.view(resource, record)))

    return handler


async def create_lead_conversion(request: web.Request) -> web.Response:
    account = _account(request)
    _no_query(request)
    wanted = lead_conversions.parse_request(account, await _data(request))
    conversion = lead_conversions.convert(account, wanted)
    if request.app[STATE].converted_leads == "removed":
        note_deleted(request.app, account, LEAD, wanted.lead["id"])
        lead_conversions.remove_converted_lead(account, wanted.lead, conversion)
    return _reply(request, {"data": dict(conversion), "meta": {"type": "lead_conversion"}})


async def list_lead_conversions(request: web.Request) -> web.Response:
    body = lead_conversions.list_page(_account(request), request.query, request.url)
    return _reply(request, body)


async def users_self(request: web.Request) -> web.Response:
    _no_query(request)
    return _reply(request, _single(USER, dict(_account(request).self_user)))


async def accounts_self(request: web.Request) -> web.Response:
    _no_query(request)
    return _reply(request, {"data": dict(_account(request).info), "meta": {"type": "account"}})


def make_custom_fields(resource_name: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        _no_query(request)
        definitions = _account(request).custom_fields[resource_name].values()
        items = [{"data": d["json"], "meta": {"type": "custom_field"}} for d in definitions]
        links = {"self": str(request.url)}
        body = {"items": items, "meta": {"type": "collection", "count": len(items), "links": links}}
        return _reply(request, body)

    return handler


def build_app(state: SellState, latency_ms: float = 0.0) -> web.Application:
    app = web.Application(middlewares=[latency_middleware(latency_ms), sell_middleware(state)])
    app[STATE] = state
    add_sandbox_routes(app, state.stats)
    router = app.router
    router.add_get("/v2/users/self", users_self)
    router.add_get("/v2/accounts/self", accounts_self)
    for resource in (CONTACT, LEAD, DEAL):
        router.add_post(f"/v2/{resource.path}/upsert", make_upsert(resource))
        router.add_get(f"/v2/{resource.name}/custom_fields", make_custom_fields(resource.name))
    for resource in WRITABLE.values():
        base = f"/v2/{resource.path}"
        router.add_get(base, make_list(resource))
        router.add_post(base, make_create(resource))
        router.add_get(base + r"/{id:\d+}", make_get(resource))
        router.add_put(base + r"/{id:\d+}", make_update(resource))
        router.add_delete(base + r"/{id:\d+}", make_delete(resource))
    add_sync_routes(app, _account, lambda request: request[REQUEST_ID])
    router.add_post("/v2/lead_conversions", create_lead_conversion)
    router.add_get("/v2/lead_conversions", list_lead_conversions)
    for resource in READ_ONLY.values():
        router.add_get(f"/v2/{resource.path}", make_list(resource))
        router.add_get(f"/v2/{resource.path}" + r"/{id:\d+}", make_get(resource))
    return app
