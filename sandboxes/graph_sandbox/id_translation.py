"""``POST /users/{id}/translateExchangeIds`` (reference §10).

Microsoft documents it as "Application: Not supported" (§0.5), so app-only tokens are refused
(403 ``ErrorAccessDenied``; the exact code Graph answers with is UNVERIFIED). Delegated callers
(``--oauth-token``) can translate between ``ewsId``, ``restId`` and ``restImmutableEntryId``, for
contacts and folders of their own mailbox; the binary formats are not offered by the sandbox.
"""

from __future__ import annotations

from typing import Any

from ews_sandbox.ids import FOLDER, ITEM, decode_id, encode_id
from ews_sandbox.store import Folder, Item

from graph_sandbox import ids
from graph_sandbox.answers import Answer
from graph_sandbox.call import GraphCall
from graph_sandbox.errors import GraphError, bad_request

FORMATS = ("ewsId", "restId", "restImmutableEntryId")
ALL_FORMATS = ("entryId", "ewsId", "immutableEntryId", "restId", "restImmutableEntryId")


def _lookup(call: GraphCall, source: str, fmt: str) -> Item | Folder | None:
    mailbox = call.mailbox
    if fmt == "ewsId":
        decoded = decode_id(source)
        if decoded is None or decoded.tag != mailbox.tag:
            return None
        if decoded.kind == ITEM:
            return mailbox.items.get(source)
        if decoded.kind == FOLDER:
            return mailbox.folders.get(source)
        return None
    item_id = ids.decode_item_id(source)
    if item_id is not None and item_id.tag == mailbox.tag:
        immutable = item_id.folder_serial is None
        if immutable != (fmt == "restImmutableEntryId"):
            return None
        item = mailbox.items.get(encode_id(item_id.tag, ITEM, item_id.serial))
        if item is None or (not immutable and item.folder.serial != item_id.folder_serial):
            return None
        return item
    folder_id = ids.decode_folder_id(source)
    if folder_id is not None and folder_id.tag == mailbox.tag:
        return mailbox.folders.get(encode_id(folder_id.tag, FOLDER, folder_id.serial))
    return None


def _target(call: GraphCall, obj: Item | Folder, fmt: str) -> str:
    tag = call.mailbox.tag
    if fmt == "ewsId":
        return obj.id
    if isinstance(obj, Folder):
        return ids.folder_id(tag, obj.serial)
    if fmt == "restImmutableEntryId":
        return ids.immutable_item_id(tag, obj.serial)
    return ids.rest_item_id(tag, obj.serial, obj.folder.serial)


def translate_exchange_ids(call: GraphCall) -> Answer:
    if call.principal.app is not None:
        raise GraphError(
            403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
        )
    body = call.body
    if not isinstance(body, dict) or not isinstance(body.get("inputIds"), list):
        raise bad_request("The request body needs inputIds, sourceIdType and targetIdType.")
    source_type, target_type = body.get("sourceIdType"), body.get("targetIdType")
    for value in (source_type, target_type):
        if value not in ALL_FORMATS:
            raise GraphError(
                400,
                "RequestBodyRead",
                f"The value '{value}' is not a valid member of enum type "
                "'microsoft.graph.exchangeIdFormat'.",
            )
        if value not in FORMATS:
            raise bad_request(f"The sandbox translates {', '.join(FORMATS)} only, not {value}.")
    inputs = body["inputIds"]
    if len(inputs) > 1000:
        raise bad_request("At most 1000 inputIds per request.")
    values: list[dict[str, Any]] = []
    for source in inputs:
        obj = _lookup(call, str(source), str(source_type))
        if obj is None:
            values.append(
                {
                    "sourceId": source,
                    "errorDetails": {
                        "code": "ErrorInvalidIdMalformed",
                        "message": "Id is malformed.",
                    },
                }
            )
        else:
            values.append({"sourceId": source, "targetId": _target(call, obj, str(target_type))})
    body_out = {
        "@odata.context": f"{call.base_url}/v1.0/$metadata"
        "#Collection(microsoft.graph.convertIdResult)",
        "value": values,
    }
    return Answer(200, body_out)
