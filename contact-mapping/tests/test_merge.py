"""Merge identities (hypothesis), the base-update rule over full sync cycles, and plan_write."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from contact_mapping import (
    MAPPED_FIELDS,
    Action,
    Canonical,
    append_overwritten,
    format_overwritten,
    from_exchange,
    from_sell_contact,
    merge,
    next_snapshot,
    plan_write,
    to_exchange_fields,
    to_sell_contact_payload,
)
from contact_mapping.ledger import Ledger, Link, Rejection, Snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

# Few distinct values so that equal / changed / conflicting fields all occur often.
small = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "+12025550143", "+1 202 555 0143"]))
canonicals = st.builds(
    Canonical, **dict.fromkeys(MAPPED_FIELDS, small), is_organization=st.booleans()
)
bases = st.one_of(st.none(), st.fixed_dictionaries(dict.fromkeys(MAPPED_FIELDS, small)))
times = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
)
PROPS = settings(max_examples=100, deadline=None)


@pytest.mark.spec("S5.1")
@PROPS
@given(bases, canonicals, times, times, st.booleans())
def test_merge_of_two_equal_sides_is_that_side(base, x, xt, st_, first) -> None:
    assert merge(base, x, x, xt, st_, first).values == x.values()


@pytest.mark.spec("S5.1")
@PROPS
@given(st.fixed_dictionaries(dict.fromkeys(MAPPED_FIELDS, small)), canonicals, times, times)
def test_merge_takes_the_only_changed_side(base, y, xt, st_) -> None:
    b = Canonical(**base)
    assert merge(base, b, y, xt, st_).values == y.values()
    assert merge(base, y, b, xt, st_).values == y.values()


@pytest.mark.spec("S5.1", "S5.2")
@PROPS
@given(bases, canonicals, canonicals, times, times, st.booleans())
def test_merge_is_deterministic_and_picks_only_existing_values(  # noqa: PLR0917
    base, x, y, xt, st_, first
) -> None:
    one = merge(base, x, y, xt, st_, first)
    assert one == merge(copy.deepcopy(base), x, y, xt, st_, first)
    for f in MAPPED_FIELDS:
        assert one.values[f] in (getattr(x, f), getattr(y, f))
    # Every conflict leaves exactly one overwritten entry (nothing is silently lost).
    assert len(one.overwritten) == len(one.conflicts)


@pytest.mark.spec("S5.2")
def test_formatter_one_line_per_value_and_no_repeats() -> None:
    result = merge(
        {"title": "A", "notes": "x"},
        Canonical(title="B", notes="two\nlines"),
        Canonical(title="C", notes="y"),
        "2024-03-01T10:00:00Z",
        "2024-03-01T09:00:00+00:00",
    )
    text = format_overwritten(result.overwritten)
    assert text.splitlines() == [
        '2024-03-01T09:00:00Z sell title: "C"',
        '2024-03-01T09:00:00Z sell notes: "y"',
    ]
    once = append_overwritten("older line", result.overwritten)
    assert append_overwritten(once, result.overwritten) == once
    assert once.splitlines()[0] == "older line"
    multi = merge(
        {"notes": "x"}, Canonical(notes="two\nlines"), Canonical(notes="y"), None, "2024-01-01"
    )
    assert "\n" not in format_overwritten(multi.overwritten)


# -- the full cycle through both one-directional targets -------------------------------------------
class World:
    """Exchange and Sell as dicts, plus the two targets reduced to their sync decisions."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.clock = datetime(2024, 1, 1, tzinfo=UTC)
        self.change = itertools.count(1)
        self.exchange: dict[str, Any] = {
            "id": "AAMk1",
            "change_key": "ck0",
            "given_name": "Ann",
            "surname": "Lee",
            "job_title": "Engineer",
            "email_address_1": "ann@x.com",
            "phone_numbers": {"MobilePhone": "2025550100"},
            "last_modified_time": self.tick(),
        }
        self.sell: dict[str, Any] = {
            "id": 7,
            "is_organization": False,
            "first_name": "Ann",
            "last_name": "Lee",
            "title": "Engineer",
            "email": "ann@x.com",
            "mobile": "+12025550100",
            "custom_fields": {},
            "updated_at": self.tick(),
        }
        self.writes = {"exchange": 0, "sell": 0}
        x, s = from_exchange(self.exchange), from_sell_contact(self.sell, {})
        self.link = ledger.create_link(
            "AAMk1",
            "contact",
            7,
            Snapshot(
                base=x.values(),
                exchange_values=x.values(),
                exchange_change_key="ck0",
                sell_values=s.values(),
                sell_updated_at=self.sell["updated_at"],
            ),
        )

    def tick(self) -> str:
        self.clock += timedelta(minutes=1)
        return self.clock.isoformat()

    def user_edits_exchange(self, **fields: Any) -> None:
        self.exchange.update(fields)
        self.exchange["change_key"] = f"ck{next(self.change)}"
        self.exchange["last_modified_time"] = self.tick()

    def user_edits_sell(self, **fields: Any) -> None:
        self.sell.update(fields)
        self.sell["updated_at"] = self.tick()

    def run_exchange_to_sell(self) -> str:
        incoming = from_exchange(self.exchange)
        link = self.ledger.links_for_exchange_ids(["AAMk1"])["AAMk1"]
        plan = plan_write(link, "exchange", incoming, modified_marker=self.exchange["change_key"])
        if plan.skip:
            return plan.action
        current = from_sell_contact(self.sell, {})
        result = merge(
            link.snapshot.base,
            incoming,
            current,
            self.exchange["last_modified_time"],
            self.sell["updated_at"],
        )
        changed = result.changed_for(current)
        payload = to_sell_contact_payload(result.merged(current), changed)
        if result.overwritten:
            kept = self.sell["custom_fields"].get("Overwritten values")
            payload["custom_fields"] = {
                "Overwritten values": append_overwritten(kept, result.overwritten)
            }
        if payload:
            self.sell.update(payload)
            self.sell["updated_at"] = self.tick()
            self.writes["sell"] += 1
        snap = next_snapshot("exchange", incoming, current, result.values)
        self.ledger.save_snapshot(
            link.id,
            Snapshot(
                base=snap.base,
                exchange_values=snap.exchange_values,
                exchange_change_key=self.exchange["change_key"],
                exchange_modified=self.exchange["last_modified_time"],
                sell_values=snap.sell_values,
                sell_updated_at=self.sell["updated_at"],
            ),
        )
        return plan.action

    def run_sell_to_exchange(self) -> str:
        incoming = from_sell_contact(self.sell, {})
        link = self.ledger.links_for_sell_ids("contact", [7])[7]
        plan = plan_write(link, "sell", incoming, modified_marker=self.sell["updated_at"])
        if plan.skip:
            return plan.action
        current = from_exchange(self.exchange)
        result = merge(
            link.snapshot.base,
            current,
            incoming,
            self.exchange["last_modified_time"],
            self.sell["updated_at"],
        )
        changed = result.changed_for(current)
        if changed:
            fields = to_exchange_fields(result.merged(current), changed)
            for attr, value in fields.items():
                if attr == "phone_numbers":
                    self.exchange["phone_numbers"] = {**self.exchange["phone_numbers"], **value}
                elif attr == "job_title":
                    self.exchange["job_title"] = value
                elif attr in {"given_name", "surname", "display_name", "file_as"}:
                    self.exchange[attr] = value
            self.exchange["change_key"] = f"ck{next(self.change)}"
            self.exchange["last_modified_time"] = self.tick()
            self.writes["exchange"] += 1
        snap = next_snapshot("sell", incoming, current, result.values)
        self.ledger.save_snapshot(
            link.id,
            Snapshot(
                base=snap.base,
                exchange_values=snap.exchange_values,
                exchange_change_key=self.exchange["change_key"],
                exchange_modified=self.exchange["last_modified_time"],
                sell_values=snap.sell_values,
                sell_updated_at=self.sell["updated_at"],
            ),
        )
        return plan.action

    def both_directions(self) -> tuple[str, str]:
        return self.run_exchange_to_sell(), self.run_sell_to_exchange()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", "acme") as ledger:
        yield World(ledger)


