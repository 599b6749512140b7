"""Request counters behind ``GET /_sandbox/stats``.

Tests and benchmarks assert request budgets from these numbers, so every request the sandbox
answers (including faults and rejections) is counted under the operation it named.
"""

from __future__ import annotations

import threading
from collections import Counter


class RequestStats:
    """Counts requests by operation, reads and writes apart, overall and per tenant."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reads: Counter[str] = Counter()
        self._writes: Counter[str] = Counter()
        self._by_tenant: dict[str, dict[str, Counter[str]]] = {}
        self._faults: Counter[str] = Counter()
        self._touched: dict[str, Counter[str]] = {}
        self._statuses: Counter[str] = Counter()
        self._tenant_statuses: dict[str, Counter[str]] = {}
        self._batched: dict[str, Counter[str]] = {"reads": Counter(), "writes": Counter()}
        self._tenant_batched: dict[str, dict[str, Counter[str]]] = {}

    def record(self, operation: str, *, write: bool, tenant: str | None = None) -> None:
        kind = "writes" if write else "reads"
        with self._lock:
            (self._writes if write else self._reads)[operation] += 1
            if tenant is not None:
                per = self._by_tenant.setdefault(tenant, {"reads": Counter(), "writes": Counter()})
                per[kind][operation] += 1

    def record_batched(self, operation: str, *, write: bool, tenant: str | None = None) -> None:
        """Count one sub-request of a Graph ``$batch``; kept apart from ``reads``/``writes``
        (which count HTTP requests, the batch itself once) so request budgets stay honest."""
        kind = "writes" if write else "reads"
        with self._lock:
            self._batched[kind][operation] += 1
            if tenant is not None:
                per = self._tenant_batched.setdefault(
                    tenant, {"reads": Counter(), "writes": Counter()}
                )
                per[kind][operation] += 1

    def record_fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def record_status(self, status: int, *, tenant: str | None = None) -> None:
        """Count answers by HTTP status (``0`` = connection dropped), e.g. to assert 429s."""
        with self._lock:
            self._statuses[str(status)] += 1
            if tenant is not None:
                self._tenant_statuses.setdefault(tenant, Counter())[str(status)] += 1

    def record_touch(self, category: str, key: str) -> None:
        """Count something a request touched (e.g. ``folders`` → folder path), to prove scope."""
        with self._lock:
            self._touched.setdefault(category, Counter())[key] += 1

    def reset(self) -> None:
        with self._lock:
            self._touched.clear()
            self._reads.clear()
            self._writes.clear()
            self._by_tenant.clear()
            self._faults.clear()
            self._statuses.clear()
            self._tenant_statuses.clear()
            for counter in self._batched.values():
                counter.clear()
            self._tenant_batched.clear()

    def _tenants(self) -> list[tuple[str, dict[str, Counter[str]]]]:
        empty: dict[str, Counter[str]] = {"reads": Counter(), "writes": Counter()}
        names = [*self._by_tenant, *(t for t in self._tenant_batched if t not in self._by_tenant)]
        return [(t, self._by_tenant.get(t, empty)) for t in names]

    def snapshot(self) -> dict:
        with self._lock:
            reads, writes = dict(self._reads), dict(self._writes)
            return {
                "reads": reads,
                "writes": writes,
                "total_reads": sum(reads.values()),
                "total_writes": sum(writes.values()),
                "total": sum(reads.values()) + sum(writes.values()),
                "faults": dict(self._faults),
                "touched": {cat: dict(c) for cat, c in self._touched.items()},
                "statuses": dict(self._statuses),
                "batched": {kind: dict(c) for kind, c in self._batched.items()},
                "by_tenant": {
                    tenant: {
                        "reads": dict(c["reads"]),
                        "writes": dict(c["writes"]),
                        "total_reads": sum(c["reads"].values()),
                        "total_writes": sum(c["writes"].values()),
                        "statuses": dict(self._tenant_statuses.get(tenant, {})),
                        "batched": {
                            kind: dict(c)
                            for kind, c in self._tenant_batched.get(tenant, {}).items()
                        },
                    }
                    for tenant, c in self._tenants()
                },
            }
