"""Which contact folders are the owner's private ones (S1.1), whatever the protocol.

System folders below Contacts (Recipient Cache, GAL Contacts, Companies, …) and hidden GUID-named
ones are never read. EWS also tells them by folder class; Graph lists folders without a class,
so the names are the rule both implementations share.
"""

from __future__ import annotations

import re

SYSTEM_FOLDER_NAMES = frozenset(
    name.casefold()
    for name in (
        "Recipient Cache",
        "GAL Contacts",
        "Organizational Contacts",
        "Quick Contacts",
        "IM Contact List",
        "Companies",
        "PeopleCentricConversation Buddies",
        "ExternalContacts",
    )
)
_GUID_NAME_RE = re.compile(r"^\{?[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\}?$")


def is_private_folder_name(name: str | None) -> bool:
    """A name a user-created contact folder can have: not blank, a system name or a GUID."""
    name = (name or "").strip()
    if not name or name.casefold() in SYSTEM_FOLDER_NAMES:
        return False
    return not _GUID_NAME_RE.match(name)
