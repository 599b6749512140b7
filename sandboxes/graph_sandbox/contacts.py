"""Contacts: list, get, create, update, delete, permanentDelete (reference §1, §3, §4).

``/contacts`` is the default Contacts folder only; ``/contactFolders/{id}/contacts`` one folder.
Distribution lists are not contacts and never appear. ETags are ``W/"<changeKey>"`` and the change
key is the one EWS shows for the same item; ``If-Match`` on PATCH and DELETE answers 412 when stale.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import quote, urlencode

from ews_sandbox.item_codec import default_display_name, default_file_as
from ews_sandbox.store import ExtKey, Folder, Item

from graph_sandbox.answers import Answer, collection, entity, no_content
from graph_sandbox.call import GraphCall
from graph_sandbox.contact_json import (
    ALL_PROPERTIES,
    ORDER,
    SELECT_ONLY,
    extended_values,
    parse_contact_body,
    property_value,
)
from graph_sandbox.errors import irresolvable_conflict
from graph_sandbox.odata import QueryOptions, format_property_id, parse_property_id, parse_query

CONTACT_TYPE = "microsoft.graph.contact"
DEFAULT_PAGE, MAX_PAGE = 10, 1000


def etag(call: GraphCall, item: Item) -> str:
    return f'W/"{call.mailbox.change_key(item)}"'


def render_contact(
    call: GraphCall,
    item: Item,
    select: list[str] | None = None,
    expand_ext: list[ExtKey] | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {"@odata.etag": etag(call, item), "id": call.contact_id(item)}
    folder_id = call.folder_id(item.folder)
    names = [*ORDER, *SELECT_ONLY] if select else ORDER
    for name in names:
        if name == "id" or (select is not None and name not in select):
            continue
        if name == "changeKey":
            value[name] = call.mailbox.change_key(item)
        else:
            value[name] = property_value(item, name, folder_id=folder_id)
    if expand_ext is not None:
        ext = extended_values(item)
        value["singleValueExtendedProperties"] = [
            {"id": format_property_id(key), "value": ext[key]}
            for key in expand_ext
            if key in ext and not isinstance(ext[key], list)
        ]
    return value


def contacts_in(folder: Folder) -> list[Item]:
    return [item for item in folder.items.values() if item.kind == "Contact"]


def emails_of(item: Item) -> list[str]:
    return [a for a in (item.props.get("EmailAddresses") or {}).values() if a]


def _options(call: GraphCall, allowed: frozenset[str] | None = None) -> QueryOptions:
    kwargs = {"allowed": allowed} if allowed is not None else {}
    return parse_query(call.query, properties=ALL_PROPERTIES, type_name=CONTACT_TYPE, **kwargs)


def _fragment(call: GraphCall, suffix: str = "") -> str:
    return f"users('{quote(call.mailbox.address)}')/contacts{suffix}"


def _list_path(call: GraphCall) -> str:
    if not call.route.folders:
        return "contacts"
    parts = []
    for index, folder in enumerate(call.route.folders):
        parts.append(("contactFolders/" if index == 0 else "childFolders/") + folder)
    return "/".join(parts) + "/contacts"


def list_contacts(call: GraphCall) -> Answer:
    folder = call.route_folder() or call.default_folder
    options = _options(call)
    items = contacts_in(folder)
    if options.filter is not None:
        items = [i for i in items if options.filter.matches(emails_of(i), extended_values(i))]
    top = min(options.top if options.top is not None else DEFAULT_PAGE, MAX_PAGE)
    page = items[options.skip : options.skip + top]
    values = [render_contact(call, i, options.select, options.expand_ext) for i in page]
    next_link = None
    if options.skip + top < len(items):
        query = {k: v for k, v in call.query.items() if k in ("$select", "$filter", "$expand")}
        query.update({"$top": str(top), "$skip": str(options.skip + top)})
        next_link = call.link(
            _list_path(call) + "?" + urlencode(query, quote_via=quote, safe="$,()'")
        )
    return collection(call, "contact", values, _fragment(call), next_link)


def get_contact(call: GraphCall) -> Answer:
    item = call.resolve_contact(call.route.item or "", call.route_folder())
    options = _options(call, frozenset({"$select", "$expand"}))
    value = render_contact(call, item, options.select, options.expand_ext)
    return entity(call, "contact", value, _fragment(call, "/$entity"))


def create_contact(call: GraphCall) -> Answer:
    folder = call.route_folder() or call.default_folder
    changes = parse_contact_body(
        call.body, current=None, parse_ext=parse_property_id, folder_id=call.folder_id(folder)
    )
    props: dict[str, Any] = {}
    ext: dict[ExtKey, Any] = {}
    changes.apply(props, ext)
    if not props.get("DisplayName"):
        props["DisplayName"] = default_display_name(props)
    if "FileAs" not in props:
        props["FileAs"] = default_file_as(props)
    item = call.mailbox.add_item(folder, "Contact", props, ext)
    return entity(
        call, "contact", render_contact(call, item), _fragment(call, "/$entity"), status=201
    )


def check_if_match(call: GraphCall, item: Item) -> None:
    """``If-Match: W/"<changeKey>"`` (or ``*``); a stale one is 412 (reference §3, §12.4)."""
    wanted = call.header("If-Match").strip()
    if not wanted or wanted == "*":
        return
    current = call.mailbox.change_key(item)
    tags = [t.strip() for t in wanted.split(",")]
    if not any(t.removeprefix("W/").strip('"') == current for t in tags):
        raise irresolvable_conflict()


def update_contact(call: GraphCall) -> Answer:
    item = call.resolve_contact(call.route.item or "", call.route_folder())
    check_if_match(call, item)
    changes = parse_contact_body(
        call.body, current=item, parse_ext=parse_property_id, folder_id=call.folder_id(item.folder)
    )
    if changes.changed:
        props = copy.deepcopy(item.props)
        ext = dict(item.ext)
        changes.apply(props, ext)
        item.props, item.ext = props, ext
        call.mailbox.record_change(item, changes.changed)
    return entity(call, "contact", render_contact(call, item), _fragment(call, "/$entity"))


def delete_contact(call: GraphCall) -> Answer:
    """DELETE moves the contact to Deleted Items (permanentDelete is the hard one)."""
    item = call.resolve_contact(call.route.item or "", call.route_folder())
    check_if_match(call, item)
    deleted_items = call.mailbox.distinguished["deleteditems"]
    if item.folder is deleted_items:
        call.mailbox.move_item(item, call.mailbox.distinguished["recoverableitemsdeletions"])
    else:
        call.mailbox.move_item(item, deleted_items)
    return no_content()


def permanent_delete(call: GraphCall) -> Answer:
    """Recoverable Items\\Purges, as the reference says (§1)."""
    item = call.resolve_contact(call.route.item or "", call.route_folder())
    call.mailbox.move_item(item, call.mailbox.distinguished["recoverableitemspurges"])
    return no_content()
