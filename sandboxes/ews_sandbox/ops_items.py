"""FindItem, GetItem, CreateItem, UpdateItem and DeleteItem on contacts and distribution lists."""

from __future__ import annotations

import copy

from lxml import etree

from ews_sandbox import soap
from ews_sandbox.context import Context
from ews_sandbox.errors import EwsError
from ews_sandbox.ids import decode_change_key
from ews_sandbox.item_codec import (
    ExtPath,
    FieldPath,
    IndexedPath,
    Path,
    decode_ext_value,
    decode_value,
    default_display_name,
    default_file_as,
    ext_key,
    parse_item_element,
    parse_path,
    parse_shape,
    render_item,
    render_item_id,
    values_for,
)
from ews_sandbox.paging import page
from ews_sandbox.properties import DICT_FIELDS, READ_ONLY_ITEM_FIELDS
from ews_sandbox.restrictions import compile_restriction, sort_objects
from ews_sandbox.store import ExtKey, Item
from ews_sandbox.xml import elements, local, m, sub, t

# Items per batch request this server accepts (see README: a documented choice, Exchange's own
# per-request limits vary by version and policy).
MAX_BATCH_ITEMS = 1000
SENSITIVITY_RANK = {"Normal": 0, "Personal": 1, "Private": 2, "Confidential": 3}


def _check_batch(count: int) -> None:
    if count > MAX_BATCH_ITEMS:
        raise EwsError(
            "ErrorInvalidOperation",
            f"The request holds {count} items; this server accepts at most "
            f"{MAX_BATCH_ITEMS} per request.",
        )


def _values(ctx: Context):
    mailbox = ctx.mailbox
    return lambda item, path: values_for(item, path, mailbox)


# -- FindItem ------------------------------------------------------------------------------------
def find_item(ctx: Context, request: etree._Element) -> etree._Element:
    root, messages = soap.response_root("FindItem")
    try:
        traversal = request.get("Traversal", "Shallow")
        if traversal not in ("Shallow", "Associated"):
            raise EwsError(
                "ErrorInvalidOperation", f"{traversal} traversal is only allowed on search folders."
            )
        for unsupported in ("QueryString", "GroupBy", "DistinguishedGroupBy", "CalendarView",
                            "ContactsView", "FractionalPageItemView"):  # fmt: skip
            if request.find(m(unsupported)) is not None:
                raise EwsError("ErrorInvalidOperation", f"{unsupported} is not supported.")
        shape = parse_shape(request.find(m("ItemShape")), for_find=True)
        values = _values(ctx)
        matches = compile_restriction(request.find(m("Restriction")), values)
        sort_order = request.find(m("SortOrder"))
        view = request.find(m("IndexedPageItemView"))
    except EwsError as err:
        soap.error(messages, "FindItem", err)
        return root
    for id_el in elements(request.find(m("ParentFolderIds"))):
        try:
            folder = ctx.resolve_folder(id_el)
            ctx.touch(folder)
            candidates = [] if traversal == "Associated" else folder.items.values()
            found = sort_objects([i for i in candidates if matches(i)], sort_order, values)
            window = page(found, view)
        except EwsError as err:
            soap.error(messages, "FindItem", err)
            continue
        message = soap.success(messages, "FindItem")
        root_folder = sub(message, m("RootFolder"), **window.attributes())
        items = sub(root_folder, t("Items"))
        for item in window.rows:
            render_item(items, item, shape, ctx.mailbox)
    return root


# -- GetItem -------------------------------------------------------------------------------------
def get_item(ctx: Context, request: etree._Element) -> etree._Element:
    root, messages = soap.response_root("GetItem")
    ids = elements(request.find(m("ItemIds")))
    try:
        _check_batch(len(ids))
        shape = parse_shape(request.find(m("ItemShape")))
    except EwsError as err:
        soap.error(messages, "GetItem", err, empty="Items")
        return root
    for id_el in ids:
        try:
            item = ctx.resolve_item(id_el)
        except EwsError as err:
            soap.error(messages, "GetItem", err, empty="Items")
            continue
        ctx.touch(item.folder)
        render_item(sub(soap.success(messages, "GetItem"), m("Items")), item, shape, ctx.mailbox)
    return root


