"""The master category list document (MS-OXOCFG CategoryList.xsd), as Outlook writes it."""

from __future__ import annotations

import uuid

from lxml import etree

CATEGORY_NS = "CategoryList.xsd"
NEVER = "1601-01-01T00:00:00.000"
# Outlook's six colour categories in a new mailbox (colour = OlCategoryColor - 1).
OUTLOOK_DEFAULTS: tuple[tuple[str, int], ...] = (
    ("Red category", 0),
    ("Orange category", 1),
    ("Yellow category", 3),
    ("Green category", 4),
    ("Blue category", 7),
    ("Purple category", 8),
)
_GUID_NAMESPACE = uuid.UUID("6f1c3c0e-2b8e-4a55-9a55-5a4f0c1d7e01")


def category_guid(address: str, name: str) -> str:
    """Stable per-mailbox GUID, braced as the format requires."""
    return "{" + str(uuid.uuid5(_GUID_NAMESPACE, f"{address.lower()}|{name}")) + "}"


def category_list_xml(address: str, user_categories: tuple[tuple[str, int], ...] = ()) -> bytes:
    root = etree.Element(
        f"{{{CATEGORY_NS}}}categories",
        {
            "default": OUTLOOK_DEFAULTS[0][0],
            "lastSavedSession": "0",
            "lastSavedTime": "2024-01-01T00:00:00.000",
        },
        nsmap={None: CATEGORY_NS},
    )
    entries = [(n, c, "1") for n, c in OUTLOOK_DEFAULTS] + [(n, c, "0") for n, c in user_categories]
    for name, color, rename in entries:
        etree.SubElement(
            root,
            f"{{{CATEGORY_NS}}}category",
            {
                "name": name,
                "color": str(color),
                "keyboardShortcut": "0",
                "usageCount": "0",
                "lastTimeUsedNotes": NEVER,
                "lastTimeUsedJournal": NEVER,
                "lastTimeUsedContacts": NEVER,
                "lastTimeUsedTasks": NEVER,
                "lastTimeUsedCalendar": NEVER,
                "lastTimeUsedMail": NEVER,
                "lastTimeUsed": NEVER,
                "lastSessionUsed": "0",
                "guid": category_guid(address, name),
                "renameOnFirstUse": rename,
            },
        )
    return b'<?xml version="1.0" encoding="utf-8"?>' + etree.tostring(root, encoding="utf-8")
