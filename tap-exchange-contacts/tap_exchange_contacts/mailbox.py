"""What one tap run knows about the mailbox, fetched once and checked before any record.

The mailbox is EWS or Microsoft Graph by setting ``protocol`` (``exchange_mailbox.connect``).
Connection (EWS: ``GetFolder root``; Graph: a token), the folders in scope (EWS: ``GetFolder
contacts`` + ``FindFolder``; Graph: one ``$batch`` when the folders of the last run are known)
and the master category list are the run's fixed set-up cost; the category check (S1.2) runs
here so a bad selection stops the run before anything is emitted.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from functools import cached_property
from typing import Any

from exchange_mailbox import ExchangeScopeError
from exchange_mailbox.connect import open_mailbox
from exchange_mailbox.interface import Category, ContactFolder
from exchange_mailbox.interface import Mailbox as ProtocolMailbox
from exchange_mailbox.settings import ExchangeSettings

log = logging.getLogger(__name__)


class Mailbox:
    """The connected mailbox of one run; everything is fetched lazily and at most once."""

    def __init__(self, config: Mapping[str, Any], *, known_folders: Collection[str] = ()) -> None:
        self.settings = ExchangeSettings.from_config(config)
        self.selected_categories: list[str] = [
            str(c).strip() for c in (config.get("categories") or []) if str(c).strip()
        ]
        self.box: ProtocolMailbox = open_mailbox(self.settings)
        self.known_folders = tuple(known_folders)  # of the last run, same protocol: a hint
        self._scope: list[str] | None = None
        self._connected = False

    @property
    def protocol(self) -> str:
        return self.box.protocol

    def connect(self) -> None:
        """Connect and check access once (S10.3: errors name the setting at fault)."""
        if not self._connected:
            self.box.check(write=False)
            self._connected = True

    @cached_property
    def folders(self) -> list[ContactFolder]:
        return self._checked(
            "listing the contact folders",
            lambda: self.box.private_folders(known=self.known_folders),
        )

    @cached_property
    def categories(self) -> list[Category]:
        return self._checked("reading the master category list", self.box.master_categories)

    def _checked(self, what: str, call: Any) -> Any:
        self.connect()  # connection errors are explained by the mailbox itself
        try:
            return call()
        except Exception as exc:
            err = self._explained(exc)
            if err is None:
                raise
            log.error("Failed %s: %s", what, err)
            raise err from None

    def _explained(self, exc: Exception) -> Exception | None:
        """EWS answers (``EWSError``) about the mailbox as S10.3 errors; Graph's come explained."""
        if self.protocol != "ews":
            return None
        from exchange_mailbox.ews import connection  # noqa: PLC0415 - EWS only
        from exchangelib.errors import EWSError  # noqa: PLC0415

        if not isinstance(exc, EWSError):
            return None
        return connection.explain(exc, self.settings, "service_endpoint")

    def check_scope(self) -> list[str]:
        """S1.2: each selected category must be in the master list or on at least one contact of
        the private folders; returns them spelled as in the master list (else as selected).

        Only the names missing from the master list cost a request each (``carried_categories``:
        a restricted FindItem, no contact read); the answer is kept for the run.
        """
        if self._scope is not None:
            return self._scope
        if not self.selected_categories:
            msg = (
                "Setting 'categories': list the Exchange categories whose contacts are synced "
                "(contacts already linked to Sell are synced as well)."
            )
            raise ExchangeScopeError(msg, setting="categories")
        listed = {c.name.casefold(): c.name for c in self.categories}
        missing = list(
            {
                c.casefold(): c for c in self.selected_categories if c.casefold() not in listed
            }.values()
        )
        carried: dict[str, str] = {}
        if missing:
            found = self._checked(
                "looking for the categories on contacts",
                lambda: self.box.carried_categories(self.folders, missing),
            )
            carried = {c.casefold(): c for c in found}
        unknown = [c for c in missing if c.casefold() not in carried]
        if unknown:
            names = ", ".join(f"'{c}'" for c in unknown)
            known = sorted({*listed.values(), *carried.values()}, key=str.casefold)
            if not known:
                msg = (
                    f"Setting 'categories': the mailbox {self.settings.primary_smtp_address} has "
                    "no categories: its master category list is empty and no contact of its "
                    f"private folders carries {names}; create the categories in Outlook first."
                )
            else:
                noun = "category is" if len(unknown) == 1 else "categories are"
                msg = (
                    f"Setting 'categories': the {noun} neither in the mailbox's master category "
                    f"list nor on any contact of its private folders: {names}. "
                    f"Existing: {', '.join(known)}."
                )
            raise ExchangeScopeError(msg, setting="categories")
        if carried:
            log.info(
                "Categories carried by contacts but missing from the master category list: %s",
                ", ".join(carried.values()),
            )
        self._scope = [
            listed.get(c.casefold()) or carried[c.casefold()] for c in self.selected_categories
        ]
        return self._scope

    def close(self) -> None:
        self.box.close()


def in_scope(record: Mapping[str, Any], selected: Sequence[str]) -> bool:
    """S1.2: carries a selected category (case-insensitive, as in Outlook) or is linked to Sell."""
    if record.get("sell_link"):
        return True
    wanted = {c.casefold() for c in selected}
    return any(c.casefold() in wanted for c in record.get("categories") or ())
