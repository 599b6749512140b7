"""The mailbox as both Exchange plugins use it, whatever the protocol (EWS or Microsoft Graph).

One small interface so a tap, a target and the sync engine's destination adapter are written once
(SPEC §1, S13). ``ews.EwsMailbox`` implements it over exchangelib, ``graph.GraphMailbox`` over
Microsoft Graph (requests + msal); ``connect.open_mailbox`` picks one by setting ``protocol``:

| concept | EWS | Graph |
|---|---|---|
| private folders (S1.1) | GetFolder contacts + FindFolder | contactFolders + childFolders |
| incremental read, resumable ``sync_state`` | SyncFolderItems state | delta link per folder |
| master categories | user configuration ``CategoryList`` | ``outlook/masterCategories`` |
| batched writes, one ``Outcome`` each | CreateItem / UpdateItem (100) | JSON ``$batch`` (20) |
| the link property (``SELL_LINK``) | extended property | ``singleValueExtendedProperties`` |

Items on the write side (``Item``) are the implementation's own objects (an exchangelib
``Contact`` over EWS, a ``graph.contact_json.GraphContact`` over Graph): callers make, change and
read them only through the item methods (``new_item``, ``apply_fields``, ``item_record``, the
categories and link getters and setters), so a caller never imports either protocol's client.
Records read are plain ``contacts`` records (``ews.records`` schema), the same over both. No sync
rules live here: what to write, and what an outcome means for the ledger, is the caller's.

Item ids are namespaced by protocol (``id_protocol``): EWS ids are as EWS gives them, Graph ids
carry ``graph:`` before the id Graph gives. One item has another id over each protocol and
neither can be translated app-only (SPEC S13.2), so an id the sync keeps (ledger links, Sell's
Exchange-id field) says which protocol it came from, and a caller that switched protocol knows
an old id as another protocol's, never as a deleted item (its link is re-found through
``SELL_LINK``). A mailbox's ``fetch`` answers an id of the other protocol with
``ForeignIdError``, not with its not-found.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

GRAPH_ID_PREFIX = "graph:"
"""Before every Graph item id the mailbox hands out (':' is in no EWS id: base64)."""


def id_protocol(item_id: str) -> str:
    """``"graph"`` or ``"ews"``: the protocol whose namespace ``item_id`` is in."""
    return "graph" if item_id.startswith(GRAPH_ID_PREFIX) else "ews"


class FolderRefusedError(Exception):
    """Exchange refused to create a contacts folder (a name taken, no right, …)."""


class ForeignIdError(LookupError):
    """An item id of the other protocol: not deleted, only not addressable over this one."""

    def __init__(self, item_id: str, protocol: str) -> None:
        super().__init__(f"item id of protocol {id_protocol(item_id)!r}, not {protocol!r}")
        self.item_id = item_id


OutcomeKind = Literal["ok", "not_found", "conflict", "rejected", "uncertain", "busy"]
"""What happened to one item of a batched write (see ``ews.writer`` for each kind's meaning)."""

Item = Any
"""An item as the implementation holds it (exchangelib ``Contact``; Graph ``GraphContact``)."""


@dataclass(frozen=True)
class Outcome:
    """The outcome of one item of a batch: a write never fails or succeeds as a whole."""

    kind: OutcomeKind
    item_id: str | None = None
    change_key: str | None = None
    reason: str | None = None
    back_off: float | None = None  # seconds, for ``busy``


@dataclass(frozen=True)
class ContactFolder:
    """One private contact folder in scope; ``folder`` is the implementation's own handle."""

    id: str
    name: str
    path: str
    parent_id: str | None
    total_count: int | None
    folder: Any = field(repr=False, compare=False)

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "parent_id": self.parent_id,
            "display_name": self.name,
            "total_count": self.total_count,
        }


@dataclass(frozen=True)
class Category:
    """One master-list category as the sync needs it (name, Outlook colour index, GUID)."""

    name: str
    color: int | None
    guid: str | None


@dataclass(frozen=True)
class LinkProperty:
    """A MAPI named property: the same property over EWS and Graph (S13.2)."""

    property_set_id: str
    name: str
    type: str


SELL_LINK = LinkProperty(
    property_set_id="6f1c6b38-2f4e-4c55-9a53-5d9b3e0a7c21", name="SellLink", type="String"
)
"""Holds a contact's Sell link ("contact:123", "lead:45"); a private property set of our own."""


@dataclass(frozen=True)
class ContactScope:
    """Which contacts a read fetches in full: those carrying any of ``categories`` (matched
    case-insensitively, as Outlook does) and, with ``linked``, those whose link property is set.
    The caller states the rule (S1.2); the mailbox only applies it as a server-side restriction."""

    categories: tuple[str, ...]
    linked: bool = True


@dataclass
class FolderSyncStats:
    """Counts of one folder read, for logs and tests."""

    created_or_updated: int = 0
    deleted: int = 0
    fetched: int = 0
    distribution_lists: int = 0
    other_items: int = 0
    older_than_start: int = 0
    out_of_scope: int = 0  # changed but outside the read's scope, so never fetched
    restarted: bool = False


