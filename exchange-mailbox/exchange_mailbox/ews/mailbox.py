"""``EwsMailbox``: the ``interface.Mailbox`` over EWS, composed of this package's EWS modules.

It connects on first use (one probe ``GetFolder root``), lists the private folders once per
instance, and hands batched reads and writes to ``contact_reader`` and ``writer`` unchanged.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from exchangelib import Account

from ..interface import Category, ContactFolder, ContactScope, Item, Outcome
from ..settings import ExchangeSettings
from . import connection, contact_search, master_categories
from .category_list import CategoryList
from .contact_reader import FolderSync
from .folders import private_contact_folders
from .writer import EwsWriter


class EwsMailbox:
    """One user's own mailbox over EWS (exchangelib, DELEGATE access)."""

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

    # -- folders and reads -------------------------------------------------------------------
    def private_folders(self) -> list[ContactFolder]:
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

    def save_master_categories(self, categories: CategoryList, *, exists: bool) -> None:
        master_categories.save(self.account, categories, exists=exists)

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
