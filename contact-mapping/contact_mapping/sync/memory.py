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
from functools import partial
from typing import Any

from contact_mapping.canonical import MAPPED_FIELDS, Canonical, field_key
from contact_mapping.categories import SELL_CATEGORIES, merge_categories
from contact_mapping.exchange_ids import GRAPH_PREFIX, PROTOCOLS, exchange_protocol
from contact_mapping.ledger import Ledger, Move
from contact_mapping.matching import Candidate, MatchIndex
from contact_mapping.merge import Side, append_overwritten
from contact_mapping.sync.port import Current, Destination, Found, Incoming, Outcome, Write

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
    number: int  # what both protocols' ids are made of
    seq: int  # change sequence, what the tap's bookmark follows
    change_key: int = 1
    categories: list[str] = field(default_factory=list)
    link: str | None = None
    uid: str = ""  # who the contact really is (to count duplicates); never synced
    deleted: bool = False

    @property
    def marker(self) -> str:
        """The change key, one per item and version, the same over both protocols."""
        return f"ck{self.number}.{self.change_key}"


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


#: What an item id looks like over each protocol (``contact_mapping.exchange_ids``): the same
#: contact has another id over each, and nothing in the sync can translate one into the other.
ID_SHAPES = {"ews": "AAMk{}", "graph": f"{GRAPH_PREFIX}AAkALg{{}}"}


@dataclass
class World:
    """Both systems, their clocks and the number of writes each received. ``protocol`` is how
    the tenant reaches Exchange now (S13.1): item ids are that protocol's (``exchange_ids``);
    the tenant may switch from EWS to Graph between runs (S13.2)."""

    clock: Clock = field(default_factory=Clock)
    exchange: dict[str, ExchangeItem] = field(default_factory=dict)  # by EWS id
    sell: dict[str, SellRecord] = field(default_factory=dict)
    seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    exchange_writes: int = 0
    sell_writes: int = 0
    conversions: list[tuple[int, Move]] = field(default_factory=list)  # (seq, move)
    protocol: str = "ews"

    # -- Exchange ids over the tenant's protocol -----------------------------------------------
    def exchange_id(self, key: str, protocol: str | None = None) -> str:
        """The id an item (by its EWS id) has over ``protocol`` (by default the tenant's)."""
        return ID_SHAPES[protocol or self.protocol].format(self.exchange[key].number)

    def item_key(self, exchange_id: str, any_protocol: bool = False) -> str | None:
        """The item an id names over the tenant's protocol (or, ``any_protocol``, either);
        None for an unknown id or, over one protocol, an id of the other."""
        protocols = PROTOCOLS if any_protocol else (self.protocol,)
        for protocol in protocols:
            head = ID_SHAPES[protocol].format("")
            number = exchange_id.removeprefix(head)
            if number != exchange_id and exchange_protocol(exchange_id) == protocol:
                key = ID_SHAPES["ews"].format(number)
                return key if key in self.exchange else None
        return None

    def add_exchange(
        self, canonical: Canonical, uid: str, categories: list[str], link: str | None = None
    ) -> str:
        number = next(self.ids)
        key = ID_SHAPES["ews"].format(number)
        self.exchange[key] = ExchangeItem(
            _shaped(canonical, EXCHANGE_UNMAPPED), self.clock.tick(), number, next(self.seq),
            categories=categories, link=link, uid=uid,
        )  # fmt: skip
        return key

    # -- user actions --------------------------------------------------------------------------
    def user_exchange(self, canonical: Canonical, uid: str, categories: Sequence[str]) -> str:
        return self.add_exchange(canonical, uid, list(categories))

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
    """Records changed since the bookmark; ``commit`` moves it (Singer STATE). Exchange
    records carry the ids of the protocol the tenant uses when they are read."""

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
                key=self.world.exchange_id(key),
                stream="contacts",
                canonical=record.canonical,
                modified=record.modified,
                marker=record.marker,
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
class MemoryDestination(Destination):
    """What both in-memory destinations share: the write loops (each write may crash, before
    or after it is applied), previews that send nothing, and no waiting."""

    world: World
    faults: Faults = field(default_factory=Faults)

    def create(self, writes: Sequence[Write], *, preview: bool = False) -> dict[str, Outcome]:
        out: dict[str, Outcome] = {}
        for w in writes:
            if preview:
                out[w.incoming.key] = Outcome("ok", fields=w.changed)
                continue
            key = self.faults.write(partial(self._make, w))
            out[w.incoming.key] = Outcome("ok", self._made(key), fields=w.changed)
        return out

    def update(self, writes: Sequence[Write], *, preview: bool = False) -> dict[str, Outcome]:
        out: dict[str, Outcome] = {}
        for w in writes:
            assert w.current is not None
            if w.current.key not in self.fetch([w.current.key]):
                out[w.incoming.key] = Outcome("not_found")
                continue
            held, fields, wrote = self._change(w)
            if preview or not wrote:
                cur = replace(self.fetch([w.current.key])[w.current.key], canonical=held)
                out[w.incoming.key] = Outcome("ok", cur, wrote=wrote, fields=fields)
                continue
            self.faults.write(partial(self._apply, w))
            out[w.incoming.key] = Outcome("ok", self._made(w.current.key), fields=fields)
        return out

    def wait(self, back_off: float | None, round_no: int) -> None:
        return

    def _make(self, w: Write) -> str:
        """Create the record of ``w``; its key."""
        raise NotImplementedError

    def _made(self, key: str) -> Current:
        """The record as a write left it."""
        raise NotImplementedError

    def _change(self, w: Write) -> tuple[Canonical, tuple[str, ...], bool]:
        """What the record would hold after ``w``, the fields sent, and whether it is a write."""
        raise NotImplementedError

    def _apply(self, w: Write) -> None:
        raise NotImplementedError


