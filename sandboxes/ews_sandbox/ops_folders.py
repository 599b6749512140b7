"""GetFolder, FindFolder and CreateFolder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from ews_sandbox import soap
from ews_sandbox.context import Context
from ews_sandbox.errors import EwsError, SoapFaultError
from ews_sandbox.item_codec import (
    ExtPath,
    FieldPath,
    IndexedPath,
    Path,
    decode_ext_value,
    ext_key,
    parse_path,
)
from ews_sandbox.paging import page
from ews_sandbox.properties import FOLDER_DEFAULT_SHAPE
from ews_sandbox.restrictions import compile_restriction, sort_objects
from ews_sandbox.schema_tables import (
    CALENDAR_FOLDER_ORDER,
    CONTACTS_FOLDER_ORDER,
    FOLDER_ORDER,
    TASKS_FOLDER_ORDER,
    UNINDEXED_FIELD_URIS,
)
from ews_sandbox.store import Folder
from ews_sandbox.xml import child_text, elements, format_bool, local, m, sub, t

FOLDER_ORDERS = {
    "Folder": FOLDER_ORDER,
    "ContactsFolder": CONTACTS_FOLDER_ORDER,
    "CalendarFolder": CALENDAR_FOLDER_ORDER,
    "TasksFolder": TASKS_FOLDER_ORDER,
}
# A typed folder element implies its class; a generic ``t:Folder`` with one of these classes
# becomes that typed folder ("EWS will create the correct strongly typed folder", ResponseCode
# ErrorNoFolderClassOverride in Microsoft's EWS reference).
TYPED_FOLDER_CLASSES = {
    "ContactsFolder": "IPF.Contact",
    "CalendarFolder": "IPF.Appointment",
    "TasksFolder": "IPF.Task",
}
# Properties the server sets; a CreateFolder that sends one is refused (our choice, as CreateItem).
READ_ONLY_FOLDER_FIELDS = frozenset(
    {"FolderId", "ParentFolderId", "TotalCount", "ChildFolderCount", "UnreadCount",
     "EffectiveRights", "DistinguishedFolderId"}
)  # fmt: skip
NO_PERMISSIONS = (
    ("CanCreateItems", "false"), ("CanCreateSubFolders", "false"), ("IsFolderOwner", "false"),
    ("IsFolderVisible", "false"), ("IsFolderContact", "false"), ("EditItems", "None"),
    ("DeleteItems", "None"),
)  # fmt: skip


@dataclass
class FolderShape:
    base: str = "IdOnly"
    fields: set[str] = field(default_factory=set)
    ext: list[ExtPath] = field(default_factory=list)

    def wants(self, name: str) -> bool:
        if name == "FolderId" or name in self.fields or self.base == "AllProperties":
            return True
        return self.base == "Default" and name in FOLDER_DEFAULT_SHAPE


def parse_folder_shape(el: etree._Element | None) -> FolderShape:
    shape = FolderShape()
    if el is None:
        return shape
    base = el.find(t("BaseShape"))
    shape.base = (base.text or "IdOnly").strip() if base is not None else "IdOnly"
    additional = el.find(t("AdditionalProperties"))
    for path_el in elements(additional) if additional is not None else []:
        if path_el.tag == t("FieldURI"):
            uri = path_el.get("FieldURI", "")
            if uri not in UNINDEXED_FIELD_URIS:
                raise SoapFaultError(
                    "ErrorSchemaValidation",
                    f"The request failed schema validation: '{uri}' is not a valid FieldURI.",
                )
            prefix, _, name = uri.partition(":")
            if prefix != "folder" or not name:
                raise EwsError("ErrorInvalidPropertyRequest", f"{uri} is not a folder property.")
            shape.fields.add(name)
        elif path_el.tag == t("ExtendedFieldURI"):
            path = parse_path(path_el)
            assert isinstance(path, ExtPath)
            shape.ext.append(path)
        else:
            raise EwsError("ErrorInvalidPropertyRequest", "Folders have no indexed properties.")
    return shape


def folder_values(folder: Folder, path: Path) -> list[Any]:
    """Values of a folder property for FindFolder restrictions and sorting."""
    if isinstance(path, ExtPath):
        value = folder.ext.get(path.key)
        return [] if value is None else [value]
    if isinstance(path, IndexedPath):
        return []
    value = {
        "DisplayName": folder.display_name,
        "FolderClass": folder.folder_class,
        "TotalCount": len(folder.items),
        "ChildFolderCount": len(folder.children),
        "FolderId": folder.id,
    }.get(path.name.rpartition(":")[2] if isinstance(path, FieldPath) else "")  # folder:X → X
    return [] if value is None else [value]


def _permission_set(parent: etree._Element, calendar: bool) -> None:
    if calendar:
        perms = sub(sub(parent, t("PermissionSet")), t("CalendarPermissions"))
    else:
        perms = sub(sub(parent, t("PermissionSet")), t("Permissions"))
    for user in ("Default", "Anonymous"):
        perm = sub(perms, t("CalendarPermission" if calendar else "Permission"))
        sub(sub(perm, t("UserId")), t("DistinguishedUser"), user)
        for name, value in NO_PERMISSIONS:
            sub(perm, t(name), value)
        if calendar:
            free_busy = user == "Default"
            sub(perm, t("ReadItems"), "TimeOnly" if free_busy else "None")
            sub(perm, t("CalendarPermissionLevel"), "FreeBusyTimeOnly" if free_busy else "None")
        else:
            sub(perm, t("ReadItems"), "None")
            sub(perm, t("PermissionLevel"), "None")


def render_folder(parent: etree._Element, folder: Folder, shape: FolderShape, ctx: Context) -> None:
    el = sub(parent, t(folder.element))
    mailbox = ctx.mailbox
    for name in FOLDER_ORDERS[folder.element]:
        if name == "ExtendedProperty":
            for path in shape.ext:
                if path.key in folder.ext:
                    prop = sub(el, t("ExtendedProperty"))
                    sub(prop, t("ExtendedFieldURI"), **dict(path.attrs))
                    sub(prop, t("Value"), folder.ext[path.key])
            continue
        if not shape.wants(name):
            continue
        if name == "FolderId":
            sub(el, t(name), Id=folder.id, ChangeKey=mailbox.change_key(folder))
        elif name == "ParentFolderId" and folder.parent is not None:
            parent_folder = folder.parent
            sub(el, t(name), Id=parent_folder.id, ChangeKey=mailbox.change_key(parent_folder))
        elif name == "FolderClass" and folder.folder_class:
            sub(el, t(name), folder.folder_class)
        elif name == "DisplayName":
            sub(el, t(name), folder.display_name)
        elif name == "TotalCount":
            sub(el, t(name), str(len(folder.items)))
        elif name == "ChildFolderCount":
            sub(el, t(name), str(len(folder.children)))
        elif name == "UnreadCount":
            sub(el, t(name), "0")
        elif name == "EffectiveRights":
            rights = sub(el, t(name))
            owner = not folder.public
            for right, allowed in (("CreateAssociated", owner), ("CreateContents", True),
                                   ("CreateHierarchy", owner), ("Delete", owner),
                                   ("Modify", owner), ("Read", True),
                                   ("ViewPrivateItems", owner)):  # fmt: skip
                sub(rights, t(right), format_bool(allowed))
        elif name == "DistinguishedFolderId" and folder.distinguished:
            sub(el, t(name), folder.distinguished)
        elif name == "PermissionSet":
            _permission_set(el, folder.element == "CalendarFolder")


def get_folder(ctx: Context, request: etree._Element) -> etree._Element:
    shape = parse_folder_shape(request.find(m("FolderShape")))
    root, messages = soap.response_root("GetFolder")
    for id_el in elements(request.find(m("FolderIds"))):
        try:
            folder = ctx.resolve_folder(id_el)
        except EwsError as err:
            soap.error(messages, "GetFolder", err)
            continue
        ctx.touch(folder, metadata=True)
        render_folder(sub(soap.success(messages, "GetFolder"), m("Folders")), folder, shape, ctx)
    return root


def find_folder(ctx: Context, request: etree._Element) -> etree._Element:
    traversal = request.get("Traversal", "Shallow")
    shape = parse_folder_shape(request.find(m("FolderShape")))
    matches = compile_restriction(request.find(m("Restriction")), folder_values)
    view = request.find(m("IndexedPageFolderView"))
    root, messages = soap.response_root("FindFolder")
    for id_el in elements(request.find(m("ParentFolderIds"))):
        try:
            parent = ctx.resolve_folder(id_el)
            if traversal not in ("Shallow", "Deep"):
                raise EwsError("ErrorInvalidOperation", f"{traversal} traversal is not supported.")
            if traversal == "Deep" and parent.public:
                raise EwsError(
                    "ErrorInvalidOperation",
                    "Deep traversal queries are not allowed on public folders.",
                )
            ctx.touch(parent, metadata=True)
            found = parent.descendants() if traversal == "Deep" else list(parent.children)
            found = sort_objects([f for f in found if matches(f)], None, folder_values)
            window = page(found, view)
        except EwsError as err:
            soap.error(messages, "FindFolder", err)
            continue
        message = soap.success(messages, "FindFolder")
        root_folder = sub(message, m("RootFolder"), **window.attributes())
        folders = sub(root_folder, t("Folders"))
        for folder in window.rows:
            ctx.touch(folder, metadata=True)
            render_folder(folders, folder, shape, ctx)
    return root


# -- CreateFolder --------------------------------------------------------------------------------
def element_for_class(folder_class: str | None) -> str:
    """The typed folder element a folder class stands for (``IPF.Contact.X`` is a contacts one)."""
    for element, base in TYPED_FOLDER_CLASSES.items():
        if folder_class and (folder_class == base or folder_class.startswith(base + ".")):
            return element
    return "Folder"


def _resolve_parent(ctx: Context, parent_el: etree._Element | None) -> Folder:
    ids = elements(parent_el)
    if not ids:
        raise EwsError("ErrorInvalidIdMalformed", "ParentFolderId names no folder.")
    try:
        parent = ctx.resolve_folder(ids[0])
    except EwsError as err:
        if err.code == "ErrorFolderNotFound":
            raise EwsError(
                "ErrorParentFolderNotFound", "The parent folder could not be found."
            ) from err
        raise
    if parent.public:
        # The sandbox's public folders grant no CreateHierarchy right (see EffectiveRights).
        raise EwsError(
            "ErrorCreateSubfolderAccessDenied",
            "The calling account does not have the permissions required to create the subfolder.",
        )
    return parent


def _new_folder(ctx: Context, parent: Folder, folder_el: etree._Element) -> Folder:
    kind = local(folder_el)
    if kind not in ("Folder", *TYPED_FOLDER_CLASSES):
        raise EwsError("ErrorInvalidOperation", f"This server cannot create a {kind}.")
    folder_class = child_text(folder_el, t("FolderClass"))
    implied = TYPED_FOLDER_CLASSES.get(kind)
    if implied is not None and folder_class is not None and folder_class != implied:
        raise EwsError(
            "ErrorNoFolderClassOverride",
            f"The folder class of a {kind} is implied; create a generic Folder to set another.",
        )
    folder_class = folder_class or implied
    name = child_text(folder_el, t("DisplayName")) or ""
    if not name.strip():
        raise EwsError("ErrorFolderSavePropertyError", "The folder needs a DisplayName.")
    ext: dict = {}
    for child in elements(folder_el):
        if local(child) in READ_ONLY_FOLDER_FIELDS:
            raise EwsError(
                "ErrorInvalidPropertySet", f"Set action is invalid for property {local(child)}."
            )
        if local(child) == "ExtendedProperty":
            uri = child.find(t("ExtendedFieldURI"))
            if uri is None:
                raise EwsError("ErrorInvalidExtendedProperty", "The extended property is invalid.")
            key = ext_key(uri)
            ext[key] = decode_ext_value(child, key)
    # Sibling folders cannot share a name (MS-OXCFOLD RopCreateFolder); compared like Outlook
    # compares folder names, case-insensitively.
    if any(c.display_name.casefold() == name.casefold() for c in parent.children):
        raise EwsError("ErrorFolderExists", "A folder with the specified name already exists.")
    folder = ctx.mailbox.add_folder(
        parent, name, folder_class, element=element_for_class(folder_class)
    )
    folder.ext.update(ext)
    return folder


def create_folder(ctx: Context, request: etree._Element) -> etree._Element:
    root, messages = soap.response_root("CreateFolder")
    to_create = elements(request.find(m("Folders")))
    try:
        parent = _resolve_parent(ctx, request.find(m("ParentFolderId")))
    except EwsError as err:
        for _ in to_create or [None]:
            soap.error(messages, "CreateFolder", err, empty="Folders")
        return root
    ctx.touch(parent, metadata=True)
    for folder_el in to_create:
        try:
            folder = _new_folder(ctx, parent, folder_el)
        except EwsError as err:
            soap.error(messages, "CreateFolder", err, empty="Folders")
            continue
        ctx.touch(folder, metadata=True)
        # One t:<type> per folder carrying only the new FolderId, as in Microsoft's example answer.
        folders = sub(soap.success(messages, "CreateFolder"), m("Folders"))
        created = sub(folders, t(local(folder_el)))
        sub(created, t("FolderId"), Id=folder.id, ChangeKey=ctx.mailbox.change_key(folder))
    return root
