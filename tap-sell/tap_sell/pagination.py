"""Paging over Sell's ``page``/``per_page`` lists.

Two shapes: plain page-number paging for the small reference lists, and overlapping windows for
the newest-first incremental pass, which must notice when records shifted between two requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from requests import Response
from singer_sdk.pagination import PageNumberPaginator

MAX_PER_PAGE = 100  # Sell rejects per_page outside 1..100 (reference §8)
MIN_WINDOW = 50


class SellPagePaginator(PageNumberPaginator):
    """Next page while Sell links one (``meta.links.next_page``) and the page had items.

    Sell omits ``next_page`` on the last page; past the end it answers 200 with no items
    (reference §2.2), which also ends the loop.
    """

    def __init__(self, per_page: int = MAX_PER_PAGE) -> None:
        super().__init__(start_value=1)
        self.per_page = per_page

    def has_more(self, response: Response) -> bool:
        body = response.json()
        items = body.get("items") or []
        if not items:
            return False
        links = (body.get("meta") or {}).get("links")
        if isinstance(links, dict) and links:
            return bool(links.get("next_page"))
        return len(items) >= self.per_page


@dataclass(frozen=True)
class Window:
    """A request's slice of the ordered list: items ``start .. start + size - 1`` (0-based)."""

    start: int
    size: int

    @property
    def page(self) -> int:
        return self.start // self.size + 1

    def params(self) -> dict[str, int]:
        return {"page": self.page, "per_page": self.size}


FIRST_WINDOW = Window(0, MAX_PER_PAGE)


def window_after(last: int) -> Window:
    """The window that re-reads item ``last`` (the last one handled) and reaches furthest past it.

    Sell pages are aligned (``start = (page - 1) * per_page``), so an overlap needs a page size
    that puts a page boundary at or just before ``last``. Sizes 50..100 almost always find one a
    few items back, so each request still brings 90+ new items.
    """
    if last < 0:
        return FIRST_WINDOW
    best: Window | None = None
    for size in range(MAX_PER_PAGE, MIN_WINDOW - 1, -1):
        start = (last // size) * size
        window = Window(start, size)
        if best is None or start + size > best.start + best.size:
            best = window
    assert best is not None
    return best


def window_before(window: Window) -> Window:
    """An earlier window when a page started below the last handled item (items moved up)."""
    if window.start == 0:
        return window
    return window_after(max(window.start - MIN_WINDOW, 0) - 1)
