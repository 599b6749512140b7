"""Re-tag contacts after a Sell category was renamed in the master list (SPEC S3.2).

The master list carries our GUID under the user's name; the name is restored there, and every
private contact carrying the user's name gets ours back in its place (FindItem on the category,
then UpdateItem of ``categories`` in chunks of 100). Only the private contact folders are read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from exchange_mailbox.ews.writer import EwsWriter
from exchangelib import Contact
from exchangelib.folders import FolderCollection

from .mailbox_index import Mailbox

log = logging.getLogger(__name__)
MAX_ROUNDS = 3


def renamed_categories(categories: list[str] | None, renamed: Mapping[str, str]) -> list[str]:
    """``categories`` with each renamed name replaced by ours (no duplicates, order kept)."""
    out: list[str] = []
    for original in categories or ():
        name = renamed.get(original, original)
        if name not in out:
            out.append(name)
    return out


def retag_renamed(writer: EwsWriter, mailbox: Mailbox, renamed: Mapping[str, str]) -> int:
    """Returns how many contacts were re-tagged."""
    collection = FolderCollection(account=writer.account, folders=mailbox.folder_objects())
    total = 0
    for _ in range(MAX_ROUNDS):
        items = [
            item
            for item in collection.filter(categories__contains=list(renamed)).only(
                "categories", "display_name"
            )
            if isinstance(item, Contact)
        ]
        updates = []
        for n, item in enumerate(items):
            new = renamed_categories(item.categories, renamed)
            if new != list(item.categories or []):
                item.categories = new
                updates.append((n, item, ["categories"]))
        if not updates:
            break
        outcomes = writer.update(updates)
        done = sum(1 for o in outcomes.values() if o.kind == "ok")
        total += done
        for o in outcomes.values():
            if o.kind == "rejected":
                log.warning("re-tagging a contact failed: %s", o.reason)
        if all(o.kind != "conflict" for o in outcomes.values()):
            break
    log.info("re-tagged %d contacts after category renames %s", total, dict(renamed))
    return total