@pytest.mark.spec("S5.1", "S7.1")
def test_cycle_edits_on_both_sides_converge_then_nothing_is_written(world: World) -> None:
    world.user_edits_exchange(job_title="CTO")  # field a, Exchange
    world.user_edits_sell(mobile="+1 202 555 0199")  # field b, Sell
    assert world.both_directions() == ("fetch_and_merge", "fetch_and_merge")
    assert world.writes == {"exchange": 1, "sell": 1}
    assert world.sell["title"] == "CTO"
    assert world.exchange["job_title"] == "CTO"
    assert world.exchange["phone_numbers"]["MobilePhone"] == "+12025550199"
    # S7.1: a further run of both directions decides "nothing to write".
    for _ in range(2):
        actions = world.both_directions()
        assert all(a.startswith("skip_") for a in actions), actions
    assert world.writes == {"exchange": 1, "sell": 1}


@pytest.mark.spec("S5.2", "S7.1")
def test_cycle_conflict_is_decided_once_and_loser_kept_in_sell(world: World) -> None:
    world.user_edits_exchange(job_title="CTO")
    world.user_edits_sell(title="VP")  # later: Sell wins
    world.both_directions()
    assert world.exchange["job_title"] == world.sell["title"] == "VP"
    kept = world.sell["custom_fields"]["Overwritten values"]
    assert kept.endswith('exchange title: "CTO"')
    writes = dict(world.writes)
    for _ in range(2):
        world.both_directions()
    assert world.writes == writes
    assert world.sell["custom_fields"]["Overwritten values"] == kept


