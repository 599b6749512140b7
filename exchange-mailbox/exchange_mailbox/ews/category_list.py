"""The mailbox's master category list (Outlook's ``CategoryList`` XML), read and edited in place.

The document lives in the ``CategoryList`` user configuration of the Calendar folder (XmlData),
in the MS-OXOCFG format ``<categories … xmlns="CategoryList.xsd"><category name=… color=…
guid="{…}" …/></categories>``. Outlook and other clients store attributes and elements we do not
know; writers should keep them (MS-OXOCFG §3.1.4.2.3), so this class edits the lxml tree in place
and serialises it back, touching only what a caller changes.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator

from lxml import etree

from ..interface import Category

NAMESPACE = "CategoryList.xsd"
_GUID_RE = re.compile(
    r"^\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}$"
)
_GUID_NAMESPACE = uuid.UUID("0b7d4b0e-8a5c-4a2b-9a8e-4f4b8f2c3d11")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
NO_COLOR = -1


class CategoryListError(ValueError):
    """The stored document is not a category list."""


def stable_guid(name: str) -> str:
    """A GUID derived from a name, in the list's ``{…}`` form (same name → same GUID everywhere)."""
    return "{" + str(uuid.uuid5(_GUID_NAMESPACE, name)) + "}"


def outlook_time(moment: dt.datetime | None = None) -> str:
    """Timestamps as Exchange Online writes them: UTC, seven fractional digits, ``Z``."""
    moment = (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _color(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class CategoryList:
    """An editable master category list."""

    def __init__(self, root: etree._Element) -> None:
        if etree.QName(root).localname != "categories":
            msg = f"expected a <categories> document, got <{etree.QName(root).localname}>"
            raise CategoryListError(msg)
        self.root = root
        self._ns = etree.QName(root).namespace

    @classmethod
    def parse(cls, data: bytes | str) -> CategoryList:
        if isinstance(data, str):
            data = data.encode("utf-8")
        try:
            root = etree.fromstring(data.lstrip(), _PARSER)
        except etree.XMLSyntaxError as exc:
            msg = f"category list is not well-formed XML: {exc}"
            raise CategoryListError(msg) from exc
        return cls(root)

    @classmethod
    def empty(cls) -> CategoryList:
        root = etree.Element(f"{{{NAMESPACE}}}categories", nsmap={None: NAMESPACE})
        root.set("default", "")
        root.set("lastSavedSession", "0")
        root.set("lastSavedTime", outlook_time())
        return cls(root)

    def _tag(self, local: str) -> str:
        return f"{{{self._ns}}}{local}" if self._ns else local

    def elements(self) -> Iterator[etree._Element]:
        yield from self.root.iterchildren(self._tag("category"))

    def categories(self) -> list[Category]:
        return [
            Category(name=el.get("name", ""), color=_color(el.get("color")), guid=el.get("guid"))
            for el in self.elements()
            if el.get("name")
        ]

    def names(self) -> list[str]:
        return [c.name for c in self.categories()]

    def find(self, name: str) -> etree._Element | None:
        """Category names are case-insensitive in Outlook."""
        folded = name.casefold()
        return next((el for el in self.elements() if el.get("name", "").casefold() == folded), None)

    def find_guid(self, guid: str) -> etree._Element | None:
        folded = guid.strip("{}").casefold()
        return next(
            (el for el in self.elements() if el.get("guid", "").strip("{}").casefold() == folded),
            None,
        )

    def add(self, name: str, *, color: int = NO_COLOR, guid: str | None = None) -> etree._Element:
        """Append a category with the attributes Outlook itself writes for a new one."""
        if self.find(name) is not None:
            msg = f"category {name!r} already exists"
            raise ValueError(msg)
        guid = guid or stable_guid(name)
        if not _GUID_RE.match(guid):
            msg = f"guid must look like {{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}}, got {guid!r}"
            raise ValueError(msg)
        now = outlook_time()
        element = etree.SubElement(self.root, self._tag("category"))
        for key, value in (
            ("name", name),
            ("color", str(color)),
            ("keyboardShortcut", "0"),
            ("usageCount", "0"),
            ("lastTimeUsedNotes", now),
            ("lastTimeUsedJournal", now),
            ("lastTimeUsedContacts", now),
            ("lastTimeUsedTasks", now),
            ("lastTimeUsedCalendar", now),
            ("lastTimeUsedMail", now),
            ("lastTimeUsed", now),
            ("lastSessionUsed", "0"),
            ("guid", guid),
            ("renameOnFirstUse", "0"),
        ):
            element.set(key, value)
        self.touch()
        return element

    def rename(self, guid: str, new_name: str) -> str | None:
        """Give the entry with ``guid`` a new name; returns the old name (None if not found)."""
        element = self.find_guid(guid)
        if element is None:
            return None
        old = element.get("name")
        if old != new_name:
            element.set("name", new_name)
            self.touch()
        return old

    def remove(self, guid: str) -> bool:
        element = self.find_guid(guid)
        if element is None:
            return False
        self.root.remove(element)
        self.touch()
        return True

    def set_guid(self, name: str, guid: str) -> bool:
        """Give the category ``name`` this GUID (one made by hand gets our stable one)."""
        element = self.find(name)
        if element is None or (element.get("guid") or "").casefold() == guid.casefold():
            return False
        element.set("guid", guid)
        self.touch()
        return True

    def set_color(self, name: str, color: int) -> bool:
        element = self.find(name)
        if element is None or element.get("color") == str(color):
            return False
        element.set("color", str(color))
        self.touch()
        return True

    def touch(self) -> None:
        """Mark the list as saved now, as Outlook does on every change."""
        if "lastSavedTime" in self.root.attrib:
            self.root.set("lastSavedTime", outlook_time())

    def to_bytes(self) -> bytes:
        return etree.tostring(self.root, xml_declaration=True, encoding="utf-8")
