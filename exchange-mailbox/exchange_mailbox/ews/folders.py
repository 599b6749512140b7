"""The mailbox owner's private contact folders: Contacts and the user-created folders below it.

Scope rule S1.1. Discovery costs two requests: ``GetFolder contacts`` and one ``FindFolder``
(deep, only cheap properties, so exchangelib sends no follow-up ``GetFolder`` for the found
folders). Public folders and other mailboxes are never named in a request; system folders below
Contacts (Recipient Cache, GAL Contacts, Companies, ...) have their own folder classes and are
filtered out by the FindFolder restriction on ``folder:FolderClass``; hidden GUID-named ones share
the plain class and are dropped by name. None of their items is ever requested.
"""

from __future__ import annotations

from typing import Any

from exchangelib import DEEP, Account
from exchangelib.errors import ResponseMessageError
from exchangelib.folders import Contacts, SingleFolderQuerySet
from exchangelib.properties import FolderId
from exchangelib.services import CreateFolder

from ..folder_scope import SYSTEM_FOLDER_NAMES, is_private_folder_name
from ..interface import ContactFolder, FolderRefusedError

__all__ = [
    "SYSTEM_FOLDER_NAMES",
    "create_contact_folder",
    "is_private_contact_folder",
    "private_contact_folders",
]

CONTACT_FOLDER_CLASS = "IPF.Contact"


def is_private_contact_folder(folder: Any) -> bool:
    """A user-created contact folder: plain ``IPF.Contact`` class, not a system or hidden one."""
    return (
        type(folder) is Contacts
        and folder.folder_class == CONTACT_FOLDER_CLASS
        and is_private_folder_name(folder.name)
    )


def private_contact_folders(account: Account) -> list[ContactFolder]:
    """Contacts first, then its private subfolders (parents before children)."""
    root = account.contacts
    root_name = root.name or "Contacts"
    result = [
        ContactFolder(
            id=root.id,
            name=root_name,
            path=root_name,
            parent_id=None,
            total_count=root.total_count,
            folder=root,
        )
    ]
    found = [
        f
        for f in SingleFolderQuerySet(account=account, folder=root)
        .depth(DEEP)
        .filter(folder_class=CONTACT_FOLDER_CLASS)  # the server drops system folders already
        .only("name", "folder_class", "parent_folder_id", "total_count")
        if not isinstance(f, Exception)
    ]
    by_parent: dict[str | None, list[Any]] = {}
    for f in found:
        parent = f.parent_folder_id.id if f.parent_folder_id else None
        by_parent.setdefault(parent, []).append(f)
    # Walk from Contacts down, so a folder below an excluded (system) folder is excluded too.
    queue = [result[0]]
    while queue:
        parent = queue.pop(0)
        for f in sorted(by_parent.get(parent.id, []), key=lambda f: (f.name or "").casefold()):
            if not is_private_contact_folder(f):
                continue
            child = ContactFolder(
                id=f.id,
                name=f.name.strip(),
                path=f"{parent.path}/{f.name.strip()}",
                parent_id=parent.id,
                total_count=f.total_count,
                folder=f,
            )
            result.append(child)
            queue.append(child)
    return result


def create_contact_folder(account: Account, parent: ContactFolder, name: str) -> ContactFolder:
    """A contacts folder below ``parent`` (one CreateFolder). Not ``Folder.save()``: that also
    puts the folder in exchangelib's root cache, whose first use walks the whole mailbox
    (GetFolder of every distinguished folder, FindFolder Deep on the root, GetFolder of every
    folder found) - system folders and Recoverable Items included."""
    request = Contacts(parent=parent.folder, name=name)
    try:
        new = CreateFolder(account=account).get(parent_folder=parent.folder, folders=[request])
    except ResponseMessageError as exc:
        raise FolderRefusedError(type(exc).__name__) from exc
    folder = Contacts(
        parent=parent.folder, name=name, _id=FolderId(id=new.id, changekey=new.changekey)
    )
    return ContactFolder(
        id=new.id,
        name=name,
        path=f"{parent.path}/{name}",
        parent_id=parent.id,
        total_count=0,
        folder=folder,
    )
