"""Sell category tagging of Exchange contacts (SPEC S2) and the master-list constants (S3)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Literal

SELL_PERSON = "Sell Person"
SELL_COMPANY = "Sell Company"
SELL_CURRENT_PROSPECT = "Sell Current Prospect"
SELL_LOST_PROSPECT = "Sell Lost Prospect"
SELL_CURRENT_CUSTOMER = "Sell Current Customer"
SELL_PAST_CUSTOMER = "Sell Past Customer"
SELL_LEAD = "Sell Lead"

#: The seven fixed names, in the order they are added to a contact.
SELL_CATEGORIES: tuple[str, ...] = (
    SELL_PERSON,
    SELL_COMPANY,
    SELL_CURRENT_PROSPECT,
    SELL_LOST_PROSPECT,
    SELL_CURRENT_CUSTOMER,
    SELL_PAST_CUSTOMER,
    SELL_LEAD,
)

#: Master Category List colour index per category (Outlook: 7 Blue, 19 Dark Green, 3 Yellow,
#: 12 Gray, 4 Green, 9 Maroon, 1 Orange). Fixed so every mailbox shows the same colours.
CATEGORY_COLOURS: dict[str, int] = {
    SELL_PERSON: 7,
    SELL_COMPANY: 19,
    SELL_CURRENT_PROSPECT: 3,
    SELL_LOST_PROSPECT: 12,
    SELL_CURRENT_CUSTOMER: 4,
    SELL_PAST_CUSTOMER: 9,
    SELL_LEAD: 1,
}

#: Namespace of the category GUIDs; never change it, or S3.2 could no longer find renamed ones.
CATEGORY_NAMESPACE = uuid.UUID("6f1c9b2e-4d0a-5e77-9a43-5e11c0a7e9d1")


def category_guid(name: str) -> uuid.UUID:
    """Stable GUID for a category name (uuid5), the same in every mailbox and every run."""
    return uuid.uuid5(CATEGORY_NAMESPACE, name)


def category_guid_text(name: str) -> str:
    """The GUID as the master category list writes it: ``{xxxxxxxx-…}``, lower case."""
    return "{" + str(category_guid(name)) + "}"


def category_for_guid(guid: str | uuid.UUID) -> str | None:
    """Which Sell category a master-list GUID belongs to (to restore renamed ones, S3.2)."""
    text = str(guid).strip("{}").lower()
    for name in SELL_CATEGORIES:
        if str(category_guid(name)) == text:
            return name
    return None


def sell_categories(record: Mapping[str, Any], kind: Literal["contact", "lead"]) -> frozenset[str]:
    """The Sell categories a contact or lead must carry (S2), recomputed from the record."""
    if kind == "lead":
        return frozenset({SELL_LEAD})
    if kind != "contact":
        msg = f"unknown Sell record kind {kind!r}"
        raise ValueError(msg)
    out = {SELL_COMPANY if record.get("is_organization") else SELL_PERSON}
    prospect = (record.get("prospect_status") or "").strip().lower()
    customer = (record.get("customer_status") or "").strip().lower()
    if prospect == "current":
        out.add(SELL_CURRENT_PROSPECT)
    elif prospect == "lost":
        out.add(SELL_LOST_PROSPECT)
    if customer == "current":
        out.add(SELL_CURRENT_CUSTOMER)
    elif customer == "past":
        out.add(SELL_PAST_CUSTOMER)
    return frozenset(out)


def merge_categories(existing: Iterable[str] | None, sell_set: Iterable[str]) -> list[str]:
    """The user's own categories kept in place, stale Sell ones dropped, new ones appended.

    Order is stable: existing order first, then new Sell categories in SELL_CATEGORIES order,
    so recomputing with the same input yields the same list (no spurious writes).
    """
    wanted = set(sell_set)
    unknown = wanted - set(SELL_CATEGORIES)
    if unknown:
        msg = f"not Sell categories: {sorted(unknown)}"
        raise ValueError(msg)
    out: list[str] = []
    for name in existing or ():
        if name in out:
            continue
        if name in SELL_CATEGORIES and name not in wanted:
            continue
        out.append(name)
    out.extend(name for name in SELL_CATEGORIES if name in wanted and name not in out)
    return out
