"""Per-account time: ISO-8601 UTC seconds, like the real API's ``updated_at``.

The real API stamps with one-second resolution, so several records written in the same second
share a timestamp; clients must cope with ties (``sort_by=updated_at`` breaks them by id here).
Stamps never run ahead of the wall clock — conflict resolution (SPEC S5.2) compares them with
Exchange's ``LastModifiedTime`` — and never go backwards (seeded history is observed first).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def iso(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime(FORMAT)


def parse_iso(text: str) -> int:
    return int(datetime.strptime(text, FORMAT).replace(tzinfo=UTC).timestamp())


class AccountClock:
    def __init__(self) -> None:
        self._last = 0

    def observe(self, stamp: str) -> None:
        """Seeded records carry their own stamps; later writes must come after them."""
        self._last = max(self._last, parse_iso(stamp))

    def tick(self) -> str:
        self._last = max(int(time.time()), self._last)
        return iso(self._last)
