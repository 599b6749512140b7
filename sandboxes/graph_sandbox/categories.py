"""``/outlook/masterCategories`` over the same CategoryList document EWS reads (reference §5).

The master list lives in the ``CategoryList`` user configuration of the Calendar folder (what
Outlook and the EWS sandbox keep), so a category created over Graph is in the list EWS reads and
the reverse. ``id`` is the category's GUID in that document (whether Graph's id equals it is
UNVERIFIED); ``color`` is ``preset{n}`` for the document's colour n, ``none`` for -1. Names are
fixed once created: PATCH changes ``color`` only.
"""

from __future__ import annotations

import uuid
from typing import Any

from ews_sandbox.categories import CATEGORY_NS, NEVER
from ews_sandbox.store import Mailbox, UserConfig
from lxml import etree

from graph_sandbox.answers import Answer, collection, entity, no_content, select_fields
from graph_sandbox.call import GraphCall
from graph_sandbox.errors import GraphError, bad_request, item_not_found
from graph_sandbox.odata import parse_query

CATEGORY_TYPE = "microsoft.graph.outlookCategory"
PROPERTIES = ("id", "displayName", "color")
COLORS = ["none", *(f"preset{n}" for n in range(25))]


def _config(mailbox: Mailbox, *, create: bool = False) -> UserConfig | None:
    calendar = mailbox.distinguished["calendar"]
    config = mailbox.configs.get((calendar.id, "CategoryList"))
    if config is None and create:
        config = mailbox.add_config(calendar, "CategoryList")
    return config


def _document(config: UserConfig | None) -> etree._Element:
    if config is not None and config.xml_data:
        return etree.fromstring(config.xml_data)
    return etree.Element(f"{{{CATEGORY_NS}}}categories", nsmap={None: CATEGORY_NS})


def _save(config: UserConfig, root: etree._Element) -> None:
    config.xml_data = b'<?xml version="1.0" encoding="utf-8"?>' + etree.tostring(
        root, encoding="utf-8"
    )
    config.version += 1


def _entries(root: etree._Element) -> list[etree._Element]:
    return root.findall(f"{{{CATEGORY_NS}}}category")


def category_json(entry: etree._Element) -> dict[str, Any]:
    try:
        color = int(entry.get("color", "-1"))
    except ValueError:
        color = -1
    return {
        "id": entry.get("guid", "").strip("{}").lower(),
        "displayName": entry.get("name", ""),
        "color": COLORS[color + 1] if -1 <= color <= 24 else "none",
    }


def _fragment(call: GraphCall, suffix: str = "") -> str:
    return f"users('{call.mailbox.address}')/outlook/masterCategories{suffix}"


def _find(call: GraphCall) -> tuple[UserConfig, etree._Element, etree._Element]:
    config = _config(call.mailbox)
    root = _document(config)
    wanted = (call.route.category or "").strip("{}").lower()
    for entry in _entries(root):
        if entry.get("guid", "").strip("{}").lower() == wanted:
            assert config is not None
            return config, root, entry
    raise item_not_found()


def _color(value: Any) -> int:
    if value not in COLORS:
        raise GraphError(
            400,
            "RequestBodyRead",
            f"The value '{value}' is not a valid member of enum type "
            "'microsoft.graph.categoryColor'.",
        )
    return COLORS.index(value) - 1


def _check_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise GraphError(400, "RequestBodyRead", "The request body must be a JSON object.")
    for key in body:
        if not key.startswith("@odata.") and key not in PROPERTIES:
            raise GraphError(
                400,
                "RequestBodyRead",
                f"The property '{key}' does not exist on type '{CATEGORY_TYPE}'. Make sure to "
                "only use property names that are defined by the type.",
            )
    return body


def list_categories(call: GraphCall) -> Answer:
    options = parse_query(
        call.query,
        properties=frozenset(PROPERTIES),
        type_name=CATEGORY_TYPE,
        allowed=frozenset({"$select", "$top", "$skip"}),
    )
    entries = _entries(_document(_config(call.mailbox)))
    if options.top is not None:
        entries = entries[options.skip : options.skip + options.top]
    else:
        entries = entries[options.skip :]
    values = [select_fields(category_json(e), options.select) for e in entries]
    return collection(call, "outlookCategory", values, _fragment(call))


def get_category(call: GraphCall) -> Answer:
    options = parse_query(
        call.query,
        properties=frozenset(PROPERTIES),
        type_name=CATEGORY_TYPE,
        allowed=frozenset({"$select"}),
    )
    _, _, entry = _find(call)
    value = select_fields(category_json(entry), options.select)
    return entity(call, "outlookCategory", value, _fragment(call, "/$entity"))


def create_category(call: GraphCall) -> Answer:
    body = _check_body(call.body)
    if "id" in body:
        raise GraphError(400, "ErrorInvalidProperty", "The property 'id' is read-only.")
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("A category needs a non-empty displayName.", code="ErrorInvalidRequest")
    color = _color(body.get("color", "none"))
    config = _config(call.mailbox, create=True)
    assert config is not None
    root = _document(config)
    if any(e.get("name", "").lower() == name.lower() for e in _entries(root)):
        raise GraphError(409, "ErrorItemSave", f"A category named '{name}' already exists.")
    entry = etree.SubElement(
        root,
        f"{{{CATEGORY_NS}}}category",
        {
            "name": name,
            "color": str(color),
            "keyboardShortcut": "0",
            "usageCount": "0",
            "lastTimeUsedNotes": NEVER,
            "lastTimeUsedJournal": NEVER,
            "lastTimeUsedContacts": NEVER,
            "lastTimeUsedTasks": NEVER,
            "lastTimeUsedCalendar": NEVER,
            "lastTimeUsedMail": NEVER,
            "lastTimeUsed": NEVER,
            "lastSessionUsed": "0",
            "guid": "{" + str(uuid.uuid4()) + "}",
            "renameOnFirstUse": "0",
        },
    )
    _save(config, root)
    return entity(
        call, "outlookCategory", category_json(entry), _fragment(call, "/$entity"), status=201
    )


def update_category(call: GraphCall) -> Answer:
    body = _check_body(call.body)
    config, root, entry = _find(call)
    if "id" in body and str(body["id"]).strip("{}").lower() != category_json(entry)["id"]:
        raise GraphError(400, "ErrorInvalidProperty", "The property 'id' is read-only.")
    if "displayName" in body and body["displayName"] != entry.get("name"):
        raise GraphError(
            400,
            "ErrorInvalidProperty",
            "The displayName of a category cannot be changed once it is created; "
            "only its color can be updated.",
        )
    if "color" in body:
        entry.set("color", str(_color(body["color"])))
        _save(config, root)
    return entity(call, "outlookCategory", category_json(entry), _fragment(call, "/$entity"))


def delete_category(call: GraphCall) -> Answer:
    config, root, entry = _find(call)
    root.remove(entry)
    _save(config, root)
    return no_content()
