"""What target-exchange needs to know about the mailbox, each piece read lazily once per run.

Over either protocol (the mailbox is ``exchange_mailbox``'s EWS or Graph implementation):

- ``folders``: the owner's private contact folders (S1.1; Contacts and its user subfolders, never
  system or public folders), only when matching, adopting or creating needs them.
- ``destination``: the folder new contacts go to (Contacts, or setting ``folder``, created as a
  contacts subfolder when missing — the user named it, so the sync makes it exist).
- ``index``: the matching index (S4) over the unlinked private contacts, built from the mailbox's
  ``matching_records`` (only the fields matching uses, a page at a time), and the Sell-link values
  already on items (so an item the sync created is recognised even when the ledger does not know
  it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from contact_mapping.exchange_map import from_exchange
from contact_mapping.matching import Candidate, MatchIndex
from exchange_mailbox.errors import ExchangeSetupError
from exchange_mailbox.interface import ContactFolder, FolderRefusedError
from exchange_mailbox.interface import Mailbox as ProtocolMailbox

log = logging.getLogger(__name__)

#: Contacts turned into index entries (and looked up in the ledger) at a time.
INDEX_BATCH = 1000


@dataclass
class MailboxIndex:
    matches: MatchIndex
    by_link: dict[str, list[str]] = field(default_factory=dict)
    size: int = 0

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, Any]],
        linked_ids: Callable[[list[str]], set[str]],
        default_region: str,
    ) -> MailboxIndex:
        """``linked_ids(ids)`` names the items the ledger links (active or retired): never
        offered for matching. Records are taken a batch at a time, so only the index itself
        stays in memory, never the whole mailbox."""
        index = cls(MatchIndex())
        source = iter(records)
        while batch := list(islice(source, INDEX_BATCH)):
            linked = linked_ids([str(r["id"]) for r in batch])
            for record in batch:
                index.size += 1
                if record.get("sell_link"):
                    index.by_link.setdefault(record["sell_link"], []).append(record["id"])
                    continue
                if record["id"] in linked:
                    continue
                index.matches.add(
                    Candidate(
                        id=record["id"],
                        canonical=from_exchange(record, default_region),
                        updated=record.get("last_modified_time"),
                    )
                )
        return index


class Mailbox:
    """Lazy, cached views of the mailbox for one run (thread-safe)."""

    def __init__(
        self, box: ProtocolMailbox, folder_path: tuple[str, ...] = (), default_region: str = "US"
    ) -> None:
        self.box = box
        self.folder_path = folder_path
        self.default_region = default_region
        self._lock = threading.RLock()
        self._folders: list[ContactFolder] | None = None
        self._destination: Any = None
        self._index: MailboxIndex | None = None

    def folders(self) -> list[ContactFolder]:
        with self._lock:
            if self._folders is None:
                self._folders = list(self.box.private_folders())
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
                        found = self.box.create_folder(current, name)
                    except FolderRefusedError as exc:
                        msg = (
                            f"Setting 'folder': contacts folder {wanted!r} does not exist and "
                            f"Exchange refused to create it ({exc}); create it in Outlook or "
                            "change the setting."
                        )
                        raise ExchangeSetupError(msg, setting="folder") from exc
                    log.info("created contacts folder %s", wanted)
                    if found not in folders:
                        folders.append(found)
                current = found
            self._destination = current.folder
            return self._destination

    def index(self, linked_ids: Callable[[list[str]], set[str]]) -> MailboxIndex:
        """Built on first use; later calls share it (claims persist across batches)."""
        with self._lock:
            if self._index is None:
                records = self.box.matching_records(self.folders())
                self._index = MailboxIndex.from_records(records, linked_ids, self.default_region)
                log.info(
                    "matching index: %d contacts, %d unlinked, %d carrying a Sell link",
                    self._index.size,
                    len(self._index.matches),
                    len(self._index.by_link),
                )
            return self._index
