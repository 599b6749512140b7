"""Per-account time: ISO-8601 UTC seconds that strictly increase with every write.

The real API stamps ``updated_at`` with one-second resolution; a sandbox that answers many
writes per second would produce ties and make ``sort_by=updated_at`` ambiguous. Each tick is
therefore ``max(now, previous + 1 s)``: under bursts the account clock runs ahead of the wall
clock by at most the number of writes in the burst, and catches up when writes pause.
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
        self._last = max(int(time.time()), self._last + 1)
        return iso(self._last)
