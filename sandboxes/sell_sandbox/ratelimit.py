"""Per-token request rate limit (reference §8: 36,000/hour = 10 requests/s per token)."""

from __future__ import annotations

from pyrate_limiter import Duration, Limiter, Rate


class TenantRateLimiter:
    """One sliding-window limiter per tenant, so one tenant's burst never throttles another."""

    def __init__(self, per_second: float) -> None:
        if per_second < 0:
            msg = f"--rate-limit must be 0 (off) or positive, got {per_second}"
            raise ValueError(msg)
        self._per_second = per_second
        self._limiters: dict[str, Limiter] = {}

    @property
    def enabled(self) -> bool:
        return self._per_second > 0

    def allow(self, tenant: str) -> bool:
        if not self.enabled:
            return True
        limiter = self._limiters.get(tenant)
        if limiter is None:
            # Fractional rates (e.g. 0.5/s) become whole requests over a longer window.
            if float(self._per_second).is_integer():
                rate = Rate(int(self._per_second), Duration.SECOND)
            else:
                rate = Rate(max(1, round(self._per_second * 10)), Duration.SECOND * 10)
            limiter = self._limiters[tenant] = Limiter(rate)
        return bool(limiter.try_acquire(tenant, blocking=False))
