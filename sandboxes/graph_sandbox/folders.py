"""``contactFolders`` and ``childFolders``: list, get, create and rename (reference §1).

``/contactFolders`` lists the folders *under* the default Contacts folder, not the default folder
itself; ``/contactFolders/{id}/childFolders`` lists the folders under that one.
"""

from __future__ import annotations

from typing import Any

from ews_sandbox.store import Folder

from graph_sandbox.answers import Answer, collection, entity, parse_select, select_fields
from graph_sandbox.call import GraphCall
from graph_sandbox.errors import GraphError, bad_request
from graph_sandbox.odata import parse_query

FOLDER_TYPE = "microsoft.graph.contactFolder"
PROPERTIES = ("id", "displayName", "parentFolderId")
DEFAULT_PAGE, MAX_PAGE = 10, 1000


def folder_json(call: GraphCall, folder: Folder) -> dict[str, Any]:
    parent = folder.parent
    return {
        "id": call.folder_id(folder),
        "displayName": folder.display_name,
        "parentFolderId": call.folder_id(parent) if parent is not None else None,
    }


def _folder_exists() -> GraphError:
    return GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")


def list_children(call: GraphCall) -> Answer:
    parent = call.route_folder() or call.default_folder
    options = parse_query(
        call.query,
        properties=frozenset(PROPERTIES),
        type_name=FOLDER_TYPE,
        allowed=frozenset({"$select", "$top", "$skip"}),
    )
    folders = call.visible_children(parent)
    top = min(options.top if options.top is not None else DEFAULT_PAGE, MAX_PAGE)
    page = folders[options.skip : options.skip + top]
    values = [select_fields(folder_json(call, f), options.select) for f in page]
    next_link = None
    if options.skip + top < len(folders):
        next_link = call.link(
            _path(call) + f"?{parse_select(options.select)}$top={top}&$skip={options.skip + top}"
        )
    return collection(
        call, "contactFolder", values, f"users('{call.mailbox.address}')/contactFolders", next_link
    )


def _path(call: GraphCall) -> str:
    parts = []
    for index, folder in enumerate(call.route.folders):
        parts.append(("contactFolders/" if index == 0 else "childFolders/") + folder)
    if call.route.folders:
        return "/".join(parts) + "/childFolders"
    return "contactFolders"


def get_folder(call: GraphCall) -> Answer:
    folder = call.route_folder()
    assert folder is not None
    options = parse_query(
        call.query,
        properties=frozenset(PROPERTIES),
        type_name=FOLDER_TYPE,
        allowed=frozenset({"$select"}),
    )
    return entity(
        call,
        "contactFolder",
        select_fields(folder_json(call, folder), options.select),
        f"users('{call.mailbox.address}')/contactFolders/$entity",
    )


def _display_name(body: Any) -> str:
    if not isinstance(body, dict):
        raise GraphError(400, "RequestBodyRead", "The request body must be a JSON object.")
    for key in body:
        if key.startswith("@odata.") or key in ("displayName", "parentFolderId"):
            continue
        if key == "id":
            raise GraphError(400, "ErrorInvalidProperty", "The property 'id' is read-only.")
        raise GraphError(
            400,
            "RequestBodyRead",
            f"The property '{key}' does not exist on type '{FOLDER_TYPE}'. Make sure to only use "
            "property names that are defined by the type or mark the type as open type.",
        )
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("A folder needs a non-empty displayName.", code="ErrorInvalidRequest")
    return name


def create_folder(call: GraphCall) -> Answer:
    parent = call.route_folder() or call.default_folder
    name = _display_name(call.body)
    if any(c.display_name.lower() == name.lower() for c in parent.children):
        raise _folder_exists()
    folder = call.mailbox.add_folder(parent, name, "IPF.Contact", element="ContactsFolder")
    return entity(
        call,
        "contactFolder",
        folder_json(call, folder),
        f"users('{call.mailbox.address}')/contactFolders/$entity",
        status=201,
    )


def update_folder(call: GraphCall) -> Answer:
    folder = call.route_folder()
    assert folder is not None
    if folder is call.default_folder:
        raise GraphError(403, "ErrorAccessDenied", "The default Contacts folder cannot be renamed.")
    name = _display_name(call.body)
    siblings = folder.parent.children if folder.parent is not None else []
    if any(c is not folder and c.display_name.lower() == name.lower() for c in siblings):
        raise _folder_exists()
    folder.display_name = name
    folder.version += 1
    return entity(
        call,
        "contactFolder",
        folder_json(call, folder),
        f"users('{call.mailbox.address}')/contactFolders/$entity",
    )
