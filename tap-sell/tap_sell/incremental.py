"""Bookmark bookkeeping for reading Sell newest-first (``sort_by=updated_at:desc``).

Sell has no "changed since" filter, so an incremental pass reads from the newest record down and
stops at the bookmark. That shapes the state kept per stream:

- ``replication_key_value`` (the bookmark ``B``) and ``bookmark_ids``: every record updated
  before ``B``, and the records *at* ``B`` whose ids are listed, were emitted. Several records can
  share one second, so the ids at ``B`` are skipped exactly, not the whole second.
- ``spans``: stretches ``[oldest, newest]`` of the order that an interrupted pass already emitted
  (with the ids at both ends). A pass skips them, so a resumed run re-emits nothing it finished.
- ``pass``: the stretch the running pass has emitted so far (``newest`` = the newest record when
  the pass began, ``oldest`` = where it has got to). Written once the SDK has sent every record
  of a page, so a STATE taken at any moment (every N records, SIGTERM) never claims an unsent
  record. It
  becomes a span when a run is interrupted; it is folded into the bookmark when the pass reaches
  the bookmark (only then may ``B`` move, since newer-first reading emits the newest first).

A record's ``updated_at`` only grows, so a stretch once emitted stays emitted: a record updated
later leaves it (to the top of the order), and the next pass sees it as new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any


def parse_time(value: str | datetime) -> datetime:
    """Sell stamps are ISO 8601 UTC (``2014-08-27T16:32:56Z``); start_date may be a bare date."""
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Span:
    """Records in ``[oldest, newest]`` of the updated_at order that were emitted.

    At the two ends only the listed ids are covered: other records sharing that second are not.
    """

    newest: datetime
    oldest: datetime
    newest_ids: set[int] = field(default_factory=set)
    oldest_ids: set[int] = field(default_factory=set)

    def covers(self, stamp: datetime, record_id: int) -> bool:
        if stamp == self.newest and record_id in self.newest_ids:
            return True
        if stamp == self.oldest and record_id in self.oldest_ids:
            return True
        return self.oldest < stamp < self.newest

    def to_state(self) -> dict[str, Any]:
        return {
            "newest": format_time(self.newest),
            "newest_ids": sorted(self.newest_ids),
            "oldest": format_time(self.oldest),
            "oldest_ids": sorted(self.oldest_ids),
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Span:
        return cls(
            newest=parse_time(data["newest"]),
            oldest=parse_time(data["oldest"]),
            newest_ids={int(i) for i in data.get("newest_ids", [])},
            oldest_ids={int(i) for i in data.get("oldest_ids", [])},
        )


def fold_span(spans: list[Span], new: Span) -> list[Span]:
    """Add the stretch a (now interrupted) pass emitted; spans it walked through merge into it.

    A pass walks continuously from ``new.newest`` down to ``new.oldest`` (skipping what older
    spans cover), so any older span reaching up to ``new.oldest`` or above joins it.
    """
    kept: list[Span] = []
    merged = Span(new.newest, new.oldest, set(new.newest_ids), set(new.oldest_ids))
    for span in spans:
        if span.newest < merged.oldest:
            kept.append(span)
            continue
        if span.oldest < merged.oldest:
            merged.oldest, merged.oldest_ids = span.oldest, set(span.oldest_ids)
        elif span.oldest == merged.oldest:
            merged.oldest_ids |= span.oldest_ids
        if span.newest == merged.newest:
            merged.newest_ids |= span.newest_ids
        elif span.newest > merged.newest:  # cannot happen for a pass that began later; keep safe
            merged.newest, merged.newest_ids = span.newest, set(span.newest_ids)
    return [*kept, merged]


class Action(Enum):
    EMIT = "emit"
    SKIP = "skip"  # already emitted (by this pass, an earlier span, or at the bookmark)
    STOP = "stop"  # older than the bookmark: everything from here down was emitted before


@dataclass
class Bookmark:
    """What earlier runs emitted: everything before ``value`` plus ``ids`` at it, and ``spans``."""

    value: datetime | None
    ids: set[int] = field(default_factory=set)
    spans: list[Span] = field(default_factory=list)

    @classmethod
    def from_state(cls, state: dict[str, Any], start_date: str | None) -> Bookmark:
        raw = state.get("replication_key_value")
        value = parse_time(raw) if raw else None
        ids = {int(i) for i in state.get("bookmark_ids", [])} if value else set()
        if start_date:
            start = parse_time(start_date)
            if value is None or start > value:
                value, ids = start, set()
        spans = [Span.from_state(s) for s in state.get("spans", [])]
        if running := state.get("pass"):
            # A pass that never reached the bookmark (run interrupted): keep what it emitted.
            spans = fold_span(spans, Span.from_state(running))
        if value is not None:
            spans = [s for s in spans if s.newest >= value]
        return cls(value=value, ids=ids, spans=spans)


class DescendingPass:
    """Decides, record by record, what a newest-first pass emits and what state it leaves.

    Feed it records in list order: ``classify`` before the record is sent, ``done`` after it was
    sent (or skipped). ``write_state`` always describes only what was sent.
    """

    def __init__(self, bookmark: Bookmark) -> None:
        self.bookmark = bookmark
        self.newest: datetime | None = None  # updated_at of the newest record at the pass start
        self.newest_ids: set[int] = set()
        self.oldest: datetime | None = None  # updated_at of the last record handled
        self.oldest_ids: set[int] = set()
        self.handled: set[int] = set()
        self.finished = False

    def classify(self, record: dict[str, Any]) -> Action:
        stamp = parse_time(record["updated_at"])
        record_id = int(record["id"])
        if record_id in self.handled:
            return Action.SKIP
        book = self.bookmark
        if book.value is not None:
            if stamp < book.value:
                return Action.STOP
            if stamp == book.value and record_id in book.ids:
                return Action.SKIP
        if any(span.covers(stamp, record_id) for span in book.spans):
            return Action.SKIP
        return Action.EMIT

    def done(self, record: dict[str, Any]) -> None:
        """Record handled (sent or skipped): the pass now covers it."""
        stamp = parse_time(record["updated_at"])
        record_id = int(record["id"])
        self.handled.add(record_id)
        if self.newest is None:
            self.newest = stamp
        if stamp == self.newest:
            self.newest_ids.add(record_id)
        if self.oldest is None or stamp < self.oldest:
            self.oldest, self.oldest_ids = stamp, {record_id}
        elif stamp == self.oldest:
            self.oldest_ids.add(record_id)

    def reaches(self, record: dict[str, Any]) -> bool:
        """Whether ``record`` (first of a new page) sits at or above the last handled record.

        If it sits below, records may have moved up past the page boundary (deletes while
        paging), so the page cannot be trusted to continue the pass without a gap.
        """
        if self.oldest is None:
            return True
        stamp = parse_time(record["updated_at"])
        if stamp > self.oldest:
            return True
        return stamp == self.oldest and int(record["id"]) in self.handled

    def write_state(self, state: dict[str, Any], replication_key: str) -> None:
        """Write the stream state: in progress, or (when ``finished``) the moved bookmark."""
        book = self.bookmark
        state["replication_key"] = replication_key
        if self.finished:
            state.pop("pass", None)
            state.pop("spans", None)
            if self.newest is not None and (book.value is None or self.newest > book.value):
                state["replication_key_value"] = format_time(self.newest)
                state["bookmark_ids"] = sorted(self.newest_ids)
            elif book.value is not None:
                state["replication_key_value"] = format_time(book.value)
                ids = book.ids | (self.newest_ids if self.newest == book.value else set())
                state["bookmark_ids"] = sorted(ids)
            return
        if book.value is not None:
            state["replication_key_value"] = format_time(book.value)
            state["bookmark_ids"] = sorted(book.ids)
        if book.spans:
            state["spans"] = [s.to_state() for s in book.spans]
        if self.newest is not None and self.oldest is not None:
            state["pass"] = Span(
                self.newest, self.oldest, self.newest_ids, self.oldest_ids
            ).to_state()
