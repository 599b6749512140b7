"""Re-tag contacts after a Sell category was renamed in the master list (SPEC S3.2).

The master list carries our GUID under the user's name; the name is restored there (over Graph:
the renamed category deleted, ours created again with its colour), and every private contact
carrying the user's name gets ours back in its place (the mailbox's ``find_by_categories``, then
batched updates of ``categories``). Only the private contact folders are read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from exchange_mailbox.interface import Mailbox as ProtocolMailbox

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


def retag_renamed(box: ProtocolMailbox, mailbox: Mailbox, renamed: Mapping[str, str]) -> int:
    """Returns how many contacts were re-tagged."""
    total = 0
    for _ in range(MAX_ROUNDS):
        updates = []
        for n, item in enumerate(box.find_by_categories(mailbox.folders(), list(renamed))):
            current = box.item_categories(item)
            new = renamed_categories(current, renamed)
            if new != current:
                updates.append((n, item, [box.set_item_categories(item, new)]))
        if not updates:
            break
        outcomes = box.update(updates)
        done = sum(1 for o in outcomes.values() if o.kind == "ok")
        total += done
        for o in outcomes.values():
            if o.kind == "rejected":
                log.warning("re-tagging a contact failed: %s", o.reason)
        if all(o.kind != "conflict" for o in outcomes.values()):
            break
    log.info("re-tagged %d contacts after category renames %s", total, dict(renamed))
    return total
