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

    def record(self, operation: str, *, write: bool, tenant: str | None = None) -> None:
        kind = "writes" if write else "reads"
        with self._lock:
            (self._writes if write else self._reads)[operation] += 1
            if tenant is not None:
                per = self._by_tenant.setdefault(tenant, {"reads": Counter(), "writes": Counter()})
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
                "by_tenant": {
                    tenant: {
                        "reads": dict(c["reads"]),
                        "writes": dict(c["writes"]),
                        "total_reads": sum(c["reads"].values()),
                        "total_writes": sum(c["writes"].values()),
                        "statuses": dict(self._tenant_statuses.get(tenant, {})),
                    }
                    for tenant, c in self._by_tenant.items()
                },
            }
