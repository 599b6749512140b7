"""SyncFolderItems: every create, update and delete in a folder since an opaque sync state."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from lxml import etree

from ews_sandbox import soap
from ews_sandbox.context import Context
from ews_sandbox.errors import EwsError
from ews_sandbox.item_codec import parse_shape, render_item
from ews_sandbox.store import Folder, Mailbox
from ews_sandbox.xml import child_text, elements, m, sub, t

_PREFIX = b"EWSSB1:"


def _mac(mailbox: Mailbox, payload: bytes) -> bytes:
    return hmac.new(mailbox.tag + b"sync-state", payload, hashlib.sha256).digest()[:12]


def encode_state(mailbox: Mailbox, folder: Folder, seq: int) -> str:
    payload = _PREFIX + f"{folder.serial}:{seq}".encode()
    return base64.b64encode(payload + _mac(mailbox, payload)).decode()


def invalid_state() -> EwsError:
    return EwsError(
        "ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid."
    )


def decode_state(mailbox: Mailbox, folder: Folder, state: str) -> int:
    """Sequence number a state stands for; tampered, foreign or garbage states are rejected."""
    try:
        raw = base64.b64decode(state.strip().encode(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid_state() from exc
    payload, mac = raw[:-12], raw[-12:]
    if not payload.startswith(_PREFIX) or not hmac.compare_digest(mac, _mac(mailbox, payload)):
        raise invalid_state()
    try:
        folder_serial, seq = (int(x) for x in payload[len(_PREFIX) :].decode().split(":"))
    except ValueError as exc:
        raise invalid_state() from exc
    if folder_serial != folder.serial or seq > mailbox.seq:
        raise invalid_state()
    return seq


def sync_folder_items(ctx: Context, request: etree._Element) -> etree._Element:
    root, messages = soap.response_root("SyncFolderItems")
    mailbox = ctx.mailbox
    try:
        shape = parse_shape(request.find(m("ItemShape")))
        target = elements(request.find(m("SyncFolderId")))
        if not target:
            raise EwsError("ErrorInvalidRequest", "SyncFolderId is required.")
        folder = ctx.resolve_folder(target[0])
        state_text = child_text(request, m("SyncState"))
        since = decode_state(mailbox, folder, state_text) if state_text else 0
        maximum = int(child_text(request, m("MaxChangesReturned")) or "512")
        if not 1 <= maximum <= 512:
            raise EwsError("ErrorInvalidRequest", "MaxChangesReturned must be between 1 and 512.")
        ignore = {e.get("Id") for e in elements(request.find(m("Ignore")))}
    except EwsError as err:
        # Exchange keeps the (empty) state elements in error answers; exchangelib reads them.
        message = soap.error(messages, "SyncFolderItems", err)
        sub(message, m("SyncState"), "")
        sub(message, m("IncludesLastItemInRange"), "true")
        return root
    ctx.touch(folder)
    changes: list[tuple[int, str, object]] = []
    for item in folder.items.values():
        if item.seq > since and item.id not in ignore:
            changes.append((item.seq, "Create" if item.entered_seq > since else "Update", item))
    for stone in mailbox.tombstones:
        left = stone.seq > since and stone.folder is folder and stone.entered_seq <= since
        if left and stone.item_id not in ignore:
            changes.append((stone.seq, "Delete", stone.item_id))
    changes.sort(key=lambda change: change[0])
    batch, more = changes[:maximum], len(changes) > maximum
    new_seq = batch[-1][0] if more else mailbox.seq
    message = soap.success(messages, "SyncFolderItems")
    sub(message, m("SyncState"), encode_state(mailbox, folder, new_seq))
    sub(message, m("IncludesLastItemInRange"), "false" if more else "true")
    changes_el = sub(message, m("Changes"))
    for _, kind, target_obj in batch:
        change = sub(changes_el, t(kind))
        if kind == "Delete":
            sub(change, t("ItemId"), Id=str(target_obj))
        else:
            render_item(change, target_obj, shape, mailbox)  # type: ignore[arg-type]
    return root