class FolderChanges(Protocol):
    """One folder's changes since ``sync_state`` (None: everything); read ``sync_state`` again
    once ``records()`` is exhausted, and keep it for the next run."""

    sync_state: str | None
    stats: FolderSyncStats

    def records(
        self, *, modified_since: datetime | None = None, now: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Contact records and deletion records (deleted at ``now``), skipping items last
        modified before ``modified_since``; ``sync_state`` is the new one once exhausted."""
        ...


class MasterCategoryList(Protocol):
    """An editable master category list; unknown entries and attributes survive a save."""

    def categories(self) -> list[Category]: ...

    def names(self) -> list[str]: ...

    def add(self, name: str, *, color: int = ..., guid: str | None = ...) -> Any: ...

    def rename(self, guid: str, new_name: str) -> str | None: ...

    def set_color(self, name: str, color: int) -> bool: ...

    def remove(self, guid: str) -> bool:
        """Drop the category with ``guid``; False when there is none."""
        ...

    def set_guid(self, name: str, guid: str) -> bool:
        """Give category ``name`` this GUID; False when unchanged or the protocol cannot (Graph
        assigns category ids itself)."""
        ...


@runtime_checkable
class Mailbox(Protocol):
    """One user's own mailbox (never another's, never public folders: S1.1, S11)."""

    protocol: str
    """``"ews"`` or ``"graph"``: callers key what they keep (sync states) by it (S13.2)."""

    def check(self, *, write: bool = False) -> None:
        """Prove the settings work before any record is read or written (S10.3): connect and,
        where the protocol tells, hold the permissions the run needs (``write``: to change
        contacts and the master category list). Raises ``ExchangeSetupError``."""
        ...

    def private_folders(self, *, known: Collection[str] = ()) -> list[ContactFolder]:
        """Contacts first, then the user-created folders below it, parents before children.
        ``known``: folder ids the caller saw last time, a hint that may save requests."""
        ...

    def folder_changes(
        self, folder: ContactFolder, sync_state: str | None, *, scope: ContactScope | None = None
    ) -> FolderChanges:
        """An incremental read of one folder, resumable from ``sync_state``. With ``scope``, a
        full read (no state) fetches only the items in scope; changes are read in full."""
        ...

    def carried_categories(
        self, folders: Sequence[ContactFolder], names: Sequence[str]
    ) -> list[str]:
        """Of ``names``, those at least one item of ``folders`` carries (not read in full)."""
        ...

    def master_categories(self) -> list[Category]:
        """The master category list as read (empty when the mailbox never stored one)."""
        ...

    def load_master_categories(self) -> MasterCategoryList | None:
        """The list for editing; None when the mailbox has none yet."""
        ...

    def new_master_categories(self) -> MasterCategoryList:
        """An empty list to fill when ``load_master_categories`` found none."""
        ...

    def save_master_categories(self, categories: MasterCategoryList, *, exists: bool) -> None:
        """Store an edited list (``exists``: it was loaded, not made new)."""
        ...

    def create_folder(self, parent: ContactFolder, name: str) -> ContactFolder:
        """A new contacts folder below ``parent`` (a private folder), returned as listed."""
        ...

    def matching_records(self, folders: Sequence[ContactFolder]) -> Iterator[dict[str, Any]]:
        """Every contact of ``folders`` as the part of a ``contacts`` record matching reads (id,
        names, company, file-as, e-mails, phones, categories, last modified, sell_link); read
        a page at a time, never the whole mailbox at once."""
        ...

    def find_by_categories(
        self, folders: Sequence[ContactFolder], names: Sequence[str]
    ) -> list[Item]:
        """Items of ``folders`` carrying any of ``names`` (case-insensitive), with their
        categories, ready for ``set_item_categories`` and ``update``."""
        ...

    # -- items: made, changed and read only through these ----------------------------------
    def new_item(self, folder: Any = None) -> Item:
        """A new contact for ``create`` in ``folder`` (a ``ContactFolder.folder``)."""
        ...

    def apply_fields(self, item: Item, fields: Mapping[str, Any]) -> list[str]:
        """Set ``fields`` (as ``contact_mapping.exchange_map.to_exchange_fields`` names them:
        exchangelib attribute names, indexed properties by EWS label; labels not named keep
        their values, S5.4) on ``item``; returns the field names for ``update``."""
        ...

    def item_record(self, item: Item) -> dict[str, Any]:
        """The item as a ``contacts`` record (id, change_key, folder_id, fields, sell_link)."""
        ...

    def item_categories(self, item: Item) -> list[str]: ...

    def set_item_categories(self, item: Item, names: Sequence[str]) -> str:
        """Returns the field name for ``update``."""
        ...

    def item_link(self, item: Item) -> str | None:
        """The Sell link (``SELL_LINK``) the item carries."""
        ...

    def set_item_link(self, item: Item, value: str | None) -> str:
        """Returns the field name for ``update``."""
        ...

    def fetch(self, item_ids: Sequence[str]) -> dict[str, Item | Exception]:
        """Current items by id, batched; a gone item maps to the implementation's not-found,
        an id of the other protocol (``id_protocol``) to ``ForeignIdError``."""
        ...

    def find_by_links(self, folders: Sequence[Any], links: Sequence[str]) -> dict[str, list[Item]]:
        """Items whose link property holds each value (crash recovery of creates, S7.2)."""
        ...

    def create(
        self, folder: Any, items: Sequence[tuple[Hashable, Item]]
    ) -> dict[Hashable, Outcome]:
        """Batched creates in ``folder``; one outcome per key."""
        ...

    def update(
        self, items: Sequence[tuple[Hashable, Item, Sequence[str]]]
    ) -> dict[Hashable, Outcome]:
        """Batched updates of the named fields, guarded by each item's version; one outcome
        per key."""
        ...

    def delete_copies(self, items: Sequence[Item]) -> None:
        """Remove extra copies the sync itself created (found through the link property)."""
        ...

    def close(self) -> None:
        """Release connections; the mailbox may not be used afterwards."""
        ...
