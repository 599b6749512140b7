"""What target-exchange needs to know about the mailbox, each piece read lazily once per run.

- ``folders``: the owner's private contact folders (S1.1; Contacts and its user subfolders, never
  system or public folders) — two requests, only when matching, adopting or creating needs them.
- ``destination``: the folder new contacts go to (Contacts, or setting ``folder``, created as a
  contacts subfolder when missing — the user named it, so the sync makes it exist).
- ``index``: the matching index (S4) over the unlinked private contacts, built from a FindItem +
  GetItem pass asking only for the fields matching uses, and the Sell-link values already on
  items (so an item the sync created is recognised even when the ledger does not know it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from contact_mapping.exchange_map import from_exchange
from contact_mapping.matching import Candidate, MatchIndex
from exchange_mailbox.errors import ExchangeSetupError
from exchange_mailbox.ews import link_property
from exchange_mailbox.ews.folders import ContactFolder, private_contact_folders
from exchange_mailbox.ews.records import iso
from exchangelib import Contact
from exchangelib.errors import ResponseMessageError
from exchangelib.folders import Contacts, FolderCollection
from exchangelib.properties import FolderId
from exchangelib.services import CreateFolder

log = logging.getLogger(__name__)

#: Items turned into index entries (and looked up in the ledger) at a time.
INDEX_BATCH = 1000

INDEX_FIELDS: tuple[str, ...] = (
    "given_name",
    "surname",
    "display_name",
    "company_name",
    "file_as",
    "email_addresses",
    "phone_numbers",
    "categories",
    "last_modified_time",
    link_property.FIELD_NAME,
)


def index_record(item: Contact) -> dict[str, Any]:
    """The subset of a ``contacts`` record that matching reads."""
    emails = {e.label: e.email for e in item.email_addresses or ()}
    return {
        "id": item.id,
        "given_name": item.given_name,
        "surname": item.surname,
        "display_name": item.display_name,
        "company_name": item.company_name,
        "file_as": item.file_as,
        "email_address_1": emails.get("EmailAddress1"),
        "email_address_2": emails.get("EmailAddress2"),
        "email_address_3": emails.get("EmailAddress3"),
        "phone_numbers": {p.label: p.phone_number for p in item.phone_numbers or ()},
        "categories": list(item.categories or ()),
        "last_modified_time": iso(item.last_modified_time),
        "sell_link": getattr(item, link_property.FIELD_NAME, None),
    }


@dataclass
class MailboxIndex:
    matches: MatchIndex
    by_link: dict[str, list[str]] = field(default_factory=dict)
    size: int = 0

    @classmethod
    def from_items(
        cls,
        items: Iterable[Contact],
        linked_ids: Callable[[list[str]], set[str]],
        default_region: str,
    ) -> MailboxIndex:
        """``linked_ids(ids)`` names the items the ledger links (active or retired): never
        offered for matching. Items are taken a batch at a time, so only the index itself
        stays in memory, never the whole mailbox as exchangelib objects."""
        index = cls(MatchIndex())
        # Distribution lists and errors are not contacts.
        contacts = (i for i in items if isinstance(i, Contact))
        while batch := list(islice(contacts, INDEX_BATCH)):
            linked = linked_ids([c.id for c in batch])
            for item in batch:
                index.size += 1
                record = index_record(item)
                if record["sell_link"]:
                    index.by_link.setdefault(record["sell_link"], []).append(item.id)
                    continue
                if item.id in linked:
                    continue
                index.matches.add(
                    Candidate(
                        id=item.id,
                        canonical=from_exchange(record, default_region),
                        updated=record["last_modified_time"],
                    )
                )
        return index


class Mailbox:
    """Lazy, cached views of the mailbox for one run (thread-safe)."""

    def __init__(self, account, folder_path: tuple[str, ...] = (), default_region: str = "US"):
        self.account = account
        self.folder_path = folder_path
        self.default_region = default_region
        self._lock = threading.RLock()
        self._folders: list[ContactFolder] | None = None
        self._destination: Any = None
        self._index: MailboxIndex | None = None

    def folders(self) -> list[ContactFolder]:
        with self._lock:
            if self._folders is None:
                self._folders = private_contact_folders(self.account)
            return self._folders

    def folder_objects(self) -> list[Any]:
        return [f.folder for f in self.folders()]

    def destination(self) -> Any:
        """The folder for new contacts; a missing ``folder`` path is created below Contacts."""
        with self._lock:
            if self._destination is not None:
                return self._destination
            folders = self.folders()
            current = folders[0]
            for depth, name in enumerate(self.folder_path, start=1):
                wanted = "/".join((folders[0].path, *self.folder_path[:depth])).casefold()
                found = next((f for f in folders if f.path.casefold() == wanted), None)
                if found is None:
                    try:
                        created = self._create_folder(current.folder, name)
                    except ResponseMessageError as exc:
                        msg = (
                            f"Setting 'folder': contacts folder {wanted!r} does not exist and "
                            f"Exchange refused to create it ({type(exc).__name__}); create it "
                            "in Outlook or change the setting."
                        )
                        raise ExchangeSetupError(msg, setting="folder") from exc
                    log.info("created contacts folder %s", wanted)
                    found = ContactFolder(
                        id=created.id,
                        name=name,
                        path=f"{current.path}/{name}",
                        parent_id=current.id,
                        total_count=0,
                        folder=created,
                    )
                    folders.append(found)
                current = found
            self._destination = current.folder
            return self._destination

    def _create_folder(self, parent: Any, name: str) -> Any:
        """A contacts folder below ``parent`` (one CreateFolder). Not ``Folder.save()``: that
        also puts the folder in exchangelib's root cache, whose first use walks the whole
        mailbox (GetFolder of every distinguished folder, FindFolder Deep on the root, GetFolder
        of every folder found) - system folders and Recoverable Items included."""
        request = Contacts(parent=parent, name=name)
        new = CreateFolder(account=self.account).get(parent_folder=parent, folders=[request])
        return Contacts(parent=parent, name=name, _id=FolderId(id=new.id, changekey=new.changekey))

    def index(self, linked_ids: Callable[[list[str]], set[str]]) -> MailboxIndex:
        """Built on first use; later calls share it (claims persist across batches)."""
        with self._lock:
            if self._index is None:
                collection = FolderCollection(account=self.account, folders=self.folder_objects())
                items = collection.all().only(*INDEX_FIELDS)
                self._index = MailboxIndex.from_items(items, linked_ids, self.default_region)
                log.info(
                    "matching index: %d contacts, %d unlinked, %d carrying a Sell link",
                    self._index.size,
                    len(self._index.matches),
                    len(self._index.by_link),
                )
            return self._index
