"""Outlook's per app-and-mailbox limits (reference §6, §7).

- At most 4 concurrent requests per app and mailbox; the 5th is answered 429
  ``ApplicationThrottled`` "Application is over its MailboxConcurrency limit." with ``Retry-After``.
  A request is in flight from its arrival to its answer, latency included.
- An unordered ``$batch`` hands up to 4 of its sub-requests at a time to a mailbox, so it holds up
  to 4 slots of each mailbox it targets while it runs; a ``dependsOn`` batch runs one at a time and
  holds 1. Sub-requests of a batch that found no free slot for their mailbox are answered 429.
- At most ``budget`` requests (sub-requests included) per app and mailbox in a sliding window of
  ``window`` seconds (10,000 per 10 minutes, VERIFIED); ``0`` turns the budget off.
"""

from __future__ import annotations

import math
import time
from collections import deque

from graph_sandbox.errors import GraphError, throttled

CONCURRENCY = 4
CONCURRENCY_MESSAGE = "Application is over its MailboxConcurrency limit."
BUDGET_MESSAGE = "Application is over its MailboxRequest limit."  # UNVERIFIED wording


class Throttle:
    def __init__(self, *, budget: int = 10_000, window: float = 600.0, retry_after: int = 1):
        self.budget = budget
        self.window = window
        self.retry_after = retry_after
        self.in_flight: dict[tuple[str, str], int] = {}
        self._requests: dict[tuple[str, str], deque[float]] = {}

    def acquire(self, principal: str, mailbox: str, slots: int = 1) -> int:
        """Take up to ``slots`` slots; raise 429 when none is free. Returns the slots taken."""
        key = (principal, mailbox.lower())
        free = CONCURRENCY - self.in_flight.get(key, 0)
        if free <= 0:
            raise throttled(self.retry_after, CONCURRENCY_MESSAGE)
        taken = min(slots, free)
        self.in_flight[key] = self.in_flight.get(key, 0) + taken
        return taken

    def try_acquire(self, principal: str, mailbox: str, slots: int) -> int:
        """Like ``acquire`` but 0 instead of an error (a batch's sub-requests get their 429s)."""
        try:
            return self.acquire(principal, mailbox, slots)
        except GraphError:
            return 0

    def release(self, principal: str, mailbox: str, slots: int = 1) -> None:
        key = (principal, mailbox.lower())
        left = self.in_flight.get(key, 0) - slots
        if left > 0:
            self.in_flight[key] = left
        else:
            self.in_flight.pop(key, None)

    def spend(self, principal: str, mailbox: str) -> None:
        """Count one request against the budget; 429 with the wait until one frees up."""
        if not self.budget:
            return
        now = time.monotonic()
        stamps = self._requests.setdefault((principal, mailbox.lower()), deque())
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if len(stamps) >= self.budget:
            wait = max(1, math.ceil(stamps[0] + self.window - now))
            raise throttled(wait, BUDGET_MESSAGE)
        stamps.append(now)
