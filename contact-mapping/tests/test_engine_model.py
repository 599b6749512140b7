"""The real sync engine, both directions, against in-memory Exchange and Sell, driven by
hypothesis: random user edits on both sides, two-way rounds in either order, replays of old
batches and crashes at any write, with the invariants checked after every step."""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path

import pytest
from contact_mapping.canonical import Canonical, field_key
from contact_mapping.exchange_ids import PROTOCOLS
from contact_mapping.ledger import Ledger
from contact_mapping.report import RunReport
from contact_mapping.sync import Incoming, SyncEngine
from contact_mapping.sync.memory import (
    Crash,
    Faults,
    MemoryExchange,
    MemorySell,
    Tap,
    World,
    agreement,
)
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

EDITABLE = ("first_name", "last_name", "title", "email", "mobile", "website", "notes")
VALUES = {
    "first_name": st.sampled_from(["Ann", "Bob", "Cy", None]),
    "last_name": st.sampled_from(["Lee", "Ng", "Ortiz"]),
    "title": st.sampled_from(["CTO", "CEO", "Engineer", None]),
    "email": st.sampled_from(["a@x.example", "b@x.example", "c@y.example", None]),
    "mobile": st.sampled_from(["+12025550100", "(202) 555-0101", None]),
    "website": st.sampled_from(["https://x.example", None]),
    "notes": st.sampled_from(["met at expo", "called back", None]),
}
people = st.builds(
    Canonical,
    first_name=VALUES["first_name"],
    last_name=VALUES["last_name"],
    title=VALUES["title"],
    email=VALUES["email"],
    mobile=VALUES["mobile"],
)
companies = st.builds(
    Canonical,
    display_name=st.sampled_from(["Acme", "Globex", "Initech"]),
    website=VALUES["website"],
    is_organization=st.just(True),
)
edits = st.sampled_from(EDITABLE).flatmap(lambda f: st.tuples(st.just(f), VALUES[f]))
crashes = st.one_of(st.none(), st.tuples(st.integers(min_value=1, max_value=6), st.booleans()))
LEDGER_DIR: list[Path] = []
TENANTS = itertools.count()
log = logging.getLogger("model")