# -- CreateItem ----------------------------------------------------------------------------------
def create_item(ctx: Context, request: etree._Element) -> etree._Element:
    root, messages = soap.response_root("CreateItem")
    to_create = elements(request.find(m("Items")))
    try:
        _check_batch(len(to_create))
        target = request.find(m("SavedItemFolderId"))
        if target is not None and elements(target):
            folder = ctx.resolve_folder(elements(target)[0])
        else:
            folder = ctx.mailbox.distinguished["contacts"]
    except EwsError as err:
        if err.code == "ErrorFolderNotFound":
            err = EwsError(
                "ErrorSavedItemFolderNotFound", "The folder to save the item could not be found."
            )
        for _ in to_create or [None]:
            soap.error(messages, "CreateItem", err, empty="Items")
        return root
    ctx.touch(folder)
    for item_el in to_create:
        try:
            kind, props, ext = parse_item_element(item_el)
        except EwsError as err:
            soap.error(messages, "CreateItem", err, empty="Items")
            continue
        if not props.get("DisplayName"):
            props["DisplayName"] = default_display_name(props)
        if kind == "Contact" and "FileAs" not in props:
            props["FileAs"] = default_file_as(props)
        item = ctx.mailbox.add_item(folder, kind, props, ext)
        render_item_id(sub(soap.success(messages, "CreateItem"), m("Items")), item, ctx.mailbox)
    return root


# -- UpdateItem ----------------------------------------------------------------------------------
def _path_key(path: Path) -> str:
    if isinstance(path, FieldPath):
        return path.name
    if isinstance(path, IndexedPath):
        return ":".join(p for p in (path.dictionary, path.key, path.part) if p)
    return f"ext:{path.key}"


def _find_ext(container: etree._Element, key: ExtKey) -> etree._Element | None:
    for prop in container.findall(t("ExtendedProperty")):
        uri = prop.find(t("ExtendedFieldURI"))
        if uri is not None and ext_key(uri) == key:
            return prop
    return None


def _one_property(container: etree._Element) -> None:
    if len(elements(container)) != 1:
        raise EwsError(
            "ErrorIncorrectUpdatePropertyCount",
            "An object within a change description must contain one and only one property "
            "to modify.",
        )


def _set(item: Item, props: dict, ext: dict, path: Path, container: etree._Element) -> None:
    if local(container) in ("Contact", "DistributionList") and local(container) != item.kind:
        raise EwsError("ErrorObjectTypeChanged", "The item type of an object cannot be changed.")
    _one_property(container)
    if isinstance(path, ExtPath):
        prop = _find_ext(container, path.key)
        if prop is None:
            raise EwsError("ErrorInvalidPropertySet", "The extended property to set is missing.")
        ext[path.key] = decode_ext_value(prop, path.key)
        return
    if isinstance(path, IndexedPath):
        dictionary = container.find(t(path.dictionary))
        entry = None
        if dictionary is not None:
            entry = next(
                (e for e in dictionary.findall(t("Entry")) if e.get("Key") == path.key), None
            )
        if entry is None:
            raise EwsError("ErrorInvalidPropertySet", f"The entry {path.key} to set is missing.")
        entries = dict(props.get(path.dictionary) or {})
        if path.part is None:
            entries[path.key] = entry.text or ""
        else:
            part = entry.find(t(path.part))
            if part is None:
                raise EwsError("ErrorInvalidPropertySet", f"{path.part} of {path.key} is missing.")
            address = dict(entries.get(path.key) or {})
            address[path.part] = part.text or ""
            entries[path.key] = address
        props[path.dictionary] = entries
        return
    if path.name in READ_ONLY_ITEM_FIELDS:
        raise EwsError(
            "ErrorInvalidPropertySet", f"Set action is invalid for property {path.name}."
        )
    value_el = container.find(t(path.name))
    if value_el is None:
        raise EwsError("ErrorInvalidPropertySet", f"The property {path.name} to set is missing.")
    props[path.name] = decode_value(path.name, value_el)


def _append(item: Item, props: dict, path: Path, container: etree._Element) -> None:
    _one_property(container)
    if isinstance(path, FieldPath) and path.name == "Body":
        value_el = container.find(t("Body"))
        if value_el is not None:
            body_type, text = props.get("Body", (value_el.get("BodyType", "Text"), ""))
            props["Body"] = (body_type, text + (value_el.text or ""))
            return
    if isinstance(path, FieldPath) and path.name == "Members" and item.kind == "DistributionList":
        value_el = container.find(t("Members"))
        if value_el is not None:
            props["Members"] = list(props.get("Members") or []) + decode_value("Members", value_el)
            return
    raise EwsError("ErrorInvalidPropertyAppend", "The property does not support append.")


def _delete(props: dict, ext: dict, path: Path) -> None:
    if isinstance(path, ExtPath):
        ext.pop(path.key, None)
    elif isinstance(path, IndexedPath):
        entries = dict(props.get(path.dictionary) or {})
        if path.part is None:
            entries.pop(path.key, None)
        elif path.key in entries:
            address = {k: v for k, v in entries[path.key].items() if k != path.part}
            if address:
                entries[path.key] = address
            else:
                entries.pop(path.key)
        if entries:
            props[path.dictionary] = entries
        else:
            props.pop(path.dictionary, None)
    elif path.name in READ_ONLY_ITEM_FIELDS:
        raise EwsError("ErrorInvalidPropertyDelete", f"{path.name} cannot be deleted.")
    else:
        props.pop(path.name, None)