@pytest.mark.spec("S5.1", "S7.1")
def test_cycle_starting_with_sell_direction_also_converges(world: World) -> None:
    world.user_edits_exchange(job_title="CTO")
    world.user_edits_sell(mobile="2025550199")
    world.run_sell_to_exchange()
    world.run_exchange_to_sell()
    world.run_sell_to_exchange()
    assert world.sell["title"] == world.exchange["job_title"] == "CTO"
    assert world.exchange["phone_numbers"]["MobilePhone"] == "+12025550199"
    writes = dict(world.writes)
    world.both_directions()
    world.both_directions()
    assert world.writes == writes


@pytest.mark.spec("S7.2")
def test_replayed_record_is_skipped_unchanged(world: World) -> None:
    assert world.run_exchange_to_sell() == "skip_unchanged"
    assert world.run_sell_to_exchange() == "skip_unchanged"
    assert world.writes == {"exchange": 0, "sell": 0}


# -- plan_write outside the cycle ------------------------------------------------------------------
def _link(**snap: Any) -> Link:
    return Link(1, "AAMk1", "contact", 7, "active", Snapshot(**snap))


@pytest.mark.spec("S6", "S7.1", "S10.1")
def test_plan_write_cases() -> None:
    c = Canonical(last_name="Lee", title="CTO", unmapped=frozenset({"display_name"}))
    same = c.values()
    assert plan_write(None, "exchange", c).action == Action.MATCH_OR_CREATE
    retired = Link(1, "AAMk1", "contact", 7, "retired", retired_reason="deleted in Sell")
    assert plan_write(retired, "exchange", c).action == Action.SKIP_RETIRED
    link = _link(base=same, exchange_values=same, exchange_change_key="ck1")
    assert plan_write(link, "exchange", c, modified_marker="ck1").action == Action.SKIP_UNCHANGED
    assert plan_write(link, "exchange", c, modified_marker="ck2").action == Action.SKIP_ECHO
    moved = Canonical(last_name="Lee", title="VP", unmapped=c.unmapped)
    assert plan_write(link, "exchange", moved).action == Action.FETCH_AND_MERGE
    lagging = _link(base={**same, "title": "old"}, exchange_values=same)
    assert plan_write(lagging, "exchange", c).action == Action.FETCH_AND_MERGE
    cats = _link(base=same, sell_values=same, categories=("Sell Person",), sell_updated_at=None)
    assert plan_write(cats, "sell", c, categories={"Sell Person"}).action == Action.SKIP_ECHO
    plan = plan_write(cats, "sell", c, categories={"Sell Person", "Sell Lead"})
    assert plan.action == Action.FETCH_AND_MERGE
    rejection = Rejection("sell", "AAMk1", c.fingerprint(), "422 last_name blank", "t")
    assert plan_write(None, "exchange", c, rejection=rejection).action == Action.SKIP_REJECTED
    assert plan_write(None, "exchange", moved, rejection=rejection).action == Action.MATCH_OR_CREATE
    new_link = _link(base=None, exchange_values=None)
    assert plan_write(new_link, "exchange", c).action == Action.FETCH_AND_MERGE


