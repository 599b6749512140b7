"""The Sync API (reference §7.2, §13 item 10): start a session, drain its queue, ack items.

Per account and per device (``X-Basecrm-Device-UUID``) the hub remembers which revision of each
contact, lead and deal the device has acked and which records it has been sent. A session queues,
at its start, the freshest revision of every record whose revision is newer than the acked one, and
a ``deleted`` event (carrying only ``id``) for every deleted record the device was sent or acked.
Revisions are the account's record versions; deletes leave a tombstone (see ``note_deleted``).
"""

from __future__ import annotations

import copy
import json
import math
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from sell_sandbox.account import Account
from sell_sandbox.errors import (
    SellError,
    incorrect_payload,
    invalid_param,
    invalid_payload,
    json_response,
    not_found,
)
from sell_sandbox.resources import CONTACT, DEAL, LEAD, Resource

DEVICE_HEADER = "X-Basecrm-Device-UUID"
PAGE_SIZE = 100
MAX_SESSIONS = 100
SYNCED: tuple[Resource, ...] = (CONTACT, LEAD, DEAL)
BY_TYPE = {r.name.capitalize(): r for r in SYNCED}

Key = tuple[str, int]  # (resource path, record id)


@dataclass
class Device:
    acked: dict[Key, int] = field(default_factory=dict)
    sent: set[Key] = field(default_factory=set)


@dataclass
class Session:
    device: str
    items: list[tuple[Key, dict]]
    position: int = 0


@dataclass
class AccountSync:
    account: Account
    devices: dict[str, Device] = field(default_factory=dict)
    tombstones: dict[Key, int] = field(default_factory=dict)
    sessions: OrderedDict[str, Session] = field(default_factory=OrderedDict)


class SyncHub:
    """Sync state of every account, keyed by tenant key (rebuilt if the account is replaced)."""

    def __init__(self) -> None:
        self._accounts: dict[str, AccountSync] = {}

    def of(self, account: Account) -> AccountSync:
        state = self._accounts.get(account.key)
        if state is None or state.account is not account:
            state = self._accounts[account.key] = AccountSync(account)
        return state


SYNC = web.AppKey("sell_sync", SyncHub)


def ack_key(resource: Resource, ident: int, revision: int) -> str:
    return f"{resource.name.capitalize()}-{ident}-{revision}"


def _parse_ack_key(raw: object) -> tuple[Key, int] | None:
    if not isinstance(raw, str):
        return None
    parts = raw.split("-")
    resource = BY_TYPE.get(parts[0]) if len(parts) == 3 else None
    if resource is None or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return (resource.path, int(parts[1])), int(parts[2])


def _item(resource: Resource, data: dict, event: str, revision: int) -> dict:
    key = ack_key(resource, data["id"], revision)
    sync = {"event_type": event, "ack_key": key, "revision": revision}
    return {"data": data, "meta": {"type": resource.name, "sync": sync}}


def build_queue(state: AccountSync, device: Device) -> list[tuple[Key, dict]]:
    """Freshest revision of everything the device has not acked (no history, no ordering)."""
    account = state.account
    queue: list[tuple[Key, dict]] = []
    for resource in SYNCED:
        for ident, record in account.tables[resource.path].items():
            key = (resource.path, ident)
            revision = account.version(resource, ident)
            acked = device.acked.get(key)
            if acked is not None and acked >= revision:
                continue
            event = "created" if acked is None else "updated"
            data = copy.deepcopy(account.view(resource, record))
            queue.append((key, _item(resource, data, event, revision)))
    for key, revision in state.tombstones.items():
        known = key in device.sent or key in device.acked
        if known and device.acked.get(key, 0) < revision:
            resource = next(r for r in SYNCED if r.path == key[0])
            queue.append((key, _item(resource, {"id": key[1]}, "deleted", revision)))
    return queue


