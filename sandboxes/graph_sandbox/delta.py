"""Contacts delta per folder (reference §2), over the store's change log like SyncFolderItems.

A round pages with ``@odata.nextLink`` (``$skiptoken``) and ends with ``@odata.deltaLink``
(``$deltatoken``). Tokens are opaque and signed; they carry the folder, the change-log position,
the ``$select`` of the first call and the mailbox's token generation. Deleted contacts and contacts
moved out come as ``{"id", "@removed": {"reason": "deleted"}}``; the first round shows only what
exists. Page size: ``Prefer: odata.maxpagesize`` on each call (default 10, capped), since links do
not carry it (UNVERIFIED, §2). A token of an older generation (after
``POST /_sandbox/graph/expire-delta-tokens``) or a garbled one answers 410 ``SyncStateNotFound``,
as Graph does for an evicted one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote

from ews_sandbox.ids import decode_id
from ews_sandbox.store import Folder, Item

from graph_sandbox import ids
from graph_sandbox.answers import Answer, collection
from graph_sandbox.call import GraphCall
from graph_sandbox.contact_json import ALL_PROPERTIES
from graph_sandbox.contacts import CONTACT_TYPE, render_contact
from graph_sandbox.errors import GraphError, bad_request, sync_state_not_found
from graph_sandbox.odata import parse_query

DEFAULT_PAGE = 10
_PREFIX = b"GRAPHDELTA1:"


def _mac(call: GraphCall, payload: bytes) -> bytes:
    return hmac.new(call.mailbox.tag + b"graph-delta", payload, hashlib.sha256).digest()[:12]


def encode_token(call: GraphCall, folder: Folder, since: int, select: list[str] | None) -> str:
    state = {
        "f": folder.serial,
        "s": since,
        "g": call.state.generation(call.mailbox),
        "sel": select,
    }
    payload = _PREFIX + json.dumps(state, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload + _mac(call, payload)).decode().rstrip("=")


def decode_token(call: GraphCall, folder: Folder, token: str) -> tuple[int, list[str] | None]:
    highest = call.state.generation(call.mailbox)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise sync_state_not_found(0, highest) from exc
    payload, mac = raw[:-12], raw[-12:]
    if not payload.startswith(_PREFIX) or not hmac.compare_digest(mac, _mac(call, payload)):
        raise sync_state_not_found(0, highest)
    state = json.loads(payload[len(_PREFIX) :])
    if state["g"] != highest:
        raise sync_state_not_found(state["g"], highest)
    if state["f"] != folder.serial or state["s"] > call.mailbox.seq:
        raise sync_state_not_found(state["g"], highest)
    return state["s"], state["sel"]


def _page_size(call: GraphCall) -> int:
    wanted = call.max_page_size()
    if wanted is None:
        return DEFAULT_PAGE
    return max(1, min(wanted, call.state.delta_page_max))


def contacts_delta(call: GraphCall) -> Answer:
    folder = call.route_folder() or call.default_folder
    tokens = [k for k in ("$skiptoken", "$deltatoken") if k in call.query]
    if len(tokens) > 1:
        raise bad_request("Only one of $skiptoken and $deltatoken may be given.")
    if tokens:
        others = [k for k in call.query if k.startswith("$") and k not in tokens]
        if others:
            raise bad_request(
                f"Query option '{others[0]}' goes on the first delta call only; "
                "Graph encodes it into the links it returns."
            )
        since, select = decode_token(call, folder, call.query[tokens[0]])
    else:
        options = parse_query(
            call.query,
            properties=ALL_PROPERTIES,
            type_name=CONTACT_TYPE,
            allowed=frozenset({"$select"}),
        )
        since, select = 0, options.select
    mailbox = call.mailbox
    changes: list[tuple[int, Item | tuple[int, int]]] = []
    for item in folder.items.values():
        if item.kind == "Contact" and item.seq > since:
            changes.append((item.seq, item))
    for stone in mailbox.tombstones:
        gone = stone.seq > since and stone.folder is folder and stone.entered_seq <= since
        if gone and getattr(stone, "kind", "Contact") == "Contact":
            decoded = decode_id(stone.item_id)
            if decoded is not None:
                changes.append((stone.seq, (decoded.serial, folder.serial)))
    changes.sort(key=lambda change: change[0])
    size = _page_size(call)
    page, more = changes[:size], len(changes) > size
    values: list[dict[str, Any]] = []
    for _, change in page:
        if isinstance(change, Item):
            values.append(render_contact(call, change, select))
        else:
            serial, folder_serial = change
            removed_id = (
                ids.immutable_item_id(mailbox.tag, serial)
                if call.immutable
                else ids.rest_item_id(mailbox.tag, serial, folder_serial)
            )
            values.append({"@odata.type": "#microsoft.graph.contact", "id": removed_id,
                           "@removed": {"reason": "deleted"}})  # fmt: skip
    path = _delta_path(call)
    if more:
        token = encode_token(call, folder, page[-1][0], select)
        answer = collection(
            call,
            "contact",
            values,
            "Collection(contact)",
            call.link(f"{path}?$skiptoken={quote(token)}"),
        )
    else:
        token = encode_token(call, folder, mailbox.seq, select)
        answer = collection(
            call,
            "contact",
            values,
            "Collection(contact)",
            delta_link=call.link(f"{path}?$deltatoken={quote(token)}"),
        )
    if call.max_page_size() is not None:
        answer.headers["Preference-Applied"] = f"odata.maxpagesize={size}"
    return answer


def _delta_path(call: GraphCall) -> str:
    if not call.route.folders:
        return "contacts/delta"
    parts = []
    for index, folder in enumerate(call.route.folders):
        parts.append(("contactFolders/" if index == 0 else "childFolders/") + folder)
    return "/".join(parts) + "/contacts/delta"


def folder_delta(call: GraphCall) -> Answer:
    raise GraphError(501, "NotImplemented", "The sandbox does not serve contactFolders/delta.")
