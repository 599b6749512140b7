"""The mailbox owner's private contact folders over Graph: Contacts and the folders below it.

Scope rule S1.1, as ``ews.folders`` applies it. Graph lists a folder's children one folder at a
time (``contactFolders`` = the children of the default Contacts folder, ``…/childFolders`` below
any other), so the tree is read level by level, each level's listings in one ``$batch``. Folder
ids the caller saw last time (``known``) are listed in the first batch already, so an unchanged
tree costs one request whatever its depth. Only ``/users/{mailbox}/contactFolders…`` is ever
named: never another mailbox, never public folders. System folders (Recipient Cache, GAL
Contacts, …) and GUID-named hidden ones are dropped by name, with everything below them.

The default folder is read by its well-known name ``contacts`` (``contactFolders/contacts``);
where a service does not know that name, its id is the ``parentFolderId`` of the folders listed
under it or of a contact in it (reference §1).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ..folder_scope import is_private_folder_name
from ..interface import ContactFolder, FolderRefusedError
from . import batch
from .batch import SubRequest, SubResponse
from .errors import GraphError
from .transport import GraphTransport

log = logging.getLogger(__name__)

FOLDER_FIELDS = "id,displayName,parentFolderId"
PAGE = 1000
DEFAULT = "default"


@dataclass(frozen=True)
class GraphFolder:
    """What ``ContactFolder.folder`` holds over Graph: the folder's id and its path segment."""

    id: str
    path: str  # users/{u}/contactFolders/{id}

    def __str__(self) -> str:
        return self.id


def folder_path(transport: GraphTransport, folder_id: str) -> str:
    return f"{transport.user}/contactFolders/{folder_id}"


def _children_request(transport: GraphTransport, parent: str) -> SubRequest:
    path = (
        f"{transport.user}/contactFolders"
        if parent == DEFAULT
        else f"{folder_path(transport, parent)}/childFolders"
    )
    params = {"$select": FOLDER_FIELDS, "$top": str(PAGE)}
    return SubRequest(id=f"c:{parent}", method="GET", url=batch.relative_url(path, params))


def _values(transport: GraphTransport, answer: SubResponse) -> list[dict[str, Any]]:
    if not answer.ok:
        raise answer.error()
    body = answer.body or {}
    values = list(body.get("value") or ())
    link = body.get("@odata.nextLink")
    if link:  # more than PAGE children: the rest page by page
        for page in transport.pages(link):
            values.extend(page.get("value") or ())
    return values


def private_folders(transport: GraphTransport, known: Collection[str] = ()) -> list[ContactFolder]:
    """Contacts first, then its private subfolders (parents before children)."""
    default_request = SubRequest(
        id="default",
        method="GET",
        url=batch.relative_url(folder_path(transport, "contacts"), {"$select": FOLDER_FIELDS}),
    )
    requests = [default_request, _children_request(transport, DEFAULT)]
    requests += [_children_request(transport, k) for k in dict.fromkeys(known) if k]
    answers = batch.read_all(transport, requests)
    default = answers.pop("default")
    children: dict[str, list[dict[str, Any]]] = {}
    for key, answer in answers.items():
        if key != f"c:{DEFAULT}" and answer.status in (400, 404):
            continue  # a folder known last time is gone (or moved out): nothing to list
        children[key[2:]] = _values(transport, answer)
    root_id = _default_id(transport, default, children[DEFAULT])
    children[root_id] = children.pop(DEFAULT)
    root_name = ((default.body or {}).get("displayName") if default.ok else None) or "Contacts"
    root = ContactFolder(
        id=root_id,
        name=root_name,
        path=root_name,
        parent_id=None,
        total_count=None,
        folder=GraphFolder(root_id, folder_path(transport, root_id)),
    )
    result = [root]
    level = [root]
    while level:
        # Children of this level's folders not listed yet: one batch for all of them.
        unlisted = [f.id for f in level if f.id not in children]
        if unlisted:
            answers = batch.read_all(transport, [_children_request(transport, i) for i in unlisted])
            for key, answer in answers.items():
                children[key[2:]] = _values(transport, answer)
        below: list[ContactFolder] = []
        for parent in level:
            entries = sorted(children.get(parent.id, ()), key=lambda e: _name(e).casefold())
            for entry in entries:
                name = _name(entry)
                if not is_private_folder_name(name):
                    continue
                child = ContactFolder(
                    id=entry["id"],
                    name=name,
                    path=f"{parent.path}/{name}",
                    parent_id=parent.id,
                    total_count=None,
                    folder=GraphFolder(entry["id"], folder_path(transport, entry["id"])),
                )
                below.append(child)
        result.extend(below)
        level = below
    return result


def _name(entry: dict[str, Any]) -> str:
    return str(entry.get("displayName") or "").strip()


def _default_id(
    transport: GraphTransport, default: SubResponse, level_one: list[dict[str, Any]]
) -> str:
    if default.ok and (default.body or {}).get("id"):
        return str(default.body["id"])
    if default.status not in (400, 404):
        raise default.error()
    parents = {e.get("parentFolderId") for e in level_one if e.get("parentFolderId")}
    if len(parents) == 1:
        return str(parents.pop())
    contact = next(
        transport.items(f"{transport.user}/contacts", {"$select": "parentFolderId", "$top": "1"}),
        None,
    )
    if contact and contact.get("parentFolderId"):
        return str(contact["parentFolderId"])
    msg = "cannot find the default Contacts folder of the mailbox"
    raise GraphError(404, "ErrorItemNotFound", msg)


def create_folder(transport: GraphTransport, parent: ContactFolder, name: str) -> ContactFolder:
    """POST a folder below ``parent``: ``contactFolders`` under the default folder, else the
    parent's ``childFolders``."""
    if parent.parent_id is None:
        path = f"{transport.user}/contactFolders"
    else:
        path = f"{folder_path(transport, parent.id)}/childFolders"
    try:
        body = transport.call("POST", path, json={"displayName": name})
    except GraphError as exc:
        if exc.status in (401, 403):
            raise
        raise FolderRefusedError(f"{exc.code}: {exc.message}") from exc
    folder_id = str(body["id"])
    return ContactFolder(
        id=folder_id,
        name=name,
        path=f"{parent.path}/{name}",
        parent_id=parent.id,
        total_count=0,
        folder=GraphFolder(folder_id, folder_path(transport, folder_id)),
    )
