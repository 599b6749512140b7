"""IndexedPage*View paging with Exchange's EWSFindCountLimit (1000 rows per answer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from ews_sandbox.errors import EwsError

# Exchange's default EWSFindCountLimit: a paged view is cut to this many rows (the caller pages
# on), an unpaged query that would return more fails with ErrorExceededFindCountLimit.
FIND_COUNT_LIMIT = 1000


@dataclass
class Window:
    rows: list[Any]
    offset: int
    total: int
    paged: bool

    def attributes(self) -> dict[str, str]:
        end = self.offset + len(self.rows)
        attrs = {
            "TotalItemsInView": str(self.total),
            "IncludesLastItemInRange": "true" if end >= self.total else "false",
        }
        if self.paged:
            attrs = {"IndexedPagingOffset": str(end), **attrs}
        return attrs


def page(rows: Sequence[Any], view: etree._Element | None) -> Window:
    total = len(rows)
    if view is None:
        if total > FIND_COUNT_LIMIT:
            raise EwsError(
                "ErrorExceededFindCountLimit",
                "The find operation returned more items than the EWSFindCountLimit allows; "
                "use paging.",
            )
        return Window(list(rows), 0, total, paged=False)
    try:
        maximum = int(view.get("MaxEntriesReturned", str(FIND_COUNT_LIMIT)))
        offset = int(view.get("Offset", "0"))
    except ValueError as exc:
        raise EwsError("ErrorInvalidPagingMaxRows", "The paging values are invalid.") from exc
    if maximum < 1 or offset < 0:
        raise EwsError("ErrorInvalidPagingMaxRows", "MaxEntriesReturned must be at least 1.")
    maximum = min(maximum, FIND_COUNT_LIMIT)
    if view.get("BasePoint", "Beginning") == "End":
        start = max(0, total - offset - maximum)
        chunk = list(rows[start : total - offset]) if offset < total else []
        return Window(chunk, start, total, paged=True)
    return Window(list(rows[offset : offset + maximum]), min(offset, total), total, paged=True)
