"""The run report of SPEC S12, shared by both targets.

Counts per stream, the kept and overwritten values of every conflict, each rejection with its
reason and each retired link; logged at the end and written as JSON to ``report_path``. A
background ticker logs progress (count and rate) at least every ``interval`` seconds, so long runs
show life even while a single request is slow.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

COUNTERS = (
    "received",
    "created",
    "updated",
    "unchanged",
    "echoes_skipped",
    "matched",
    "conflicts",
    "rejected",
    "links_retired",
    "deletions_seen",
    "links_moved",
    "relinked",
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RunReport:
    """Everything a target did in one run; safe to share between sink threads."""

    target: str
    tenant: str
    started_at: str = field(default_factory=_now)
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    links_retired: list[dict[str, Any]] = field(default_factory=list)
    links_moved: list[dict[str, Any]] = field(default_factory=list)  # S6: a converted lead
    matches: list[dict[str, Any]] = field(default_factory=list)
    planned: list[dict[str, Any]] = field(default_factory=list)  # dry_run (S14): what would be done
    dry_run: bool = False
    ignored_streams: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _started: float = field(default_factory=time.monotonic, repr=False)

    def count(self, stream: str, counter: str, n: int = 1) -> None:
        if counter not in COUNTERS:
            msg = f"unknown report counter {counter!r}"
            raise ValueError(msg)
        with self._lock:
            self.counts.setdefault(stream, Counter())[counter] += n

    def conflict(self, stream: str, record_id: str, **details: Any) -> None:
        """One field decided by recency (S5.2): details name the field, kept and lost values."""
        with self._lock:
            self.conflicts.append({"stream": stream, "record_id": record_id, **details})
            self.counts.setdefault(stream, Counter())["conflicts"] += 1

    def reject(self, stream: str, record_id: str, reason: str, **details: Any) -> None:
        with self._lock:
            self.rejected.append(
                {"stream": stream, "record_id": record_id, "reason": reason, **details}
            )
            self.counts.setdefault(stream, Counter())["rejected"] += 1

    def retire(self, stream: str, record_id: str, reason: str, **details: Any) -> None:
        with self._lock:
            self.links_retired.append(
                {"stream": stream, "record_id": record_id, "reason": reason, **details}
            )
            self.counts.setdefault(stream, Counter())["links_retired"] += 1

    def move(self, stream: str, record_id: str, **details: Any) -> None:
        """A link that followed its Sell record into another (a converted lead, S6)."""
        with self._lock:
            self.links_moved.append({"stream": stream, "record_id": record_id, **details})
            self.counts.setdefault(stream, Counter())["links_moved"] += 1

    def match(self, stream: str, record_id: str, **details: Any) -> None:
        with self._lock:
            self.matches.append({"stream": stream, "record_id": record_id, **details})
            self.counts.setdefault(stream, Counter())["matched"] += 1

    def plan(self, stream: str, record_id: str, **details: Any) -> None:
        """S14: one write a real run would make (action, destination, field changes)."""
        with self._lock:
            self.planned.append({"stream": stream, "record_id": record_id, **details})

    def total(self, counter: str) -> int:
        with self._lock:
            return sum(c[counter] for c in self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "target": self.target,
                "tenant": self.tenant,
                "started_at": self.started_at,
                "finished_at": _now(),
                "duration_s": round(time.monotonic() - self._started, 3),
                "streams": {
                    stream: {name: counts[name] for name in COUNTERS}
                    for stream, counts in sorted(self.counts.items())
                },
                "ignored_streams": sorted(self.ignored_streams),
                "conflicts": list(self.conflicts),
                "rejected": list(self.rejected),
                "links_retired": list(self.links_retired),
                "links_moved": list(self.links_moved),
                "matches": list(self.matches),
                **({"dry_run": True, "planned": list(self.planned)} if self.dry_run else {}),
            }

    def summary_lines(self) -> list[str]:
        """Human-readable summary: one line per stream, then each conflict/rejection/retirement."""
        data = self.to_dict()
        lines = [f"{self.target} report (tenant {self.tenant}, {data['duration_s']} s)"]
        for stream, counts in data["streams"].items():
            shown = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in counts.items())
            lines.append(f"  {stream}: {shown}")
        lines.extend(
            f"  conflict {c['stream']} {c['record_id']} {c.get('field')}: kept "
            f"{c.get('kept')!r} ({c.get('kept_origin', '?')}), overwritten {c.get('overwritten')!r}"
            f" ({c.get('overwritten_origin', '?')})"
            for c in data["conflicts"]
        )
        lines.extend(
            f"  rejected {r['stream']} {r['record_id']}: {r['reason']}" for r in data["rejected"]
        )
        lines.extend(
            f"  link retired {r['stream']} {r['record_id']}: {r['reason']}"
            for r in data["links_retired"]
        )
        lines.extend(f"  ignored stream {s}" for s in data["ignored_streams"])
        return lines

    def finish(self, logger: logging.Logger, report_path: str | None) -> dict[str, Any]:
        """Log the summary and, when asked, write the JSON report (parents created)."""
        data = self.to_dict()
        for line in self.summary_lines():
            logger.info(line)
        if report_path:
            path = Path(report_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
            tmp.replace(path)
            logger.info("run report written to %s", path)
        return data


class ProgressTicker:
    """Logs ``received`` count and rate every ``interval`` seconds from a daemon thread."""

    def __init__(self, report: RunReport, logger: logging.Logger, interval: float = 10.0) -> None:
        self._report = report
        self._logger = logger
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._started = time.monotonic()

    def __enter__(self) -> ProgressTicker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            done = self._report.total("received")
            elapsed = max(time.monotonic() - self._started, 1e-9)
            self._logger.info(
                "progress: %d records in %.0f s (%.1f/s); created %d, updated %d",
                done,
                elapsed,
                done / elapsed,
                self._report.total("created"),
                self._report.total("updated"),
            )
