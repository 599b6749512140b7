"""``EwsMailbox``: the ``interface.Mailbox`` over EWS, composed of this package's EWS modules.

It connects on first use (one probe ``GetFolder root``), lists the private folders once per
instance, and hands batched reads and writes to ``contact_reader`` and ``writer`` unchanged.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterator, Mapping, Sequence
from typing import Any

from exchangelib import Account, Contact
from exchangelib.folders import FolderCollection

from ..interface import Category, ContactFolder, ContactScope, Item, MasterCategoryList, Outcome
from ..settings import ExchangeSettings
from . import connection, contact_fields, contact_search, link_property, master_categories, records
from .category_list import CategoryList
from .contact_reader import FolderSync
from .folders import create_contact_folder, private_contact_folders
from .writer import EwsWriter


class EwsMailbox:
    """One user's own mailbox over EWS (exchangelib, DELEGATE access)."""

    protocol = "ews"

    def __init__(self, settings: ExchangeSettings | Mapping[str, Any]) -> None:
        self.settings = (
            settings
            if isinstance(settings, ExchangeSettings)
            else ExchangeSettings.from_config(settings)
        )
        self._account: Account | None = None
        self._writer: EwsWriter | None = None
        self._folders: list[ContactFolder] | None = None

    @property
    def account(self) -> Account:
        """The connected account; the first use connects and probes (S10.3 errors)."""
        if self._account is None:
            self._account = connection.connect(self.settings)
        return self._account

    @property
    def writer(self) -> EwsWriter:
        if self._writer is None:
            self._writer = EwsWriter(self.account)
        return self._writer

    def check(self, *, write: bool = False) -> None:
        """Connect and probe (``GetFolder root``); EWS tells permissions only when refused."""
        _ = self.account

    # -- folders and reads -------------------------------------------------------------------
    def private_folders(self, *, known: Collection[str] = ()) -> list[ContactFolder]:
        if self._folders is None:
            self._folders = private_contact_folders(self.account)
        return self._folders

    def folder_changes(
        self, folder: ContactFolder, sync_state: str | None, *, scope: ContactScope | None = None
    ) -> FolderSync:
        return FolderSync(self.account, folder, sync_state, scope=scope)

    def carried_categories(
        self, folders: Sequence[ContactFolder], names: Sequence[str]
    ) -> list[str]:
        return contact_search.carried_categories(self.account, folders, names)

    # -- master categories -------------------------------------------------------------------
    def master_categories(self) -> list[Category]:
        category_list = self.load_master_categories()
        return category_list.categories() if category_list is not None else []

    def load_master_categories(self) -> CategoryList | None:
        return master_categories.load(self.account)

    def new_master_categories(self) -> CategoryList:
        return CategoryList.empty()

    def save_master_categories(self, categories: MasterCategoryList, *, exists: bool) -> None:
        if not isinstance(categories, CategoryList):
            msg = f"EWS saves the list it loaded or made, not a {type(categories).__name__}"
            raise TypeError(msg)
        master_categories.save(self.account, categories, exists=exists)

    def create_folder(self, parent: ContactFolder, name: str) -> ContactFolder:
        folder = create_contact_folder(self.account, parent, name)
        if self._folders is not None:
            self._folders.append(folder)
        return folder

    def matching_records(self, folders: Sequence[ContactFolder]) -> Iterator[dict[str, Any]]:
        """One FindItem per 1,000 contacts, only the matching fields; lists are skipped."""
        collection = FolderCollection(account=self.account, folders=[f.folder for f in folders])
        for item in collection.all().only(*records.MATCHING_FIELDS):
            if isinstance(item, Contact):
                yield records.matching_record(item)

    def find_by_categories(
        self, folders: Sequence[ContactFolder], names: Sequence[str]
    ) -> list[Contact]:
        """One restricted FindItem (``item:Categories`` matches when any value does)."""
        if not folders or not names:
            return []
        collection = FolderCollection(account=self.account, folders=[f.folder for f in folders])
        query = collection.filter(categories__contains=list(names)).only(
            "categories", "display_name"
        )
        return [item for item in query if isinstance(item, Contact)]

    # -- items -------------------------------------------------------------------------------
    def new_item(self, folder: Any = None) -> Contact:
        return Contact(account=self.account, folder=folder)

    def apply_fields(self, item: Contact, fields: Mapping[str, Any]) -> list[str]:
        return contact_fields.apply_fields(item, fields)

    def item_record(self, item: Contact) -> dict[str, Any]:
        folder = getattr(item, "parent_folder_id", None)
        folder_id = folder.id if folder is not None else ""
        return records.contact_to_record(item, folder_id=folder_id, folder_path="")

    def item_categories(self, item: Contact) -> list[str]:
        return list(item.categories or ())

    def set_item_categories(self, item: Contact, names: Sequence[str]) -> str:
        item.categories = list(names) or None
        return "categories"

    def item_link(self, item: Contact) -> str | None:
        return getattr(item, link_property.FIELD_NAME, None)

    def set_item_link(self, item: Contact, value: str | None) -> str:
        setattr(item, link_property.FIELD_NAME, value)
        return link_property.FIELD_NAME

    # -- batched item reads and writes -------------------------------------------------------
    def fetch(self, item_ids: Sequence[str]) -> dict[str, Item | Exception]:
        return self.writer.fetch(item_ids)

    def find_by_links(self, folders: Sequence[Any], links: Sequence[str]) -> dict[str, list[Item]]:
        return self.writer.find_by_links(folders, links)

    def create(
        self, folder: Any, items: Sequence[tuple[Hashable, Item]]
    ) -> dict[Hashable, Outcome]:
        return self.writer.create(folder, items)

    def update(
        self, items: Sequence[tuple[Hashable, Item, Sequence[str]]]
    ) -> dict[Hashable, Outcome]:
        return self.writer.update(items)

    def delete_copies(self, items: Sequence[Item]) -> None:
        self.writer.delete_copies(items)

    def close(self) -> None:
        connection.disconnect(self._account)
        self._account = None
        self._writer = None
        self._folders = None
