"""The tap's streams: contacts (incremental per folder), contact_folders and categories."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from exchange_mailbox.ews.records import contact_schema, is_deletion
from exchange_mailbox.interface import ContactScope
from singer_sdk import Stream
from singer_sdk import typing as th

from .mailbox import Mailbox, in_scope

if TYPE_CHECKING:
    from .tap import TapExchangeContacts

STATE_KEY = "folders"
"""Stream-state key: ``{folder_id: {"sync_state": …, "path": "Contacts/…", "protocol": …}}``.

The sync state is EWS's SyncFolderItems state or Graph's delta link, so each folder's entry says
which protocol made it; an entry of the other protocol (a tenant switched, S13.2; entries from
before this key are EWS's) is dropped and that folder read in full."""


def folder_states_of(state: dict[str, Any], protocol: str) -> dict[str, dict[str, Any]]:
    """The stream state's folder entries made by ``protocol``; others are removed."""
    folders: dict[str, dict[str, Any]] = state.setdefault(STATE_KEY, {})
    for folder_id, entry in list(folders.items()):
        if (entry or {}).get("protocol", "ews") != protocol:
            del folders[folder_id]
    return folders


class ExchangeStream(Stream):
    @property
    def mailbox(self) -> Mailbox:
        tap: TapExchangeContacts = self._tap  # type: ignore[assignment]
        return tap.mailbox


class ContactsStream(ExchangeStream):
    """Contacts in scope (S1.1, S1.2), plus deletion records; bookmarks are the protocol's sync
    states (EWS SyncFolderItems states, Graph delta links)."""

    name = "contacts"
    primary_keys = ("id",)
    replication_key = None
    schema = contact_schema().to_dict()

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        mailbox = self.mailbox
        selected = mailbox.check_scope()
        scope = ContactScope(categories=tuple(selected), linked=True)  # S1.2
        folder_states = folder_states_of(self.stream_state, mailbox.protocol)
        start = self.config.get("start_date")
        start_date = dt.datetime.fromisoformat(start) if start else None
        if start_date is not None and start_date.tzinfo is None:
            start_date = start_date.replace(tzinfo=dt.UTC)
        now = dt.datetime.now(dt.UTC)
        current = set()
        for folder in mailbox.folders:
            current.add(folder.id)
            previous = (folder_states.get(folder.id) or {}).get("sync_state")
            sync = mailbox.box.folder_changes(folder, previous, scope=scope)
            emitted = out_of_scope = 0
            for record in sync.records(modified_since=None if previous else start_date, now=now):
                if is_deletion(record) or in_scope(record, selected):
                    emitted += 1
                    yield record
                else:
                    out_of_scope += 1
            # Only after the folder's last record: a STATE never runs ahead of unsent records.
            folder_states[folder.id] = {
                "sync_state": sync.sync_state,
                "path": folder.path,
                "protocol": mailbox.protocol,
            }
            self.logger.info(
                "%s: %d changed, %d deleted, %d emitted, %d outside the selected categories "
                "(%d of them never fetched), %d distribution lists skipped%s",
                folder.path,
                sync.stats.created_or_updated,
                sync.stats.deleted,
                emitted,
                out_of_scope + sync.stats.out_of_scope,
                sync.stats.out_of_scope,
                sync.stats.distribution_lists,
                " (full re-read: sync state dropped by the server)" if sync.stats.restarted else "",
            )
        for gone in set(folder_states) - current:
            # The folder was deleted or left the scope; a later re-appearance starts afresh.
            del folder_states[gone]


class ContactFoldersStream(ExchangeStream):
    """The private contact folders the contacts stream reads."""

    name = "contact_folders"
    primary_keys = ("id",)
    schema = th.PropertiesList(
        th.Property("id", th.StringType, required=True),
        th.Property("path", th.StringType, description='e.g. "Contacts/Clients"'),
        th.Property("parent_id", th.StringType),
        th.Property("display_name", th.StringType),
        th.Property("total_count", th.IntegerType),
    ).to_dict()

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        for folder in self.mailbox.folders:
            yield folder.to_record()


class CategoriesStream(ExchangeStream):
    """The master category list (name, Outlook colour index, GUID)."""

    name = "categories"
    primary_keys = ("name",)
    schema = th.PropertiesList(
        th.Property("name", th.StringType, required=True),
        th.Property("color", th.IntegerType, description="Outlook preset index; -1 = none"),
        th.Property("guid", th.StringType),
    ).to_dict()

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        for category in self.mailbox.categories:
            yield {"name": category.name, "color": category.color, "guid": category.guid}