@dataclass
class MemorySell(MemoryDestination):
    """Sell as a destination (Exchange → Sell): keeps lost values itself (S5.2)."""

    side: Side = "sell"
    keeps_overwritten: bool = True
    create_rounds: int = 3

    def _current(self, key: str) -> Current:
        record = self.world.sell[key]
        return Current(key, record.canonical, record.updated_at, record.updated_at, raw=record)

    _made = _current

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

    def _make(self, w: Write) -> str:
        key = f"contact:{next(self.world.ids)}"
        self.world.sell[key] = SellRecord(
            "contact", _shaped(w.incoming.canonical, SELL_UNMAPPED), self.world.clock.tick(),
            next(self.world.seq), uid=str(w.incoming.extra), exchange_id=w.incoming.key,
        )  # fmt: skip
        self.world.sell_writes += 1
        return key

    def _kept(self, w: Write, record: SellRecord) -> str:
        return append_overwritten(record.kept, w.overwritten) if w.overwritten else record.kept

    def _change(self, w: Write) -> tuple[Canonical, tuple[str, ...], bool]:
        assert w.current is not None
        record = self.world.sell[w.current.key]
        held = _shaped(record.canonical.with_values(w.values), SELL_UNMAPPED)
        # The 'Exchange ID' field names the linked item (setting exchange_id_field): a first
        # link writes it, so tap-sell reads the record again and Exchange gets its tags.
        extra = self._kept(w, record) != record.kept or record.exchange_id != w.incoming.key
        return held, w.changed, bool(w.changed) or extra

    def _apply(self, w: Write) -> None:
        assert w.current is not None
        record = self.world.sell[w.current.key]
        record.canonical = self._change(w)[0]
        record.kept = self._kept(w, record)
        record.exchange_id = w.incoming.key
        self.world._touch_sell(record)
        self.world.sell_writes += 1

    def find_created(
        self, items: Sequence[tuple[str, Mapping[str, Any]]], linked: Any
    ) -> dict[str, Current]:
        """The Sell contact an interrupted create made: its 'Exchange ID' field names the item."""
        made = {r.exchange_id: k for k, r in self.world.live_sell().items() if r.exchange_id}
        return {key: self._current(made[key]) for key, _ in items if key in made}

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
class MemoryExchange(MemoryDestination):
    """Exchange as a destination (Sell → Exchange): categories and the Sell-link property,
    over the protocol the tenant uses (its ids; another protocol's id names nothing here)."""

    side: Side = "exchange"
    keeps_overwritten: bool = False
    create_rounds: int = 3

    def __post_init__(self) -> None:
        self.exchange_protocol = self.world.protocol

    def _current(self, key: str, modified: bool = True) -> Current:
        """By EWS id (the world's key), under the tenant's protocol's id."""
        item = self.world.exchange[key]
        cats = tuple(sorted(set(item.categories) & set(SELL_CATEGORIES)))
        return Current(
            self.world.exchange_id(key),
            item.canonical,
            item.modified if modified else None,
            item.marker,
            categories=cats,
            raw=item,
        )

    def _made(self, exchange_id: str) -> Current:
        """A write's answer carries no modification time (EWS and Graph return id and key)."""
        return self._current(self._key(exchange_id), modified=False)

    def _key(self, exchange_id: str) -> str:
        key = self.world.item_key(exchange_id)
        assert key is not None
        return key

    def _live(self) -> dict[str, ExchangeItem]:
        """Live items by the tenant's protocol's id."""
        return {self.world.exchange_id(k): i for k, i in self.world.live_exchange().items()}

    def fetch(self, keys: Sequence[str]) -> dict[str, Current]:
        live = self._live()
        return {k: self._current(self._key(k)) for k in keys if k in live}

    def match(self, items: Sequence[Incoming], linked: Any) -> dict[str, Found]:
        live = self._live()
        out: dict[str, Found] = {}
        rest = []
        taken = linked(list(live))
        for inc in items:  # an item already carrying this record's link (the ledger lost it)
            carriers = [k for k, i in live.items() if i.link == inc.key and k not in taken]
            if carriers:
                out[inc.key] = Found(carriers[0], {"rule": "sell_link"})
            else:
                rest.append(inc)
        # As target-exchange's index: a contact carrying any Sell link is no S4 candidate (it
        # is some record's, even when the ledger knows it by the other protocol's id, S13.2).
        candidates = {k: i.canonical for k, i in live.items() if k not in taken and not i.link}
        return {
            **out,
            **_match(rest, candidates, {k: i.modified for k, i in live.items()}, linked),
        }

    def _make(self, w: Write) -> str:
        inc = w.incoming
        categories = merge_categories([], inc.categories or ())
        key = self.world.add_exchange(inc.canonical, str(inc.extra), categories, link=inc.key)
        self.world.exchange_writes += 1
        return self.world.exchange_id(key)

    def update(self, writes: Sequence[Write], *, preview: bool = False) -> dict[str, Outcome]:
        """A stale change key is a conflict (the writes carry the version they read)."""
        live = self._live()
        stale = {
            w.incoming.key
            for w in writes
            if w.current is not None
            and w.current.key in live
            and live[w.current.key].marker != w.current.marker
        }
        out = super().update([w for w in writes if w.incoming.key not in stale], preview=preview)
        return {**out, **{k: Outcome("conflict", reason="stale change key") for k in stale}}

    def _categories(self, w: Write, item: ExchangeItem) -> list[str]:
        return merge_categories(item.categories, w.incoming.categories or ())

    def _change(self, w: Write) -> tuple[Canonical, tuple[str, ...], bool]:
        assert w.current is not None
        item = self.world.exchange[self._key(w.current.key)]
        held = _shaped(item.canonical.with_values(w.values), EXCHANGE_UNMAPPED)
        fields = list(w.changed)
        if self._categories(w, item) != item.categories:
            fields.append("categories")
        if item.link != w.incoming.key:
            fields.append("sell_link")
        return held, tuple(fields), bool(fields)

    def _apply(self, w: Write) -> None:
        assert w.current is not None
        item = self.world.exchange[self._key(w.current.key)]
        item.canonical = self._change(w)[0]
        item.categories = self._categories(w, item)
        item.link = w.incoming.key
        self.world._touch_exchange(item)
        self.world.exchange_writes += 1

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

    def refind(self, refs: Sequence[str]) -> dict[str, str]:
        """S13.2: the one item carrying each Sell link (by the tenant's protocol's id)."""
        carriers: dict[str, list[str]] = {}
        for exchange_id, item in self._live().items():
            if item.link is not None and item.link in refs:
                carriers.setdefault(item.link, []).append(exchange_id)
        return {ref: ids[0] for ref, ids in carriers.items() if len(ids) == 1}


def agreement(world: World, ledger: Ledger, categories: bool = True) -> list[str]:
    """S7.3: fields mapped both ways where a linked pair disagrees (empty when they agree);
    with ``categories`` also the Sell categories the Exchange contact must carry (S2)."""
    problems = []
    for link in ledger.active_links():
        key = world.item_key(link.exchange_id, any_protocol=True)
        item = world.exchange.get(key) if key else None
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