def _apply_change(ctx: Context, change: etree._Element, mode: str) -> tuple[Item, int]:
    parts = elements(change)
    if not parts:
        raise EwsError("ErrorInvalidIdMalformed", "The ItemChange has no item id.")
    item = ctx.resolve_item(parts[0])
    ck = parts[0].get("ChangeKey")
    client_version = None
    if ck:
        client_version = decode_change_key(ck, ctx.mailbox.tag, item.serial)
        if client_version is None:
            raise EwsError("ErrorInvalidChangeKey", "The change key is invalid.")
    updates = change.find(t("Updates"))
    props = copy.deepcopy(item.props)
    ext = dict(item.ext)
    changed: set[str] = set()
    for update in elements(updates) if updates is not None else []:
        update_parts = elements(update)
        if not update_parts:
            raise EwsError("ErrorInvalidPropertySet", "An update names no property.")
        path = parse_path(update_parts[0])
        action = local(update)
        if action == "DeleteItemField":
            _delete(props, ext, path)
        elif len(update_parts) < 2:
            raise EwsError("ErrorInvalidPropertySet", f"{action} carries no value.")
        elif action == "SetItemField":
            _set(item, props, ext, path, update_parts[1])
        elif action == "AppendToItemField":
            _append(item, props, path, update_parts[1])
        else:
            raise EwsError("ErrorInvalidPropertySet", f"Unknown update {action}.")
        changed.add(_path_key(path))
        if isinstance(path, IndexedPath) and path.part is None and path.dictionary in DICT_FIELDS:
            changed.add(path.dictionary)
    stale = client_version is not None and client_version < item.version
    conflicts = (
        {k for k in changed if item.field_versions.get(k, 0) > client_version} if stale else set()
    )
    if stale and mode == "NeverOverwrite":
        raise EwsError(
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed "
            "in the request does not match the current change key for the item.",
        )
    if "Sensitivity" in conflicts and mode == "AutoResolve":
        # AutoResolve keeps the more restrictive sensitivity (MS-OXWSCORE ConflictResolutionType).
        current = item.props.get("Sensitivity", "Normal")
        wanted = props.get("Sensitivity", "Normal")
        if SENSITIVITY_RANK.get(current, 0) > SENSITIVITY_RANK.get(wanted, 0):
            props["Sensitivity"] = current
    item.props = props
    item.ext = ext
    ctx.mailbox.record_change(item, changed)
    return item, len(conflicts)


def update_item(ctx: Context, request: etree._Element) -> etree._Element:
    root, messages = soap.response_root("UpdateItem")
    mode = request.get("ConflictResolution", "AutoResolve")
    changes = elements(request.find(m("ItemChanges")))
    try:
        _check_batch(len(changes))
    except EwsError as err:
        soap.error(messages, "UpdateItem", err, empty="Items")
        return root
    for change in changes:
        try:
            item, conflicts = _apply_change(ctx, change, mode)
        except EwsError as err:
            soap.error(messages, "UpdateItem", err, empty="Items")
            continue
        ctx.touch(item.folder)
        message = soap.success(messages, "UpdateItem")
        render_item_id(sub(message, m("Items")), item, ctx.mailbox)
        sub(sub(message, m("ConflictResults")), t("Count"), str(conflicts))
    return root


# -- DeleteItem ----------------------------------------------------------------------------------
def delete_item(ctx: Context, request: etree._Element) -> etree._Element:
    root, messages = soap.response_root("DeleteItem")
    delete_type = request.get("DeleteType", "HardDelete")
    ids = elements(request.find(m("ItemIds")))
    try:
        _check_batch(len(ids))
        if delete_type not in ("HardDelete", "SoftDelete", "MoveToDeletedItems"):
            raise EwsError("ErrorInvalidOperation", f"Unknown DeleteType {delete_type}.")
    except EwsError as err:
        soap.error(messages, "DeleteItem", err)
        return root
    mailbox = ctx.mailbox
    for id_el in ids:
        try:
            item = ctx.resolve_item(id_el)
        except EwsError as err:
            soap.error(messages, "DeleteItem", err)
            continue
        ctx.touch(item.folder)
        deleted_items = mailbox.distinguished["deleteditems"]
        if delete_type == "HardDelete":
            mailbox.delete_item(item)
        elif delete_type == "MoveToDeletedItems" and item.folder is not deleted_items:
            mailbox.move_item(item, deleted_items)
        else:
            mailbox.move_item(item, mailbox.distinguished["recoverableitemsdeletions"])
        soap.success(messages, "DeleteItem")
    return root
