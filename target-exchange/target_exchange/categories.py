"""The seven Sell categories in the mailbox's master category list (SPEC S3).

``ensure_sell_categories`` edits a parsed list in place: each Sell category present with its
fixed colour and stable GUID; every other category, attribute and element untouched. A category
carrying one of our GUIDs under another name was renamed by the user (S3.2): the name is
restored and the old name is returned, so the caller can re-tag the contacts carrying it.
``sync_master_list`` is one read when nothing changed, plus one write when something did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from contact_mapping.categories import (
    CATEGORY_COLOURS,
    SELL_CATEGORIES,
    category_guid_text,
)
from exchange_mailbox.ews import master_categories
from exchange_mailbox.ews.category_list import CategoryList

log = logging.getLogger(__name__)


@dataclass
class MasterListChange:
    """What ``ensure_sell_categories`` did; ``renamed`` maps the user's name → our name."""

    added: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    recoloured: list[str] = field(default_factory=list)
    reguided: list[str] = field(default_factory=list)
    created_list: bool = False

    @property
    def changed(self) -> bool:
        return bool(
            self.added or self.renamed or self.recoloured or self.reguided or self.created_list
        )


def ensure_sell_categories(category_list: CategoryList) -> MasterListChange:
    """Make the list hold the seven Sell categories as fixed; returns what changed."""
    change = MasterListChange()
    for name in SELL_CATEGORIES:
        guid = category_guid_text(name)
        by_guid = category_list.find_guid(guid)
        if by_guid is not None:
            current = by_guid.get("name") or ""
            if current != name:
                clash = category_list.find(name)
                if clash is not None and clash is not by_guid:
                    # The user renamed ours AND created one with our name: keep theirs, free
                    # our GUID entry's name by dropping it (its items are re-tagged below).
                    category_list.root.remove(by_guid)
                    _adopt(category_list, clash, name, guid, change)
                else:
                    category_list.rename(guid, name)
                if current:
                    change.renamed[current] = name
            element = category_list.find(name)
        else:
            element = category_list.find(name)
            if element is None:
                category_list.add(name, color=CATEGORY_COLOURS[name], guid=guid)
                change.added.append(name)
                continue
            _adopt(category_list, element, name, guid, change)
        if element is not None and category_list.set_color(name, CATEGORY_COLOURS[name]):
            change.recoloured.append(name)
    return change


def _adopt(category_list: CategoryList, element, name: str, guid: str, change: MasterListChange):
    """A category with our name but another GUID (made by hand): give it our stable GUID."""
    if (element.get("guid") or "").casefold() != guid.casefold():
        element.set("guid", guid)
        category_list.touch()
        change.reguided.append(name)


def sync_master_list(account, *, dry_run: bool = False) -> MasterListChange:
    """Load the mailbox's list (one GetUserConfiguration), fix it, save only when changed
    (with ``dry_run`` only say what would change: S14)."""
    existing = master_categories.load(account)
    category_list = existing if existing is not None else CategoryList.empty()
    change = ensure_sell_categories(category_list)
    change.created_list = existing is None
    if change.changed and dry_run:
        log.info(
            "dry run: the master category list would get %s, names restored %s, recoloured %s",
            change.added,
            change.renamed,
            change.recoloured,
        )
    elif change.changed:
        master_categories.save(account, category_list, exists=existing is not None)
        log.info(
            "master category list updated: added %s, renamed back %s, recoloured %s",
            change.added,
            change.renamed,
            change.recoloured,
        )
    return change
