"""Deterministic fault injection for ``--fault-rate``.

The same seed and rate give the same sequence of faults, so a failing reliability test can be
replayed exactly. Each sandbox names the fault kinds its real counterpart produces.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence


class FaultInjector:
    """Draws, per request, either ``None`` (answer normally) or the name of a fault to produce."""

    def __init__(self, rate: float, kinds: Sequence[str], seed: int = 0) -> None:
        if not 0.0 <= rate <= 1.0:
            msg = f"--fault-rate must be between 0 and 1, got {rate}"
            raise ValueError(msg)
        if rate and not kinds:
            msg = "a fault rate needs at least one fault kind"
            raise ValueError(msg)
        self.rate = rate
        self.kinds = tuple(kinds)
        self._random = random.Random(f"faults:{seed}")  # noqa: S311 - reproducible, not secret
        self._lock = threading.Lock()

    def draw(self) -> str | None:
        if not self.rate:
            return None
        with self._lock:
            if self._random.random() >= self.rate:
                return None
            return self._random.choice(self.kinds)
