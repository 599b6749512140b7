"""The master category list over Graph (``/outlook/masterCategories``), edited as over EWS.

``GraphCategoryList`` is the Graph counterpart of ``ews.category_list.CategoryList``: the same
``MasterCategoryList`` methods, so a caller edits either list the same way, then hands it to
``save``. Over Graph a category's name is fixed once created (PATCH changes only ``color``,
reference §5), so ``rename`` is a delete and a create with the same colour (SPEC S3.2 over
Graph), and ``add`` cannot choose the id (Graph assigns it; the ``guid`` asked for is dropped).
Colours are Outlook's indexes as in the EWS list: -1 = ``none``, n = ``preset{n}``. Other
categories are never touched: ``save`` sends only the edits made (one request each).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..interface import Category
from .transport import GraphTransport

log = logging.getLogger(__name__)

NO_COLOR = -1


def color_index(color: str | None) -> int:
    if color and color.startswith("preset") and color[6:].isdigit():
        return int(color[6:])
    return NO_COLOR


def color_name(index: int | None) -> str:
    return f"preset{index}" if index is not None and 0 <= index <= 24 else "none"


def same_guid(a: str | None, b: str | None) -> bool:
    return bool(a and b) and _bare(a) == _bare(b)


def _bare(guid: str | None) -> str:
    return (guid or "").strip("{}").casefold()


@dataclass
class GraphCategory:
    id: str | None  # None: created by save()
    name: str
    color: int


@dataclass
class GraphCategoryList:
    """The list as read, plus the edits ``save`` will send."""

    entries: list[GraphCategory]
    deletes: list[str] = field(default_factory=list)
    creates: list[GraphCategory] = field(default_factory=list)
    recolours: dict[str, int] = field(default_factory=dict)  # id → colour

    def categories(self) -> list[Category]:
        return [Category(name=e.name, color=e.color, guid=e.id) for e in self.entries]

    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    def find(self, name: str) -> GraphCategory | None:
        folded = name.casefold()
        return next((e for e in self.entries if e.name.casefold() == folded), None)

    def find_guid(self, guid: str) -> GraphCategory | None:
        return next((e for e in self.entries if same_guid(e.id, guid)), None)

    def add(self, name: str, *, color: int = NO_COLOR, guid: str | None = None) -> GraphCategory:
        if self.find(name) is not None:
            msg = f"category {name!r} already exists"
            raise ValueError(msg)
        entry = GraphCategory(id=None, name=name, color=color)
        self.entries.append(entry)
        self.creates.append(entry)
        return entry

    def remove(self, guid: str) -> bool:
        entry = self.find_guid(guid)
        if entry is None:
            return False
        self._drop(entry)
        return True

    def set_guid(self, name: str, guid: str) -> bool:
        """Graph assigns a category's id itself: nothing to change."""
        return False

    def _drop(self, entry: GraphCategory) -> None:
        self.entries.remove(entry)
        if entry.id is None:
            self.creates.remove(entry)
        else:
            self.deletes.append(entry.id)
            self.recolours.pop(entry.id, None)

    def rename(self, guid: str, new_name: str) -> str | None:
        """Delete the category with ``guid`` and create ``new_name`` with its colour; returns
        the old name (None when not found)."""
        entry = self.find_guid(guid)
        if entry is None:
            return None
        if entry.name != new_name:
            self._drop(entry)
            self.add(new_name, color=entry.color)
        return entry.name

    def set_color(self, name: str, color: int) -> bool:
        entry = self.find(name)
        if entry is None or entry.color == color:
            return False
        entry.color = color
        if entry.id is not None:
            self.recolours[entry.id] = color
        return True

    @property
    def changed(self) -> bool:
        return bool(self.deletes or self.creates or self.recolours)


def load(transport: GraphTransport) -> GraphCategoryList:
    entries = [
        GraphCategory(
            id=c.get("id"), name=str(c.get("displayName") or ""), color=color_index(c.get("color"))
        )
        for c in transport.items(f"{transport.user}/outlook/masterCategories")
    ]
    return GraphCategoryList(entries=[e for e in entries if e.name])


def save(transport: GraphTransport, categories: GraphCategoryList) -> None:
    """Deletes first (a renamed category frees its name), then creates, then colours."""
    path = f"{transport.user}/outlook/masterCategories"
    for category_id in categories.deletes:
        transport.call("DELETE", f"{path}/{quote(category_id, safe='')}")
    for entry in categories.creates:
        body: Any = transport.call(
            "POST", path, json={"displayName": entry.name, "color": color_name(entry.color)}
        )
        entry.id = (body or {}).get("id")
    for category_id, color in categories.recolours.items():
        transport.call(
            "PATCH", f"{path}/{quote(category_id, safe='')}", json={"color": color_name(color)}
        )
    log.info(
        "master categories saved over Graph: %d deleted, %d created, %d recoloured",
        len(categories.deletes),
        len(categories.creates),
        len(categories.recolours),
    )
    categories.deletes, categories.creates, categories.recolours = [], [], {}
