"""Opaque, base64 item/folder ids and change keys, like Exchange's, scoped to one mailbox.

An id carries the mailbox's tag, so an id from another mailbox is recognised (access denied)
and garbage is rejected as malformed instead of silently "not found".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

_ID = struct.Struct(">4s8sBQ")
_ID_MAGIC = b"\x00\x03\x24\x00"
_CK = struct.Struct(">4s4sQI")
_CK_MAGIC = b"\x0f\x00\x00\x00"
ITEM, FOLDER, CONFIG = 1, 2, 3


def mailbox_tag(address: str) -> bytes:
    return hashlib.sha256(address.lower().encode()).digest()[:8]


@dataclass(frozen=True)
class DecodedId:
    tag: bytes
    kind: int
    serial: int


def encode_id(tag: bytes, kind: int, serial: int) -> str:
    return base64.b64encode(_ID.pack(_ID_MAGIC, tag, kind, serial)).decode()


def decode_id(value: str) -> DecodedId | None:
    """None when the text is not an id this server could have issued."""
    try:
        raw = base64.b64decode(value.encode(), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _ID.size:
        return None
    magic, tag, kind, serial = _ID.unpack(raw)
    if magic != _ID_MAGIC or kind not in (ITEM, FOLDER, CONFIG):
        return None
    return DecodedId(tag, kind, serial)


def encode_change_key(tag: bytes, serial: int, version: int) -> str:
    return base64.b64encode(_CK.pack(_CK_MAGIC, tag[:4], serial, version)).decode()


def decode_change_key(value: str, tag: bytes, serial: int) -> int | None:
    """The version a change key names, or None if it is not a change key of this object."""
    try:
        raw = base64.b64decode(value.encode(), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _CK.size:
        return None
    magic, ck_tag, ck_serial, version = _CK.unpack(raw)
    if magic != _CK_MAGIC or ck_tag != tag[:4] or ck_serial != serial:
        return None
    return version