@pytest.mark.spec("S7.2")
def test_plan_write_skips_late_replays_of_older_versions() -> None:
    """S7.2: a record older than the version the ledger last saw would undo newer values."""
    old = Canonical(last_name="Lee", title="CTO")
    new = Canonical(last_name="Lee", title="CEO")
    link = _link(
        base=new.values(),
        exchange_values=new.values(),
        exchange_modified="2026-01-02T10:00:00+00:00",
        sell_values=new.values(),
        sell_updated_at="2026-01-02T10:00:00+00:00",
    )
    stale = plan_write(link, "exchange", old, modified_at="2026-01-02T09:59:59Z")
    assert stale.action == Action.SKIP_STALE
    assert plan_write(link, "sell", old, modified_marker="2026-01-02T09:00:00Z").action == (
        Action.SKIP_STALE
    )
    # Same second or later: a real change, merged as usual.
    same_second = plan_write(link, "exchange", old, modified_at="2026-01-02T10:00:00Z")
    assert same_second.action == Action.FETCH_AND_MERGE
    later = plan_write(link, "sell", old, modified_marker="2026-01-02T10:00:01Z")
    assert later.action == Action.FETCH_AND_MERGE
    # Without times nothing is hidden.
    assert plan_write(link, "exchange", old).action == Action.FETCH_AND_MERGE


@pytest.mark.spec("S7.2")
def test_plan_write_skips_a_late_replay_of_the_version_our_write_replaced() -> None:
    """S7.2: the replaced version is not older by its time, so its marker identifies it."""
    before = Canonical(last_name="Lee", title="CTO")
    after = Canonical(last_name="Lee", title="CEO")
    link = _link(
        base=after.values(),
        exchange_values=after.values(),
        # target-exchange knows only the fetched item's time: the replaced version has it too
        exchange_modified="2026-01-02T10:00:00+00:00",
        exchange_change_key="ck-after",
        exchange_superseded_key="ck-before",
        sell_values=after.values(),
        sell_updated_at="2026-01-02T10:00:05+00:00",
        sell_superseded_values=before.values(),
    )
    at = "2026-01-02T10:00:00Z"
    replay = plan_write(link, "exchange", before, modified_marker="ck-before", modified_at=at)
    assert replay.action == Action.SKIP_STALE
    # Another version with the same time is a real edit: merged.
    edit = plan_write(link, "exchange", before, modified_marker="ck-user", modified_at=at)
    assert edit.action == Action.FETCH_AND_MERGE
    # Sell: the replaced values, stamped in the second of our write (whole seconds) ...
    same_second = "2026-01-02T10:00:05Z"
    assert plan_write(link, "sell", before, modified_marker=same_second).action == (
        Action.SKIP_STALE
    )
    # ... but the same values a second later are the user's: merged (they undo our write).
    later = "2026-01-02T10:00:06Z"
    assert plan_write(link, "sell", before, modified_marker=later).action == (
        Action.FETCH_AND_MERGE
    )
    other = Canonical(last_name="Lee", title="COO")
    assert plan_write(link, "sell", other, modified_marker=same_second).action == (
        Action.FETCH_AND_MERGE
    )
