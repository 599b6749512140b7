"""The newest-first pass against a simulated Sell list that changes while the tap pages.

The simulated list is sorted like Sell's ``sort_by=updated_at:desc`` and paged like Sell's
``page``/``per_page`` (aligned windows), so shifts caused by deletes, updates and creates between
two requests hit the tap exactly as they would against the API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tap_sell.incremental import Bookmark, Span, fold_span, parse_time
from tap_sell.pagination import Window, window_after, window_before
from tap_sell.streams import NewestFirstStream

pytestmark = pytest.mark.spec("S9")

TOKEN = "t" * 64
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
CONFIG = {"api_token": TOKEN, "api_url": "http://sell.invalid", "requests_per_second": 0}


class FakeList:
    """Records ``id -> second``; ``before_read`` hooks mutate it between two page requests."""

    run_tap: Callable

    def __init__(self, stamps: dict[int, int]) -> None:
        self.stamps = dict(stamps)
        self.reads: list[Window] = []
        self.before_read: Callable[[FakeList, int], None] | None = None
        self.next_id = max(stamps, default=0) + 1
        self.clock = max(stamps.values(), default=0)

    def record(self, record_id: int) -> dict:
        stamp = EPOCH + timedelta(seconds=self.stamps[record_id])
        return {"id": record_id, "updated_at": stamp.strftime("%Y-%m-%dT%H:%M:%SZ")}

    def ordered(self) -> list[int]:
        return sorted(self.stamps, key=lambda i: (-self.stamps[i], i))

    def read(self, window: Window) -> list[dict]:
        if self.before_read is not None:
            self.before_read(self, len(self.reads))
        self.reads.append(window)
        ids = self.ordered()[window.start : window.start + window.size]
        return [self.record(i) for i in ids]

    def update(self, record_id: int, *, same_second: bool = False) -> None:
        if not same_second:
            self.clock += 1
        self.stamps[record_id] = self.clock

    def create(self, *, same_second: bool = False) -> int:
        if not same_second:
            self.clock += 1
        record_id, self.next_id = self.next_id, self.next_id + 1
        self.stamps[record_id] = self.clock
        return record_id

    def versions(self) -> set[tuple[int, str]]:
        return {(i, self.record(i)["updated_at"]) for i in self.stamps}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tap_runner) -> FakeList:
    holder = FakeList({})

    def read_window(self: NewestFirstStream, window: Window, context: object) -> list[dict]:
        return holder.read(window)

    monkeypatch.setattr(NewestFirstStream, "_read_window", read_window)
    holder.run_tap = tap_runner
    return holder


def sync(fake: FakeList, state: dict | None = None, **extra: object):
    fake.reads.clear()
    return fake.run_tap({**CONFIG, **extra}, state, streams=("contacts",))


def emitted(run) -> set[tuple[int, str]]:
    return {(r["id"], r["updated_at"]) for r in run.records["contacts"]}


def load(fake: FakeList, stamps: dict[int, int]) -> None:
    fake.stamps = dict(stamps)
    fake.next_id = max(stamps, default=0) + 1
    fake.clock = max(stamps.values(), default=0)
    fake.before_read = None


def test_first_run_emits_all_once_and_second_run_reads_one_page(fake: FakeList) -> None:
    load(fake, {i: i // 3 for i in range(1, 1001)})  # ties: three records per second
    first = sync(fake)
    assert sorted(first.ids("contacts")) == list(range(1, 1001))
    assert len(fake.reads) <= 12  # ~100 new records per request despite the overlap
    second = sync(fake, first.state)
    assert second.ids("contacts") == []
    assert len(fake.reads) == 1
    bookmark = second.state["bookmarks"]["contacts"]
    assert bookmark["replication_key_value"] == "2024-01-01T00:05:33Z"
    assert bookmark["bookmark_ids"] == [999, 1000]
    assert "pass" not in bookmark


def test_ties_at_the_bookmark_second_are_emitted_exactly(fake: FakeList) -> None:
    load(fake, {1: 5, 2: 7, 3: 7})
    first = sync(fake)
    fake.stamps.update({4: 7, 5: 7})  # two more records land in the bookmark's second
    second = sync(fake, first.state)
    assert sorted(second.ids("contacts")) == [4, 5]
    assert sync(fake, second.state).ids("contacts") == []


def test_updates_are_emitted_exactly_once_next_run(fake: FakeList) -> None:
    load(fake, {i: i for i in range(1, 301)})
    first = sync(fake)
    for record_id in (3, 50, 299):
        fake.update(record_id)
    second = sync(fake, first.state)
    assert sorted(second.ids("contacts")) == [3, 50, 299]
    assert len(fake.reads) == 1


def test_deletes_while_paging_lose_nothing(fake: FakeList) -> None:
    load(fake, {i: i for i in range(1, 501)})

    def delete_read_ones(lst: FakeList, reads: int) -> None:
        if reads in (1, 2, 3):  # after each of the first pages: delete 3 records already read
            for record_id in lst.ordered()[:3]:
                del lst.stamps[record_id]

    fake.before_read = delete_read_ones
    run = sync(fake)
    assert set(fake.stamps) <= set(run.ids("contacts"))


def test_updates_and_creates_while_paging_are_caught_next_run(fake: FakeList) -> None:
    load(fake, {i: i for i in range(1, 501)})

    def churn(lst: FakeList, reads: int) -> None:
        if reads in (1, 2):
            lst.update(lst.ordered()[-1])  # an unread record jumps to the top
            lst.create()

    fake.before_read = churn
    first = sync(fake)
    fake.before_read = None
    second = sync(fake, first.state)
    assert fake.versions() <= emitted(first) | emitted(second)
    assert sync(fake, second.state).ids("contacts") == []


@pytest.mark.spec("S7.2")
def test_interrupted_run_resumes_without_loss(fake: FakeList) -> None:
    load(fake, {i: i // 2 for i in range(1, 451)})
    tap_state: dict = {}
    from tap_sell.tap import TapSell

    tap = TapSell(config=CONFIG, state=tap_state)
    stream = cast(NewestFirstStream, tap.streams["contacts"])
    got = []
    for record in stream.get_records(None):
        got.append(record["id"])
        if len(got) == 250:
            break  # the run dies mid-page
    interrupted_state = {"bookmarks": {"contacts": dict(stream.stream_state)}}
    assert "pass" in interrupted_state["bookmarks"]["contacts"]
    assert "replication_key_value" not in interrupted_state["bookmarks"]["contacts"]
    fake.update(7)  # a change while the tap was down
    resumed = sync(fake, interrupted_state)
    assert set(got) | set(resumed.ids("contacts")) == set(range(1, 451))
    assert 7 in resumed.ids("contacts")
    assert len(resumed.ids("contacts")) <= 450 - 250 + 100  # at most one page is repeated
    assert sync(fake, resumed.state).ids("contacts") == []


def test_start_date_skips_older_records(fake: FakeList) -> None:
    load(fake, {i: i * 60 for i in range(1, 11)})
    run = sync(fake, start_date="2024-01-01T00:05:00Z")
    assert sorted(run.ids("contacts")) == [5, 6, 7, 8, 9, 10]


# --- helpers in isolation ----------------------------------------------------------------------


def test_windows_overlap_the_last_handled_item_and_stay_large() -> None:
    for last in (0, 99, 197, 250, 999, 4321, 9999, 123456):
        window = window_after(last)
        assert window.start <= last < window.start + window.size - 1
        assert window.start % window.size == 0
        assert window.start + window.size - 1 - last >= 50
    assert window_after(-1) == Window(0, 100)
    back = window_before(Window(196, 98))
    assert back.start < 196


def test_fold_span_merges_a_pass_that_walked_through_an_older_span() -> None:
    t = [parse_time(f"2024-01-01T00:00:{s:02d}Z") for s in range(10)]
    older = Span(newest=t[6], oldest=t[3], newest_ids={60}, oldest_ids={30})
    below = Span(newest=t[1], oldest=t[0], newest_ids={10}, oldest_ids={1})
    spans = fold_span([below, older], Span(newest=t[9], oldest=t[4], newest_ids={90}))
    assert spans[0] == below
    assert spans[1].oldest == t[3]
    assert spans[1].covers(t[3], 30)
    assert not spans[1].covers(t[3], 31)


def test_bookmark_prefers_a_later_start_date() -> None:
    state = {"replication_key_value": "2024-01-01T00:00:00Z", "bookmark_ids": [1]}
    book = Bookmark.from_state(state, "2024-06-01")
    assert book.value == parse_time("2024-06-01T00:00:00Z")
    assert book.ids == set()


# --- property: whatever changes while paging, no change is lost -----------------------------

mutation = st.tuples(st.sampled_from(["delete", "update", "create", "tie"]), st.integers(0, 10_000))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    size=st.integers(0, 420),
    spread=st.integers(1, 4),
    plan=st.dictionaries(st.integers(0, 8), st.lists(mutation, max_size=6), max_size=6),
    stop_after=st.one_of(st.none(), st.integers(1, 400)),
)
def test_no_change_is_lost_under_random_churn(
    fake: FakeList, size: int, spread: int, plan: dict, stop_after: int | None
) -> None:
    load(fake, {i: i // spread for i in range(1, size + 1)})

    def churn(lst: FakeList, reads: int) -> None:
        for kind, pick in plan.get(reads, []):
            ids = lst.ordered()
            if kind == "create" or not ids:
                lst.create()
            elif kind == "delete":
                del lst.stamps[ids[pick % len(ids)]]
            elif kind == "tie":
                lst.create(same_second=True)  # a new record in the newest second so far
            else:
                lst.update(ids[pick % len(ids)])

    fake.before_read = churn
    seen: set[tuple[int, str]] = set()
    state: dict = {}
    if stop_after is not None:
        from tap_sell.tap import TapSell

        tap = TapSell(config=CONFIG, state={})
        stream = cast(NewestFirstStream, tap.streams["contacts"])
        for count, record in enumerate(stream.get_records(None), start=1):
            seen.add((record["id"], record["updated_at"]))
            if count >= stop_after:
                break
        state = {"bookmarks": {"contacts": dict(stream.stream_state)}}
    for _ in range(3):
        run = sync(fake, state)
        seen |= emitted(run)
        state = run.state
        fake.before_read = None
    assert fake.versions() <= seen
    assert sync(fake, state).ids("contacts") == []
