"""What one tap run knows about the mailbox, fetched once and checked before any record.

Connection (``GetFolder root``), the folders in scope (``GetFolder contacts`` + ``FindFolder``)
and the master category list (``GetUserConfiguration``) are the run's fixed set-up cost; the
category check (S1.2) runs here so a bad selection stops the run before anything is emitted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from exchange_mailbox import ExchangeScopeError
from exchange_mailbox.ews import EwsMailbox, connection
from exchange_mailbox.interface import Category, ContactFolder
from exchange_mailbox.settings import ExchangeSettings
from exchangelib import Account
from exchangelib.errors import EWSError

log = logging.getLogger(__name__)


class Mailbox:
    """The connected mailbox of one run; everything is fetched lazily and at most once."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.settings = ExchangeSettings.from_config(config)
        self.selected_categories: list[str] = [
            str(c).strip() for c in (config.get("categories") or []) if str(c).strip()
        ]
        self.ews = EwsMailbox(self.settings)

    @property
    def account(self) -> Account:
        return self.ews.account

    @cached_property
    def folders(self) -> list[ContactFolder]:
        return self._checked("listing the contact folders", self.ews.private_folders)

    @cached_property
    def categories(self) -> list[Category]:
        return self._checked("reading the master category list", self.ews.master_categories)

    def _checked(self, what: str, call: Any) -> Any:
        _ = self.account  # connection errors are explained by connect() itself
        try:
            return call()
        except EWSError as exc:
            err = connection.explain(exc, self.settings, "service_endpoint")
            log.error("Failed %s: %s", what, err)
            raise err from None

    def check_scope(self) -> list[str]:
        """S1.2: every selected category must exist; returns them spelled as in the mailbox."""
        if not self.selected_categories:
            msg = (
                "Setting 'categories': list the Exchange categories whose contacts are synced "
                "(contacts already linked to Sell are synced as well)."
            )
            raise ExchangeScopeError(msg, setting="categories")
        existing = {c.name.casefold(): c.name for c in self.categories}
        if not existing:
            msg = (
                f"The mailbox {self.settings.primary_smtp_address} has no categories in its master "
                "category list; create the categories in Outlook first (setting 'categories')."
            )
            raise ExchangeScopeError(msg, setting="categories")
        missing = [c for c in self.selected_categories if c.casefold() not in existing]
        if missing:
            names = ", ".join(f"'{c}'" for c in missing)
            noun = "category does" if len(missing) == 1 else "categories do"
            msg = (
                f"Setting 'categories': the {noun} not exist in the mailbox: {names}. "
                f"Existing: {', '.join(sorted(existing.values(), key=str.casefold))}."
            )
            raise ExchangeScopeError(msg, setting="categories")
        return [existing[c.casefold()] for c in self.selected_categories]

    def close(self) -> None:
        self.ews.close()


def in_scope(record: Mapping[str, Any], selected: Sequence[str]) -> bool:
    """S1.2: carries a selected category (case-insensitive, as in Outlook) or is linked to Sell."""
    if record.get("sell_link"):
        return True
    wanted = {c.casefold() for c in selected}
    return any(c.casefold() in wanted for c in record.get("categories") or ())
