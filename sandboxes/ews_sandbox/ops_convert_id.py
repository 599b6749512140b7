"""ConvertId (clients also use it to probe the server version)."""

from __future__ import annotations

import base64
import binascii

from lxml import etree

from ews_sandbox import soap
from ews_sandbox.context import Context
from ews_sandbox.errors import EwsError, id_malformed
from ews_sandbox.ids import decode_id
from ews_sandbox.xml import XSI_NS, elements, m, sub

_BASE64_FORMATS = ("EwsId", "EntryId", "StoreId", "OwaId", "EwsLegacyId")


def _raw(fmt: str, value: str) -> bytes:
    try:
        if fmt == "HexEntryId":
            return bytes.fromhex(value)
        if fmt in _BASE64_FORMATS:
            return base64.b64decode(value.encode(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise id_malformed() from exc
    raise EwsError("ErrorInvalidIdMalformed", f"Id format {fmt} is not supported.")


def _format(fmt: str, raw: bytes) -> str:
    if fmt == "HexEntryId":
        return raw.hex().upper()
    if fmt in _BASE64_FORMATS:
        return base64.b64encode(raw).decode()
    raise EwsError("ErrorInvalidIdMalformed", f"Id format {fmt} is not supported.")


def convert_id(ctx: Context, request: etree._Element) -> etree._Element:
    root, messages = soap.response_root("ConvertId")
    destination = request.get("DestinationFormat", "EwsId")
    for source in elements(request.find(m("SourceIds"))):
        try:
            raw = _raw(source.get("Format", ""), source.get("Id", ""))
            decoded = decode_id(base64.b64encode(raw).decode())
            if decoded is None:
                raise id_malformed()
            ctx.check_mailbox(source.get("Mailbox"))
            if decoded.tag != ctx.mailbox.tag:
                raise EwsError(
                    "ErrorAccessDenied", "Access is denied. Check credentials and try again."
                )
            converted = _format(destination, raw)
        except EwsError as err:
            soap.error(messages, "ConvertId", err)
            continue
        message = soap.success(messages, "ConvertId")
        alt = sub(message, m("AlternateId"), Format=destination, Id=converted)
        alt.set("Mailbox", ctx.mailbox.address)
        alt.set(f"{{{XSI_NS}}}type", "t:AlternateIdType")
    return root
