"""Contact statuses derived from deals (reference §12, SPEC S2).

Open deal ⇒ current prospect; otherwise a lost or unqualified deal ⇒ lost prospect; no deal ⇒
none. A won deal ⇒ current customer; otherwise the customer status last set explicitly (``past``
exists only that way), else none.
"""

from __future__ import annotations

from collections.abc import Iterable

OPEN_CATEGORIES = frozenset({"incoming", "in_progress"})
LOST_CATEGORIES = frozenset({"lost", "unqualified"})


def prospect_status(categories: Iterable[str]) -> str:
    cats = set(categories)
    if cats & OPEN_CATEGORIES:
        return "current"
    if cats & LOST_CATEGORIES:
        return "lost"
    return "none"


def customer_status(categories: Iterable[str], explicit: str | None) -> str:
    if "won" in set(categories):
        return "current"
    return explicit or "none"
