"""Waiting out whole-second timestamps, for tests that make one edit newer than another.

Sell's ``updated_at`` and Exchange's ``LastModifiedTime`` have one-second resolution (both
sandboxes stamp like the real systems), so two edits in the same second look simultaneous.
"""

from __future__ import annotations

import time
from datetime import datetime


def wait_past(stamp: str | datetime, *, limit: float = 5.0) -> None:
    """Wait until the wall clock is in a later second than ``stamp`` (an ISO string or a
    datetime), so the next edit is strictly newer; at most ``limit`` seconds."""
    if isinstance(stamp, str):
        stamp = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    moment = stamp.timestamp() + 1.05
    deadline = time.monotonic() + limit
    while time.time() < moment and time.monotonic() < deadline:
        time.sleep(0.05)
