"""The extended property on an Exchange contact that holds its Sell link ("contact:123", "lead:45").

Both directions read it (the tap emits it as ``sell_link``; target-exchange writes it), so the
property-set GUID, name and type are fixed here once. A private property set keeps it clear of
other applications' named properties.
"""

from __future__ import annotations

import re
import threading

from exchangelib import Contact, ExtendedProperty
from exchangelib.fields import InvalidField

from ..interface import SELL_LINK

FIELD_NAME = "sell_link"
PROPERTY_SET_ID = SELL_LINK.property_set_id
PROPERTY_NAME = SELL_LINK.name
_LINK_RE = re.compile(r"^(contact|lead):(\d+)$")
_lock = threading.Lock()


class SellLink(ExtendedProperty):
    """String named property in our own property set."""

    property_set_id = PROPERTY_SET_ID
    property_name = PROPERTY_NAME
    property_type = SELL_LINK.type


def register() -> None:
    """Make ``Contact.sell_link`` available; safe to call any number of times."""
    with _lock:
        if not _registered():
            Contact.register(FIELD_NAME, SellLink)


def _registered() -> bool:
    try:
        Contact.get_field_by_fieldname(FIELD_NAME)
    except InvalidField:
        return False
    return True


def format_link(kind: str, sell_id: int | str) -> str:
    """``format_link("contact", 123) == "contact:123"``."""
    if kind not in ("contact", "lead"):
        msg = f"unknown Sell record kind {kind!r}"
        raise ValueError(msg)
    return f"{kind}:{int(sell_id)}"


def parse_link(value: str | None) -> tuple[str, int] | None:
    """``"lead:45"`` → ``("lead", 45)``; anything else → None (treated as unlinked)."""
    if not value:
        return None
    match = _LINK_RE.match(value.strip())
    return (match.group(1), int(match.group(2))) if match else None


register()
