"""tap-exchange-contacts: the mailbox owner's private Exchange contacts, as Singer records."""

from __future__ import annotations

from functools import cached_property

from exchange_mailbox.settings import connection_settings
from singer_sdk import Stream, Tap
from singer_sdk import typing as th

from .mailbox import Mailbox
from .streams import STATE_KEY, CategoriesStream, ContactFoldersStream, ContactsStream


class TapExchangeContacts(Tap):
    """Contacts of the private folders (S1), the folders themselves and the category list."""

    name = "tap-exchange-contacts"
    config_jsonschema = th.PropertiesList(
        *connection_settings(),
        th.Property(
            "categories",
            th.ArrayType(th.StringType),
            description="Exchange categories whose contacts are synced (contacts linked to Sell "
            "are always synced). Required for the contacts stream.",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="On the first run, ignore contacts last modified before this date.",
        ),
    ).to_dict()

    @cached_property
    def mailbox(self) -> Mailbox:
        mailbox = Mailbox(self.config)
        # The folders the last run of this protocol read: Graph lists them in one request.
        bookmarks = (self.state.get("bookmarks") or {}).get("contacts") or {}
        mailbox.known_folders = tuple(
            folder_id
            for folder_id, entry in (bookmarks.get(STATE_KEY) or {}).items()
            if (entry or {}).get("protocol", "ews") == mailbox.protocol
        )
        return mailbox

    def discover_streams(self) -> list[Stream]:
        return [ContactsStream(self), ContactFoldersStream(self), CategoriesStream(self)]

    def sync_all(self) -> None:
        """Connect and check the scope before the first record of any stream."""
        try:
            contacts = self.streams.get("contacts")
            if contacts is not None and contacts.selected:
                self.mailbox.check_scope()
            else:
                self.mailbox.connect()
            super().sync_all()
        finally:
            if "mailbox" in self.__dict__:
                self.mailbox.close()
