"""In-memory Exchange and Sell, with destinations and "taps" over them, for the model-based test.

They keep what matters to the rules and nothing else: records in canonical form, whole-second
modification times, Exchange change keys, Sell categories from deal status, the Exchange
Sell-link property, Sell's kept-values log, at-least-once delivery (a tap's bookmark moves only
when its batch was processed) and writes that may crash before or after they are applied.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from contact_mapping.canonical import MAPPED_FIELDS, Canonical, field_key
from contact_mapping.categories import SELL_CATEGORIES, merge_categories
from contact_mapping.ledger import Ledger, Move
from contact_mapping.matching import Candidate, MatchIndex
from contact_mapping.merge import Side, append_overwritten
from contact_mapping.sync.port import Current, Found, Incoming, Outcome, Write

#: Fields Exchange has no counterpart for, by kind (see exchange_map).
EXCHANGE_UNMAPPED = {True: frozenset({"company"}), False: frozenset({"display_name"})}
#: Fields Sell has no counterpart for (a person's display name, an organisation's company).
SELL_UNMAPPED = {True: frozenset({"company"}), False: frozenset({"display_name"})}
STATUS_CATEGORIES = {
    "none": frozenset(),
    "prospect": frozenset({"Sell Current Prospect"}),
    "lost": frozenset({"Sell Lost Prospect"}),
    "customer": frozenset({"Sell Current Customer"}),
}


class Crash(Exception):  # noqa: N818 - a simulated process death, not an error to handle
    """The process died: nothing after this point of the batch happened."""


@dataclass
class Clock:
    """Whole seconds, moving forward by one per event (Sell stamps whole seconds)."""

    now: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Faults:
    """Crash at the n-th write of a destination, before or after applying it."""

    at: int | None = None
    after_apply: bool = False
    writes: int = 0

    def write(self, apply: Callable[[], Any]) -> Any:
        self.writes += 1
        if self.at is not None and self.writes == self.at:
            self.at = None
            if self.after_apply:
                apply()
            raise Crash
        return apply()


@dataclass
class ExchangeItem:
    canonical: Canonical
    modified: datetime
    change_key: int
    seq: int  # change sequence, what the tap's bookmark follows
    categories: list[str] = field(default_factory=list)
    link: str | None = None
    uid: str = ""  # who the contact really is (to count duplicates); never synced
    deleted: bool = False


@dataclass
class SellRecord:
    kind: str
    canonical: Canonical
    updated_at: datetime
    seq: int
    status: str = "none"
    kept: str = ""  # the 'Overwritten values' custom field
    uid: str = ""
    deleted: bool = False
    exchange_id: str | None = None  # the 'Exchange ID' custom field the sync sets on creates

    def categories(self) -> frozenset[str]:
        if self.kind == "lead":
            return frozenset({"Sell Lead"})
        person = "Sell Company" if self.canonical.is_organization else "Sell Person"
        return frozenset({person}) | STATUS_CATEGORIES[self.status]


@dataclass
class World:
    """Both systems, their clocks and the number of writes each received."""

    clock: Clock = field(default_factory=Clock)
    exchange: dict[str, ExchangeItem] = field(default_factory=dict)
    sell: dict[str, SellRecord] = field(default_factory=dict)
    seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    exchange_writes: int = 0
    sell_writes: int = 0
    conversions: list[tuple[int, Move]] = field(default_factory=list)  # (seq, move)

    # -- user actions --------------------------------------------------------------------------
    def user_exchange(self, canonical: Canonical, uid: str, categories: Sequence[str]) -> str:
        key = f"AAMk{next(self.ids)}"
        self.exchange[key] = ExchangeItem(
            _shaped(canonical, EXCHANGE_UNMAPPED),
            self.clock.tick(),
            1,
            next(self.seq),
            list(categories),
            uid=uid,
        )
        return key

    def user_sell(self, canonical: Canonical, uid: str, kind: str = "contact") -> str:
        key = f"{kind}:{next(self.ids)}"
        self.sell[key] = SellRecord(
            kind, _shaped(canonical, SELL_UNMAPPED), self.clock.tick(), next(self.seq), uid=uid
        )
        return key

    def edit_exchange(self, key: str, values: Mapping[str, Any]) -> None:
        item = self.exchange[key]
        item.canonical = _shaped(item.canonical.with_values(values), EXCHANGE_UNMAPPED)
        self._touch_exchange(item)

    def edit_sell(
        self, key: str, values: Mapping[str, Any] | None = None, status: str = ""
    ) -> None:
        record = self.sell[key]
        if values:
            record.canonical = _shaped(record.canonical.with_values(values), SELL_UNMAPPED)
        if status:
            record.status = status
        self._touch_sell(record)

    def delete_exchange(self, key: str) -> None:
        self.exchange[key].deleted = True
        self.exchange[key].seq = next(self.seq)

    def convert_lead(self, key: str, deal: bool) -> str:
        """Sell's lead conversion: a contact carrying the lead's fields (a current prospect
        with a deal); the lead disappears (the sandbox's default, ``--converted-leads removed``)."""
        lead = self.sell[key]
        new = f"contact:{next(self.ids)}"
        self.sell[new] = SellRecord(
            "contact", lead.canonical, self.clock.tick(), next(self.seq),
            status="prospect" if deal else "none", uid=lead.uid,
        )  # fmt: skip
        lead.deleted = True
        self.conversions.append((next(self.seq), Move(key, new, None, 1 if deal else None)))
        return new

    def delete_sell(self, key: str) -> None:
        self.sell[key].deleted = True

    def _touch_exchange(self, item: ExchangeItem) -> None:
        item.modified = self.clock.tick()
        item.change_key += 1
        item.seq = next(self.seq)

    def _touch_sell(self, record: SellRecord) -> None:
        record.updated_at = self.clock.tick()
        record.seq = next(self.seq)

    def live_exchange(self) -> dict[str, ExchangeItem]:
        return {k: v for k, v in self.exchange.items() if not v.deleted}

    def live_sell(self) -> dict[str, SellRecord]:
        return {k: v for k, v in self.sell.items() if not v.deleted}


def _shaped(c: Canonical, unmapped: Mapping[bool, frozenset[str]]) -> Canonical:
    blanked = dict.fromkeys(unmapped[c.is_organization])
    return replace(c.with_values(blanked), unmapped=unmapped[c.is_organization])


# -- taps: at-least-once, bookmark moves only after the batch was processed ----------------------
@dataclass
class Tap:
    """Records changed since the bookmark; ``commit`` moves it (Singer STATE)."""

    world: World
    side: Side
    bookmark: int = 0
    emitted: list[list[Incoming]] = field(default_factory=list)  # for replays

    def moves(self) -> list[Move]:
        """Sell's ``lead_conversions`` since the bookmark (tap-sell emits them first)."""
        if self.side != "sell":
            return []
        return [m for seq, m in self.world.conversions if seq >= self.bookmark]

    def read(self) -> tuple[list[Incoming], int]:
        """The batch and the bookmark it would move to."""
        out: list[Incoming] = []
        top = max([self.bookmark, *(seq for seq, _ in self.world.conversions)])
        source = self.world.exchange if self.side == "exchange" else self.world.sell
        for key, record in source.items():
            if record.seq > self.bookmark or (self.side == "sell" and record.seq == self.bookmark):
                if self.side == "sell" and record.deleted:
                    continue  # tap-sell sees no deletions
                out.append(self._incoming(key, record))
                top = max(top, record.seq)
        self.emitted.append(out)
        return out, top

    def _incoming(self, key: str, record: Any) -> Incoming:
        if self.side == "exchange":
            return Incoming(
                key=key,
                stream="contacts",
                canonical=record.canonical,
                modified=record.modified,
                marker=f"ck{record.change_key}",
                hint=record.link,
                deleted=record.deleted,
                extra=record.uid,
            )
        return Incoming(
            key=key,
            stream="contacts" if record.kind == "contact" else "leads",
            canonical=record.canonical,
            modified=record.updated_at,
            marker=record.updated_at,
            categories=record.categories(),
            hint=record.exchange_id,  # the 'Exchange ID' custom field
            extra=record.uid,
        )


def _match(
    items: Sequence[Incoming],
    candidates: Mapping[str, Canonical],
    times: Mapping[str, datetime],
    linked: Callable[[Collection[str]], set[str]],
) -> dict[str, Found]:
    taken = linked(list(candidates))
    index = MatchIndex.build(
        Candidate(k, c, times[k]) for k, c in candidates.items() if k not in taken
    )
    out: dict[str, Found] = {}
    for inc in items:
        found = index.match(inc.canonical)
        if found is not None:
            out[inc.key] = Found(str(found.candidate.id), found.log_details())
    return out


# -- destinations ------------------------------------------------------------------------------
@dataclass
class MemorySell:
    """Sell as a destination (Exchange → Sell): keeps lost values itself (S5.2)."""

    world: World
    faults: Faults = field(default_factory=Faults)
    side: Side = "sell"
    keeps_overwritten: bool = True
    create_rounds: int = 3

    def _current(self, key: str) -> Current:
        record = self.world.sell[key]
        return Current(key, record.canonical, record.updated_at, record.updated_at, raw=record)

    def fetch(self, keys: Sequence[str]) -> dict[str, Current]:
        live = self.world.live_sell()
        return {k: self._current(k) for k in keys if k in live}

    def match(self, items: Sequence[Incoming], linked: Any) -> dict[str, Found]:
        live = {k: r for k, r in self.world.live_sell().items() if r.kind == "contact"}
        return _match(
            items,
            {k: r.canonical for k, r in live.items()},
            {k: r.updated_at for k, r in live.items()},
            linked,
        )

    def create(self, writes: Sequence[Write], *, preview: bool = False) -> dict[str, Outcome]:
        out: dict[str, Outcome] = {}
        for w in writes:
            if preview:
                out[w.incoming.key] = Outcome("ok", fields=w.changed)
                continue

            def apply(w: Write = w) -> str:
                key = f"contact:{next(self.world.ids)}"
                canonical = _shaped(w.incoming.canonical, SELL_UNMAPPED)
                self.world.sell[key] = SellRecord(
                    "contact", canonical, self.world.clock.tick(), next(self.world.seq),
                    uid=str(w.incoming.extra), exchange_id=w.incoming.key,
                )  # fmt: skip
                self.world.sell_writes += 1
                return key

            key = self.faults.write(apply)
            out[w.incoming.key] = Outcome("ok", self._current(key), fields=w.changed)
        return out

    def update(self, writes: Sequence[Write], *, preview: bool = False) -> dict[str, Outcome]:
        out: dict[str, Outcome] = {}
        for w in writes:
            assert w.current is not None
            record = self.world.sell.get(w.current.key)
            if record is None or record.deleted:
                out[w.incoming.key] = Outcome("not_found")
                continue
            held = _shaped(record.canonical.with_values(w.values), SELL_UNMAPPED)
            kept = append_overwritten(record.kept, w.overwritten) if w.overwritten else record.kept
            # The 'Exchange ID' field names the linked item (setting exchange_id_field): a first
            # link writes it, so tap-sell reads the record again and Exchange gets its tags.
            wrote = bool(w.changed) or kept != record.kept or record.exchange_id != w.incoming.key
            if preview or not wrote:
                cur = Current(w.current.key, held, record.updated_at, record.updated_at)
                out[w.incoming.key] = Outcome("ok", cur, wrote=wrote, fields=w.changed)
                continue

            def apply(
                record: SellRecord = record, held: Canonical = held, kept: str = kept,
                exchange_id: str = w.incoming.key,
            ) -> None:  # fmt: skip
                record.canonical = held
                record.kept = kept
                record.exchange_id = exchange_id
                self.world._touch_sell(record)
                self.world.sell_writes += 1

            self.faults.write(apply)
            out[w.incoming.key] = Outcome("ok", self._current(w.current.key), fields=w.changed)
        return out

    def find_created(
        self, items: Sequence[tuple[str, Mapping[str, Any]]], linked: Any
    ) -> dict[str, Current]:
        """The Sell contact an interrupted create made: its 'Exchange ID' field names the item."""
        made = {r.exchange_id: k for k, r in self.world.live_sell().items() if r.exchange_id}
        return {key: self._current(made[key]) for key, _ in items if key in made}

    def wait(self, back_off: float | None, round_no: int) -> None:
        return

    def moved(self, keys: Sequence[str]) -> dict[str, Move]:
        """What target-sell-contacts asks Sell (``GET /v2/lead_conversions?lead_id=``)."""
        return {m.from_ref: m for _, m in self.world.conversions if m.from_ref in keys}

    def deliver_kept(self, ledger: Ledger) -> None:
        """What target-sell-contacts does first: values target-exchange queued are kept (S5.2)."""
        pending = ledger.pending_overwritten()
        for entry in pending:
            record = self.world.sell.get(entry.sell_ref)
            if record is None or record.deleted:
                continue
            text = append_overwritten(record.kept, [entry.as_overwritten()])
            if text != record.kept:

                def apply(record: SellRecord = record, text: str = text) -> None:
                    record.kept = text
                    self.world._touch_sell(record)
                    self.world.sell_writes += 1

                self.faults.write(apply)
        ledger.mark_overwritten_delivered([e.id for e in pending if e.id is not None])


@dataclass
class MemoryExchange:
    """Exchange as a destination (Sell → Exchange): categories and the Sell-link property."""

    world: World
    faults: Faults = field(default_factory=Faults)
    side: Side = "exchange"
    keeps_overwritten: bool = False
    create_rounds: int = 3

    def _current(self, key: str, modified: bool = True) -> Current:
        item = self.world.exchange[key]
        cats = tuple(sorted(set(item.categories) & set(SELL_CATEGORIES)))
        return Current(
            key,
            item.canonical,
            item.modified if modified else None,
            f"ck{item.change_key}",
            categories=cats,
            raw=item,
        )

    def fetch(self, keys: Sequence[str]) -> dict[str, Current]:
        live = self.world.live_exchange()
        return {k: self._current(k) for k in keys if k in live}

    def match(self, items: Sequence[Incoming], linked: Any) -> dict[str, Found]:
        live = self.world.live_exchange()
        out: dict[str, Found] = {}
        rest = []
        taken = linked(list(live))
        for inc in items:  # an item already carrying this record's link (the ledger lost it)
            carriers = [k for k, i in live.items() if i.link == inc.key and k not in taken]
            if carriers:
                out[inc.key] = Found(carriers[0], {"rule": "sell_link"})
            else:
                rest.append(inc)
        candidates = {k: i.canonical for k, i in live.items() if k not in taken}
        return {
            **out,
            **_match(rest, candidates, {k: i.modified for k, i in live.items()}, linked),
        }

    def create(self, writes: Sequence[Write], *, preview: bool = False) -> dict[str, Outcome]:
        out: dict[str, Outcome] = {}
        for w in writes:
            if preview:
                out[w.incoming.key] = Outcome("ok", fields=w.changed)
                continue
            inc = w.incoming

            def apply(inc: Incoming = inc) -> str:
                key = f"AAMk{next(self.world.ids)}"
                self.world.exchange[key] = ExchangeItem(
                    _shaped(inc.canonical, EXCHANGE_UNMAPPED),
                    self.world.clock.tick(),
                    1,
                    next(self.world.seq),
                    merge_categories([], inc.categories or ()),
                    link=inc.key,
                    uid=str(inc.extra),
                )
                self.world.exchange_writes += 1
                return key

            key = self.faults.write(apply)
            out[inc.key] = Outcome("ok", self._current(key, modified=False), fields=w.changed)
        return out

    def update(self, writes: Sequence[Write], *, preview: bool = False) -> dict[str, Outcome]:
        out: dict[str, Outcome] = {}
        for w in writes:
            assert w.current is not None
            item = self.world.exchange.get(w.current.key)
            if item is None or item.deleted:
                out[w.incoming.key] = Outcome("not_found")
                continue
            if f"ck{item.change_key}" != w.current.marker:
                out[w.incoming.key] = Outcome("conflict", reason="stale change key")
                continue
            held = _shaped(item.canonical.with_values(w.values), EXCHANGE_UNMAPPED)
            categories = merge_categories(item.categories, w.incoming.categories or ())
            fields = list(w.changed)
            if categories != item.categories:
                fields.append("categories")
            if item.link != w.incoming.key:
                fields.append("sell_link")
            if preview or not fields:
                cur = replace(self._current(w.current.key), canonical=held)
                out[w.incoming.key] = Outcome("ok", cur, wrote=bool(fields), fields=tuple(fields))
                continue

            def apply(
                item: ExchangeItem = item, held: Canonical = held, cats: list[str] = categories,
                link: str = w.incoming.key,
            ) -> None:  # fmt: skip
                item.canonical = held
                item.categories = cats
                item.link = link
                self.world._touch_exchange(item)
                self.world.exchange_writes += 1

            self.faults.write(apply)
            cur = self._current(w.current.key, modified=False)
            out[w.incoming.key] = Outcome("ok", cur, fields=tuple(fields))
        return out

    def moved(self, keys: Sequence[str]) -> dict[str, Move]:
        return {}

    def find_created(
        self, items: Sequence[tuple[str, Mapping[str, Any]]], linked: Any
    ) -> dict[str, Current]:
        """Items carrying the Sell-link property of an interrupted create."""
        out: dict[str, Current] = {}
        for ref, values in items:
            for key, item in self.world.live_exchange().items():
                if item.link == ref:
                    cur = self._current(key)
                    out[ref] = replace(cur, canonical=Canonical().with_values(values))
                    break
        return out

    def wait(self, back_off: float | None, round_no: int) -> None:
        return


def agreement(world: World, ledger: Ledger, categories: bool = True) -> list[str]:
    """S7.3: fields mapped both ways where a linked pair disagrees (empty when they agree);
    with ``categories`` also the Sell categories the Exchange contact must carry (S2)."""
    problems = []
    for link in ledger.active_links():
        item = world.exchange.get(link.exchange_id)
        record = world.sell.get(link.sell_ref)
        if item is None or record is None or item.deleted or record.deleted:
            continue
        for f in MAPPED_FIELDS:
            if f in item.canonical.unmapped or f in record.canonical.unmapped:
                continue
            x, s = getattr(item.canonical, f), getattr(record.canonical, f)
            if field_key(f, x) != field_key(f, s):
                problems.append(f"{link.exchange_id}/{link.sell_ref} {f}: {x!r} != {s!r}")
        if categories and set(item.categories) & set(SELL_CATEGORIES) != record.categories():
            problems.append(f"{link.exchange_id}/{link.sell_ref} categories {item.categories}")
    return problems
