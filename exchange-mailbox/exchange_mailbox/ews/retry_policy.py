"""The retry policy of every Exchange connection (both Exchange plugins, probe included).

exchangelib's default ``FailFast`` ignores ``ErrorServerBusy`` back-off hints (S10.2), so we
build on ``FaultTolerance``, with two changes:

- Plain ``FaultTolerance`` treats *every* 401 as throttling and would retry bad credentials
  until its wait runs out; ours fails on a 401 until the server has once accepted us.
- ``FaultTolerance(max_wait)`` refuses one back-off longer than ``max_wait`` but retries for ever
  while the server keeps asking for short ones (``ErrorServerBusy`` with ``BackOffMilliseconds``
  200, again and again). Ours also fails once the back-offs of one busy spell (the busy answers
  since the last HTTP 200) have cost more than ``max_wait`` seconds in total, so a run against a
  server that stays busy ends with an error naming setting ``retry_max_wait`` instead of hanging.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from exchangelib import FaultTolerance
from exchangelib.errors import RateLimitError, UnauthorizedError


class SyncRetryPolicy(FaultTolerance):
    """Honours the server's back-off; a busy spell costs at most ``max_wait`` seconds in total."""

    def __init__(self, max_wait: float) -> None:
        super().__init__(max_wait=max_wait)
        self.authenticated = False
        self._spell_started: float | None = None
        self._spell_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        del state["_spell_lock"]  # locks cannot be pickled (exchangelib pickles configs)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._spell_lock = threading.Lock()

    def back_off(self, seconds: float | None) -> None:
        wait = self.DEFAULT_BACKOFF if seconds is None else seconds
        now = time.monotonic()
        with self._spell_lock:
            if self._spell_started is None:
                self._spell_started = now
            spent = now - self._spell_started
            if spent + wait > self.max_wait:
                self._spell_started = None  # the next request starts a new spell
                msg = (
                    f"Exchange stayed busy for {spent:.1f} s (setting 'retry_max_wait' = "
                    f"{self.max_wait:g} s); giving up"
                )
                raise RateLimitError(msg, wait=wait)
        super().back_off(wait)

    def raise_response_errors(self, response: Any) -> Any:
        if response.status_code == 401 and not self.authenticated:
            raise UnauthorizedError(f"HTTP 401 from {response.url}")
        result = super().raise_response_errors(response)
        self.authenticated = True
        if response.status_code == 200:
            with self._spell_lock:
                self._spell_started = None  # the spell is over
        return result