class TwoWaySync(RuleBasedStateMachine):
    """Over EWS or Microsoft Graph (S13.1: every rule holds over both), where the tenant may
    switch from EWS to Graph between any two runs (S13.2)."""

    @initialize(protocol=st.sampled_from(PROTOCOLS))
    def start(self, protocol: str) -> None:
        self.world = World(protocol=protocol)
        self.ledger = Ledger(
            f"sqlite:///{LEDGER_DIR[0] / 'model.sqlite'}", tenant=f"t{next(TENANTS)}"
        )
        self.taps = {"exchange": Tap(self.world, "exchange"), "sell": Tap(self.world, "sell")}
        self.uids = itertools.count()
        self.reported: set[tuple[str, str, str | None, str]] = (
            set()
        )  # (sell ref, field, value, origin)

    def teardown(self) -> None:
        self.ledger.close()

    def _pick(self, data, side: str, **only: object) -> str | None:
        """Any live record of a side, whoever made it (the user or the sync)."""
        live = self.world.live_exchange() if side == "exchange" else self.world.live_sell()
        keys = sorted(
            k for k, r in live.items() if all(getattr(r, a) == v for a, v in only.items())
        )
        return data.draw(st.sampled_from(keys)) if keys else None

    # -- the user ------------------------------------------------------------------------------
    @rule(person=people)
    def user_creates_in_exchange(self, person: Canonical) -> None:
        self.world.user_exchange(person, f"u{next(self.uids)}", ["Clients"])

    @rule(record=st.one_of(people, companies), lead=st.booleans())
    def user_creates_in_sell(self, record: Canonical, lead: bool) -> None:
        kind = "lead" if lead and not record.is_organization else "contact"
        self.world.user_sell(record, f"u{next(self.uids)}", kind)

    @rule(data=st.data(), edit=edits)
    def user_edits_exchange(self, data, edit: tuple[str, str | None]) -> None:
        key = self._pick(data, "exchange")
        if key:
            self.world.edit_exchange(key, dict([edit]))

    @rule(data=st.data(), edit=edits)
    def user_edits_sell(self, data, edit: tuple[str, str | None]) -> None:
        key = self._pick(data, "sell")
        if key:
            self.world.edit_sell(key, dict([edit]))

    @rule(data=st.data(), field_=st.sampled_from(EDITABLE), sell_last=st.booleans())
    def user_edits_one_field_on_both_sides(self, data, field_: str, sell_last: bool) -> None:
        """A conflict (S5.2): one field of a linked pair edited on both sides, either first."""
        links = self.ledger.active_links()
        live_x, live_s = self.world.live_exchange(), self.world.live_sell()
        items = {k.id: self.world.item_key(k.exchange_id, any_protocol=True) for k in links}
        pairs = [k for k in links if items[k.id] in live_x and k.sell_ref in live_s]
        if not pairs:
            return
        link = data.draw(st.sampled_from(pairs))
        item = str(items[link.id])
        x_value, s_value = data.draw(VALUES[field_]), data.draw(VALUES[field_])
        steps = [
            lambda: self.world.edit_exchange(item, {field_: x_value}),
            lambda: self.world.edit_sell(link.sell_ref, {field_: s_value}),
        ]
        for step in steps if sell_last else reversed(steps):
            step()

    @rule(data=st.data(), status=st.sampled_from(["none", "prospect", "lost", "customer"]))
    def user_moves_a_deal(self, data, status: str) -> None:
        key = self._pick(data, "sell", kind="contact")
        if key:
            self.world.edit_sell(key, status=status)

    @rule(data=st.data(), deal=st.booleans())
    def user_converts_a_lead(self, data, deal: bool) -> None:
        """S6: a converted lead is not a deletion; its Exchange contact follows the new one."""
        key = self._pick(data, "sell", kind="lead")
        if key:
            self.world.convert_lead(key, deal)

    @rule(data=st.data())
    def user_deletes_in_exchange(self, data) -> None:
        key = self._pick(data, "exchange")
        if key:
            self.world.delete_exchange(key)

    @rule(data=st.data())
    def user_merges_in_sell(self, data) -> None:
        """S4.3: the merged-away record disappears; the survivor may be edited."""
        loser, survivor = self._pick(data, "sell"), self._pick(data, "sell")
        if loser and survivor and loser != survivor:
            self.world.edit_sell(survivor, {"notes": "merged"})
            self.world.delete_sell(loser)

    # -- the sync ------------------------------------------------------------------------------
    def run(self, side: str, crash: tuple[int, bool] | None = None, batch=None) -> int:
        """One target run; returns the writes it made. A crash leaves the tap's bookmark."""
        tap = self.taps[side]
        records, top = tap.read() if batch is None else (batch, tap.bookmark)
        faults = Faults(*crash) if crash else Faults()
        world = self.world
        before = world.exchange_writes + world.sell_writes
        report = RunReport("model", "t")
        if side == "exchange":
            sell = MemorySell(world, faults)
            engine = SyncEngine("exchange", self.ledger, sell, report)
        else:
            engine = SyncEngine("sell", self.ledger, MemoryExchange(world, faults), report)
        try:
            if side == "exchange":
                sell.deliver_kept(self.ledger)
            else:
                engine.follow_moves(tap.moves())  # tap-sell emits lead_conversions first
            engine.process(records)
        except Crash:
            return world.exchange_writes + world.sell_writes - before
        finally:
            self._note_conflicts(side, report)
            self._check_retired(report)
        if batch is None:
            tap.bookmark = top
        return world.exchange_writes + world.sell_writes - before

    def _note_conflicts(self, side: str, report: RunReport) -> None:
        for c in report.conflicts:
            ref = c["destination"] if side == "exchange" else c["record_id"]
            value = field_key(c["field"], c["overwritten"])
            self.reported.add((ref, c["field"], value, c["overwritten_origin"]))

    def _check_retired(self, report: RunReport) -> None:
        """S6, S13.2: a link is retired only when one of its records is really gone (never
        because its Exchange id is of the protocol the tenant left)."""
        for retired in report.links_retired:
            keys = {retired["record_id"], retired["destination"]}
            items = [self.world.item_key(k, any_protocol=True) for k in keys]
            gone = [self.world.exchange[i].deleted for i in items if i is not None]
            gone += [self.world.sell[k].deleted for k in keys if k in self.world.sell]
            assert any(gone), f"link retired with both records live: {retired}"

    def round(self, exchange_first: bool, crash=None, crash_side: str = "exchange") -> int:
        order = ("exchange", "sell") if exchange_first else ("sell", "exchange")
        return sum(self.run(s, crash if s == crash_side else None) for s in order)

    @rule(
        exchange_first=st.booleans(),
        crash=crashes,
        crash_side=st.sampled_from(["exchange", "sell"]),
    )
    def two_way_round(self, exchange_first: bool, crash, crash_side: str) -> None:
        self.round(exchange_first, crash, crash_side)

    @precondition(lambda self: any(self.taps[s].emitted for s in ("exchange", "sell")))
    @rule(side=st.sampled_from(["exchange", "sell"]), data=st.data())
    def replay_an_old_batch(self, side: str, data) -> None:
        """S7.2: Singer is at-least-once; an old batch may arrive again at any time."""
        emitted = self.taps[side].emitted
        if emitted:
            batch: list[Incoming] = data.draw(st.sampled_from(emitted))
            self.run(side, batch=batch)

    @precondition(lambda self: self.world.protocol == "ews")
    @rule()
    def tenant_switches_to_graph(self) -> None:
        """S13.2: the same mailbox, reached over Graph from the next run on: every item has
        another id, which nothing can translate; tap-exchange-contacts starts a new state (it
        reads every contact once) and never replays a batch of EWS ids."""
        self.world.protocol = "graph"
        self.taps["exchange"] = Tap(self.world, "exchange")

    @rule(exchange_first=st.booleans())
    def quiet_rounds(self, exchange_first: bool) -> None:
        """S7.3: after a round that follows the last edit both sides agree on every field
        mapped both ways; S7.1: a further round writes nothing. That holds after ONE round in
        the product's order (Exchange → Sell, then Sell → Exchange: `two-way-sync`), where the
        second run carries every decision of the first to its side. Started the other way
        round, what Exchange → Sell decides reaches Exchange in the next round (S7.1: both
        directions twice)."""
        self.round(exchange_first)
        if not exchange_first:
            self.round(exchange_first)
        assert agreement(self.world, self.ledger) == []
        self.check_kept_values(complete=True)
        self.check_links_readdressed()
        writes = self.round(exchange_first)
        assert writes == 0, "a round with no user edits wrote again"

    # -- invariants after every step -------------------------------------------------------------
    @invariant()
    def one_link_per_record_and_no_duplicates(self) -> None:
        links = self.ledger.active_links()
        assert len({link.exchange_id for link in links}) == len(links)
        assert len({link.sell_ref for link in links}) == len(links)
        for side in (self.world.live_exchange(), self.world.live_sell()):
            uids = [r.uid for r in side.values()]
            dupes = {u for u in uids if uids.count(u) > 1}
            assert not dupes, f"duplicated records: {dupes}"

    def check_links_readdressed(self) -> None:
        """S13.2: after a quiet round every link of a live contact holds the id of the tenant's
        protocol: it was re-found (Sell-link property, change key or S4), never left behind."""
        for link in self.ledger.active_links():
            key = self.world.item_key(link.exchange_id, any_protocol=True)
            assert key is not None, f"link names no item: {link}"
            item = self.world.exchange[key]
            if not item.deleted:
                assert self.world.item_key(link.exchange_id) == key, f"not re-found: {link}"

    @invariant()
    def no_value_lost_twice(self) -> None:
        self.check_kept_values(complete=False)

    def check_kept_values(self, complete: bool) -> None:
        """S5.2/S5.5: a losing value is kept in Sell exactly once (and, after a quiet round,
        every reported one is there)."""
        kept: set[tuple[str, str, str | None, str]] = set()
        for ref, record in self.world.sell.items():
            seen: set[tuple[str, str | None, str]] = set()
            for line in filter(None, record.kept.split("\n")):
                _, origin, rest = line.split(" ", 2)
                name, _, shown = rest.partition(": ")
                value = None if shown == "(blank)" else __import__("json").loads(shown)
                entry = (name, field_key(name, value), origin)
                assert entry not in seen, f"{ref} keeps {entry} twice"
                seen.add(entry)
                kept.add((ref, *entry))
        if complete:
            live = set(self.world.live_sell())
            missing = {r for r in self.reported if r[0] in live} - kept
            assert not missing, f"lost values not kept in Sell: {missing}"


