"""A bound on the TOTAL back-off of one busy spell, not only on each single back-off.

exchangelib's ``FaultTolerance(max_wait)`` refuses one back-off longer than ``max_wait`` but
retries for ever while the server keeps asking for short ones (``ErrorServerBusy`` with
``BackOffMilliseconds`` 200, again and again). This policy also fails once the busy answers in a
row have cost more than ``max_wait`` seconds, so a run against a server that stays busy ends
(S10.2: no STATE past an unwritten record) instead of hanging. It is installed on the account's
protocol right after ``contact_mapping.exchange.connection.connect`` (which probes with the
shared policy; the lead may want this bound there too).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from contact_mapping.exchange.connection import SyncRetryPolicy
from exchangelib.errors import RateLimitError


class BoundedRetryPolicy(SyncRetryPolicy):
    """``SyncRetryPolicy`` whose busy spells last ``max_wait`` seconds in total at most."""

    def __init__(self, max_wait: float) -> None:
        super().__init__(max_wait=max_wait)
        self._spell_started: float | None = None
        self._spell_lock = threading.Lock()

    def back_off(self, seconds: float | None) -> None:
        wait = self.DEFAULT_BACKOFF if seconds is None else seconds
        now = time.monotonic()
        with self._spell_lock:
            if self._spell_started is None:
                self._spell_started = now
            spent = now - self._spell_started
        if spent + wait > self.max_wait:
            with self._spell_lock:
                self._spell_started = None
            msg = (
                f"Exchange stayed busy for {spent:.1f} s (setting 'retry_max_wait' = "
                f"{self.max_wait:g} s); giving up"
            )
            raise RateLimitError(msg, wait=wait)
        super().back_off(wait)

    def raise_response_errors(self, response: Any) -> Any:
        result = super().raise_response_errors(response)
        if response.status_code == 200:
            with self._spell_lock:
                self._spell_started = None  # the spell is over
        return result


def install(account: Any, max_wait: float) -> BoundedRetryPolicy:
    """Replace the account protocol's retry policy (keeping what the probe learnt)."""
    old = account.protocol.config.retry_policy
    policy = BoundedRetryPolicy(max_wait)
    policy.authenticated = getattr(old, "authenticated", True)
    account.protocol.config.retry_policy = policy
    return policy
