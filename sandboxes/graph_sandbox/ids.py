"""Graph ids: other strings than EWS ids for the same store objects (reference §10).

- A default (REST) contact id names the item *and the folder it is in*, so it changes when the
  contact moves folder, as Graph's default ids do; the old id then answers 404.
- An immutable id (``Prefer: IdType="ImmutableId"``) names the item alone and survives moves.
- Folder ids do not depend on the header (containers keep their ids, reference §10).

All are URL-safe base64 and carry the mailbox tag, so an id of another mailbox is recognised and an
EWS id or garbage is "malformed", never silently "not found".
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

_REST_ITEM = struct.Struct(">4s8sBQQ")  # magic, mailbox tag, kind, item serial, folder serial
_IMMUTABLE_ITEM = struct.Struct(">3s8sBQ")  # magic, mailbox tag, kind, item serial
_FOLDER = struct.Struct(">4s8sBQB")  # magic, mailbox tag, kind, folder serial, marker
_REST_MAGIC = b"\x00\x03\x24\x00"  # encodes to "AAMkA…", like Graph's REST ids
_IMMUTABLE_MAGIC = b"\x00\x09\x00"  # encodes to "AAkA…", like Graph's immutable ids
_ITEM, _FOLDER_KIND = 1, 2


@dataclass(frozen=True)
class GraphItemId:
    tag: bytes
    serial: int
    folder_serial: int | None  # None for an immutable id


@dataclass(frozen=True)
class GraphFolderId:
    tag: bytes
    serial: int


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def _decode(text: str) -> bytes | None:
    if not text or any(c in text for c in "+/"):
        return None  # standard base64 (an EWS id) is not a Graph id
    try:
        return base64.urlsafe_b64decode(text.encode())
    except (binascii.Error, ValueError):
        return None


def rest_item_id(tag: bytes, serial: int, folder_serial: int) -> str:
    return _encode(_REST_ITEM.pack(_REST_MAGIC, tag, _ITEM, serial, folder_serial))


def immutable_item_id(tag: bytes, serial: int) -> str:
    return _encode(_IMMUTABLE_ITEM.pack(_IMMUTABLE_MAGIC, tag, _ITEM, serial))


def folder_id(tag: bytes, serial: int) -> str:
    return _encode(_FOLDER.pack(_REST_MAGIC, tag, _FOLDER_KIND, serial, 1))


def decode_item_id(text: str) -> GraphItemId | None:
    """None when the text is not a contact id this server could have issued."""
    raw = _decode(text)
    if raw is None:
        return None
    if len(raw) == _REST_ITEM.size:
        magic, tag, kind, serial, folder_serial = _REST_ITEM.unpack(raw)
        if magic == _REST_MAGIC and kind == _ITEM:
            return GraphItemId(tag, serial, folder_serial)
    if len(raw) == _IMMUTABLE_ITEM.size:
        magic, tag, kind, serial = _IMMUTABLE_ITEM.unpack(raw)
        if magic == _IMMUTABLE_MAGIC and kind == _ITEM:
            return GraphItemId(tag, serial, None)
    return None


def decode_folder_id(text: str) -> GraphFolderId | None:
    raw = _decode(text)
    if raw is None or len(raw) != _FOLDER.size:
        return None
    magic, tag, kind, serial, marker = _FOLDER.unpack(raw)
    if magic != _REST_MAGIC or kind != _FOLDER_KIND or marker != 1:
        return None
    return GraphFolderId(tag, serial)