def note_deleted(app: web.Application, account: Account, resource: Resource, ident: int) -> None:
    """Call before ``account.delete``: the tombstone's revision follows the last version."""
    if resource in SYNCED:
        app[SYNC].of(account).tombstones[(resource.path, ident)] = (
            account.version(resource, ident) + 1
        )


# -- handlers ---------------------------------------------------------------------------------


def _device_id(request: web.Request) -> str:
    value = request.headers.get(DEVICE_HEADER, "").strip()
    if not value:
        raise SellError.single(
            400,
            "invalid_header",
            "invalid request header",
            f"The request header '{DEVICE_HEADER}' is missing or empty.",
        )
    return value


def _no_query(request: web.Request) -> None:
    if request.query:
        name = next(iter(request.query))
        raise invalid_param(f"The request query parameter '{name}' is not supported.")


def add_sync_routes(
    app: web.Application,
    account_of: Callable[[web.Request], Account],
    request_id_of: Callable[[web.Request], str],
) -> None:
    app[SYNC] = SyncHub()

    def empty(request: web.Request, status: int) -> web.Response:
        return web.Response(status=status, headers={"X-Request-Id": request_id_of(request)})

    def reply(request: web.Request, body: object, status: int = 200) -> web.Response:
        return json_response(body, status=status, request_id=request_id_of(request))

    def prepare(request: web.Request) -> tuple[AccountSync, str, Device]:
        device_id = _device_id(request)
        _no_query(request)
        state = app[SYNC].of(account_of(request))
        return state, device_id, state.devices.setdefault(device_id, Device())

    async def start(request: web.Request) -> web.Response:
        state, device_id, device = prepare(request)
        queue = build_queue(state, device)
        if not queue:
            return empty(request, 204)
        session_id = str(uuid.uuid4())
        state.sessions[session_id] = Session(device_id, queue)
        while len(state.sessions) > MAX_SESSIONS:  # the oldest session expires (UNVERIFIED)
            state.sessions.popitem(last=False)
        pages = math.ceil(len(queue) / PAGE_SIZE)
        main = {"name": "main", "pages": pages, "total_count": len(queue)}
        body = {
            "data": {"id": session_id, "queues": [{"data": main, "meta": {"type": "sync_queue"}}]},
            "meta": {"type": "sync_session"},
        }
        return reply(request, body, status=201)

    async def queue_page(request: web.Request) -> web.Response:
        state, device_id, device = prepare(request)
        session_id = request.match_info["session_id"]
        session = state.sessions.get(session_id)
        if session is None or session.device != device_id:
            raise not_found("sync session", session_id)
        page = session.items[session.position : session.position + PAGE_SIZE]
        if not page:
            return empty(request, 204)
        session.position += len(page)
        device.sent.update(key for key, _ in page)
        meta = {
            "type": "collection",
            "count": len(page),
            "count_left": len(session.items) - session.position,
        }
        return reply(request, {"items": [item for _, item in page], "meta": meta})

    async def ack(request: web.Request) -> web.Response:
        _state, _device_id, device = prepare(request)
        try:
            body = json.loads(await request.read() or b"null")
        except (ValueError, UnicodeDecodeError):
            raise invalid_payload("The request payload is not valid JSON.") from None
        data = body.get("data") if isinstance(body, dict) else None
        keys = data.get("ack_keys") if isinstance(data, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise incorrect_payload(
                'The request payload must be {"data": {"ack_keys": ["<ack key>", ...]}}.'
            )
        for raw in keys:  # unknown or malformed keys are ignored (UNVERIFIED)
            parsed = _parse_ack_key(raw)
            if parsed is not None:
                key, revision = parsed
                device.acked[key] = max(device.acked.get(key, 0), revision)
        return empty(request, 202)

    app.router.add_post("/v2/sync/start", start)
    app.router.add_get("/v2/sync/{session_id}/queues/main", queue_page)
    app.router.add_post("/v2/sync/ack", ack)
