"""The seven Sell categories in the mailbox's master category list (SPEC S3).

``ensure_sell_categories`` edits a parsed list in place: each Sell category present with its
fixed colour and stable GUID; every other category, attribute and element untouched. A category
carrying one of our GUIDs under another name was renamed by the user (S3.2): the name is
restored and the old name is returned, so the caller can re-tag the contacts carrying it.
``sync_master_list`` is one read when nothing changed, plus one write when something did (over
Graph, one request per category changed). The list is the mailbox's, over either protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from contact_mapping.categories import (
    CATEGORY_COLOURS,
    SELL_CATEGORIES,
    category_guid_text,
)
from exchange_mailbox.interface import Category, MasterCategoryList
from exchange_mailbox.interface import Mailbox as ProtocolMailbox

log = logging.getLogger(__name__)


@dataclass
class MasterListChange:
    """What ``ensure_sell_categories`` did; ``renamed`` maps the user's name → our name."""

    added: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    recoloured: list[str] = field(default_factory=list)
    reguided: list[str] = field(default_factory=list)
    created_list: bool = False
    ids: dict[str, str] = field(default_factory=dict)  # each Sell category's id, afterwards

    @property
    def changed(self) -> bool:
        return bool(
            self.added or self.renamed or self.recoloured or self.reguided or self.created_list
        )


def _same_guid(a: str | None, b: str | None) -> bool:
    return bool(a and b) and a.strip("{}").casefold() == b.strip("{}").casefold()


def _by_guid(category_list: MasterCategoryList, guid: str) -> Category | None:
    return next((c for c in category_list.categories() if _same_guid(c.guid, guid)), None)


def _by_name(category_list: MasterCategoryList, name: str) -> Category | None:
    """Category names are case-insensitive in Outlook."""
    folded = name.casefold()
    return next((c for c in category_list.categories() if c.name.casefold() == folded), None)


def ensure_sell_categories(
    category_list: MasterCategoryList, known_ids: Mapping[str, str] | None = None
) -> MasterListChange:
    """Make the list hold the seven Sell categories as fixed; returns what changed.

    A Sell category is recognised by its stable GUID, or by ``known_ids`` (the id the mailbox
    gave it when it was created: over Graph the service assigns ids, so a category we created
    there does not carry the stable GUID). Over Graph, where a category keeps its name for life,
    ``rename`` deletes the renamed category and creates ours again with its colour (S3.2 over
    Graph), and a category made by hand keeps its id (``set_guid`` changes nothing there)."""
    change = MasterListChange()
    for name in SELL_CATEGORIES:
        guid = category_guid_text(name)
        ours = _by_guid(category_list, guid)
        remembered = (known_ids or {}).get(name)
        if ours is None and remembered and _by_guid(category_list, remembered) is not None:
            guid, ours = remembered, _by_guid(category_list, remembered)
        if ours is not None:
            if ours.name != name:
                clash = _by_name(category_list, name)
                if clash is not None and not _same_guid(clash.guid, guid):
                    # The user renamed ours AND created one with our name: keep theirs, free
                    # our GUID entry's name by dropping it (its items are re-tagged below).
                    category_list.remove(guid)
                    _adopt(category_list, name, guid, change)
                else:
                    category_list.rename(guid, name)
                if ours.name:
                    change.renamed[ours.name] = name
            present = _by_name(category_list, name)
        else:
            present = _by_name(category_list, name)
            if present is None:
                category_list.add(name, color=CATEGORY_COLOURS[name], guid=guid)
                change.added.append(name)
                continue
            _adopt(category_list, name, guid, change)
        if present is not None and category_list.set_color(name, CATEGORY_COLOURS[name]):
            change.recoloured.append(name)
    return change


def _adopt(
    category_list: MasterCategoryList, name: str, guid: str, change: MasterListChange
) -> None:
    """A category with our name but another GUID (made by hand): give it our stable GUID."""
    if category_list.set_guid(name, guid):
        change.reguided.append(name)


def sell_category_ids(category_list: MasterCategoryList) -> dict[str, str]:
    """The id each Sell category has in the list (after a save, the ids Graph gave)."""
    return {
        c.name: c.guid for c in category_list.categories() if c.name in SELL_CATEGORIES and c.guid
    }


def sync_master_list(
    box: ProtocolMailbox, *, dry_run: bool = False, known_ids: Mapping[str, str] | None = None
) -> MasterListChange:
    """Load the mailbox's list (one request), fix it, save only when changed (with
    ``dry_run`` only say what would change: S14). ``change.ids`` are the Sell categories' ids
    afterwards, for the caller to remember."""
    existing = box.load_master_categories()
    category_list = existing if existing is not None else box.new_master_categories()
    change = ensure_sell_categories(category_list, known_ids)
    change.created_list = existing is None
    if change.changed and dry_run:
        log.info(
            "dry run: the master category list would get %s, names restored %s, recoloured %s",
            change.added,
            change.renamed,
            change.recoloured,
        )
    elif change.changed:
        box.save_master_categories(category_list, exists=existing is not None)
        log.info(
            "master category list updated: added %s, renamed back %s, recoloured %s",
            change.added,
            change.renamed,
            change.recoloured,
        )
    change.ids = sell_category_ids(category_list)
    return change