TwoWaySync.TestCase.settings = settings(
    # MODEL_SHRINK=0 reports the first failing run as found (debugging; shrinking can take minutes).
    phases=[Phase.explicit, Phase.reuse, Phase.generate]
    if os.environ.get("MODEL_SHRINK") == "0"
    else list(Phase),
    report_multiple_bugs=False,
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture
def _ledger_dir(tmp_path: Path) -> None:
    LEDGER_DIR[:] = [tmp_path]


@pytest.mark.spec("S4.2", "S5.2", "S5.5", "S6", "S7.1", "S7.2", "S7.3", "S13.1", "S13.2")
@pytest.mark.usefixtures("_ledger_dir")
def test_two_way_sync_model() -> None:
    TwoWaySync.TestCase().runTest()


ANN = Canonical(first_name="Ann", last_name="Lee", title="CTO", email="a@x.example")


@pytest.mark.spec("S13.2")
@pytest.mark.usefixtures("_ledger_dir")
def test_a_twin_in_sell_does_not_take_a_contact_linked_over_ews() -> None:
    """Found by the model: after the switch, an unlinked Sell twin of a linked contact must
    not match (S4) its Exchange contact, which the ledger knows by its EWS id only: that
    contact carries its record's Sell link, which keeps it out of matching (as in
    target-exchange's index), so the twin gets a contact of its own and the link is re-found."""
    model = TwoWaySync()
    model.start(protocol="ews")
    model.user_creates_in_sell(ANN, lead=False)
    model.quiet_rounds(exchange_first=False)
    model.user_creates_in_sell(ANN, lead=False)
    model.tenant_switches_to_graph()
    try:
        model.quiet_rounds(exchange_first=False)
    finally:
        model.teardown()


@pytest.mark.spec("S7.2")
@pytest.mark.usefixtures("_ledger_dir")
def test_a_late_replay_after_two_writes_to_exchange_is_recognised_as_old() -> None:
    """Found by the model: an Exchange write answers with the item's new change key but no
    modification time, so the link must keep the last time it saw rather than forget it;
    otherwise an Exchange batch older than two of the sync's own writes (not the version the
    last write replaced) is taken for news and puts old values back into Sell."""
    model = TwoWaySync()
    model.start(protocol="ews")
    model.user_creates_in_exchange(ANN)
    model.quiet_rounds(exchange_first=True)
    item = next(iter(model.world.live_exchange()))
    model.world.edit_exchange(item, {"title": "CEO"})
    model.round(exchange_first=True)
    old_batch = model.taps["exchange"].emitted[-1]
    for title in ("Chair", "Founder"):
        sell_ref = next(iter(model.world.live_sell()))
        model.world.edit_sell(sell_ref, {"title": title})
        model.round(exchange_first=True)
    try:
        assert model.run("exchange", batch=old_batch) == 0
        assert {r.canonical.title for r in model.world.live_sell().values()} == {"Founder"}
        model.quiet_rounds(exchange_first=True)
    finally:
        model.teardown()
