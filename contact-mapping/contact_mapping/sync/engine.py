"""The one sync engine: a batch of source records → the destination, through the ledger.

Both targets run it; each hands it a :class:`~contact_mapping.sync.port.Destination`. Read
:meth:`SyncEngine.process` top-down for the rules in order:

1. one version per record (a replay inside a batch: the last copy wins); deletions retire their
   link and nothing else (S6);
2. every record planned from the ledger alone (``planning.plan_write``): echoes, replays, late
   replays, retired links and unchanged rejections cost no request (S7.1, S7.2, S10.1);
3. linked records fetched; a destination record that is gone retires the link, never re-creates
   it (S6); a record naming its partner itself (the Sell-link property) links to it first; a
   link made over the other Exchange protocol is re-found first, never retired (S13.2,
   ``relink``);
4. unlinked records matched one to one (S4), else created;
5. every pair merged three-way (S5.1-S5.4) and written; a stale change key or a link another
   run moved meanwhile is re-read and merged again; the winner of a conflict is what the
   snapshot remembers, so the other direction carries it to the losing side in the same round
   (S5.5, S7.3) and the losing value is kept in Sell exactly once (S5.2);
6. creates under the crash-safe intent protocol (intent committed, create sent, link committed),
   busy or uncertain ones resolved by searching before resending (S7.2, S10.2);
7. the ledger written only after the destination accepted the write, so Singer STATE (emitted
   after the batch returns) never runs ahead of a durable write; the report counts everything.

With ``dry_run`` (S14) the same plan is made and reported, but nothing is written to the
destination or the ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from contact_mapping.canonical import project
from contact_mapping.exchange_ids import exchange_protocol
from contact_mapping.ledger import (
    Adopted,
    Intent,
    Ledger,
    Link,
    LinkConflictError,
    Move,
    NewIntent,
    OverwrittenValue,
    Snapshot,
    StaleLinkError,
)
from contact_mapping.merge import MergeResult, Overwritten, Side, merge, next_snapshot
from contact_mapping.normalize import iso_utc
from contact_mapping.planning import Action, plan_write
from contact_mapping.report import RunReport
from contact_mapping.sync.port import Current, Destination, Incoming, Outcome, Write
from contact_mapping.sync.relink import Relinker

DIRECTIONS: dict[Side, str] = {"exchange": "exchange_to_sell", "sell": "sell_to_exchange"}
#: Rounds of re-reading a destination record whose write met a newer version (change key) or
#: whose link another run moved meanwhile.
MAX_MERGE_ROUNDS = 4


class SyncFailedError(RuntimeError):
    """A write that may not have happened: the batch fails and no STATE moves past it (S10.2)."""


def sell_ref(kind: str, sell_id: int) -> str:
    return f"{kind}:{sell_id}"


def parse_sell_ref(ref: str) -> tuple[str, int]:
    kind, _, ident = ref.partition(":")
    return kind, int(ident)


@dataclass
class Pair:
    """A source record and the destination record it is (or is about to be) linked to."""

    incoming: Incoming
    link: Link | None  # None: first link (matched, adopted or named by the record itself)
    key: str  # destination key
    current: Current | None = None
    carried: tuple[Overwritten, ...] = ()  # lost values of an earlier round, not yet recorded

    @property
    def first_link(self) -> bool:
        return self.link is None or self.link.snapshot.base is None


@dataclass
class SyncEngine:
    """One direction of the sync for one run; ``source`` is the side records come from."""

    source: Side
    ledger: Ledger
    destination: Destination
    report: RunReport
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger(__name__))
    dry_run: bool = False
    _claimed: set[str] = field(default_factory=set)
    _intents_resolved: bool = False
    _relinker: Relinker | None = None
    _source_protocol: str | None = None  # of the Exchange records being processed

    @property
    def relinker(self) -> Relinker:
        if self._relinker is None:
            self._relinker = Relinker(self.ledger, self.logger, self.dry_run)
        return self._relinker

    @property
    def direction(self) -> str:
        return DIRECTIONS[self.source]

    @property
    def target_side(self) -> Side:
        return "sell" if self.source == "exchange" else "exchange"

    # -- the batch, top-down ---------------------------------------------------------------------
    def process(self, batch: Sequence[Incoming]) -> None:
        """Sync one batch; returns only when every record is written, skipped or rejected."""
        if not batch:
            return
        self.resolve_intents()
        records = self._latest(batch)
        links = self._links_by_source([r.key for r in records])
        if self.source == "exchange":
            self._refind_sources(records, links)
        live = [r for r in records if not self._deleted(r, links.get(r.key))]
        pairs, named, unlinked = self._plan(live, links)
        pairs += self._named_partners(named, unlinked)
        matched, unmatched = self._matched(unlinked)
        creates = self._merge_and_write([*pairs, *matched])
        self._create([*unmatched, *creates])

    # -- 1. one version per record; deletions -----------------------------------------------------
    def _latest(self, batch: Sequence[Incoming]) -> list[Incoming]:
        latest: dict[str, Incoming] = {}
        for record in batch:
            latest.pop(record.key, None)
            latest[record.key] = record
        for record in latest.values():
            self.report.count(record.stream, "received")
        return list(latest.values())

    def _deleted(self, inc: Incoming, link: Link | None) -> bool:
        """S6: a deletion retires the link; the other side's record is kept."""
        if not inc.deleted:
            return False
        self.report.count(inc.stream, "deletions_seen")
        if link is not None and link.active:
            reason = f"deleted in {self._name(self.source)}; the {self._name()} record is kept"
            self._retire(inc, link, reason)
        return True

    # -- 2. the plan, from the ledger alone -------------------------------------------------------
    def _plan(
        self, live: list[Incoming], links: Mapping[str, Link]
    ) -> tuple[list[Pair], list[Incoming], list[Incoming]]:
        rejections = self.ledger.rejections_for(self.source, [i.key for i in live])
        became = self._became_others([i.key for i in live if i.key not in links])
        pairs: list[Pair] = []
        named: list[Incoming] = []
        unlinked: list[Incoming] = []
        for inc in live:
            link = links.get(inc.key)
            if inc.key in became:  # S6: a late copy of a converted lead; its link moved on
                self.logger.info("%s %s became %s: skipped", inc.stream, inc.key, became[inc.key])
                self.report.count(inc.stream, "unchanged")
                continue
            plan = plan_write(
                link,
                self.source,
                inc.canonical,
                modified_marker=inc.marker,
                modified_at=inc.modified,
                categories=inc.categories,
                rejection=rejections.get(inc.key),
            )
            inc.was_rejected = inc.key in rejections
            if plan.action is Action.FETCH_AND_MERGE:
                assert link is not None
                pairs.append(Pair(inc, link, self._dest_key(link)))
            elif plan.action is Action.MATCH_OR_CREATE:
                if inc.hint and not self._addressable(inc.hint):
                    inc.hint = None  # an Exchange id of the other protocol names nothing here
                (named if inc.hint else unlinked).append(inc)
            elif plan.action is Action.SKIP_ECHO:
                self.report.count(inc.stream, "echoes_skipped")
            else:
                if plan.action is not Action.SKIP_UNCHANGED:
                    self.logger.info("%s %s: %s", inc.stream, inc.key, plan.reason)
                self.report.count(inc.stream, "unchanged")
        pairs = self._refind_destinations(pairs)
        if pairs:
            self._fetch_into(pairs)
        return [p for p in pairs if self._still_there(p)], named, unlinked

    def _fetch_into(self, pairs: list[Pair]) -> None:
        found = self.destination.fetch([p.key for p in pairs])
        for pair in pairs:
            pair.current = found.get(pair.key)
        gone = [p for p in pairs if p.current is None and p.link is not None and p.link.active]
        if gone:
            self._follow_to_new_records(gone)

    def _follow_to_new_records(self, gone: list[Pair]) -> None:
        """S6: a linked destination record that BECAME another (a lead converted into a
        contact) is not gone: the link moves to the new record, which is merged as usual."""
        found = self.ledger.moves_from([p.key for p in gone])
        unknown = [p.key for p in gone if p.key not in found]
        if unknown:
            learnt = self.destination.moved(unknown)
            if learnt and not self.dry_run:
                self.ledger.record_moves(learnt.values())
            found |= learnt
        moved = [p for p in gone if p.key in found]
        for pair in moved:
            assert pair.link is not None
            link = self._move_link(pair.link, found[pair.key].to_ref, pair.incoming.stream)
            if link is not None:
                pair.link, pair.key = link, found[pair.key].to_ref
        if moved:
            current = self.destination.fetch([p.key for p in moved])
            for pair in moved:
                pair.current = current.get(pair.key)

    def follow_moves(self, moves: Sequence[Move]) -> None:
        """Sell says records became others (``lead_conversions``): remember it, and move the
        links of the old records to the new ones now, before the new records arrive."""
        if not moves:
            return
        if not self.dry_run:
            self.ledger.record_moves(moves)
        old = self._sell_links([m.from_ref for m in moves])
        for move in moves:
            link = old.get(move.from_ref)
            if link is not None and link.active:
                self._move_link(link, move.to_ref, "lead_conversions")

    def _move_link(self, link: Link, to_ref: str, stream: str) -> Link | None:
        """The link of ``link.sell_ref`` now joins ``to_ref``; None when that cannot be."""
        if self.dry_run:
            self.report.plan(stream, link.sell_ref, action="move_link", destination=to_ref)
            kind, ident = parse_sell_ref(to_ref)
            return replace(link, sell_kind=kind, sell_id=ident)
        kind, ident = parse_sell_ref(to_ref)
        try:
            moved = self.ledger.move_link(link.id, kind, ident, link.version)
        except LinkConflictError:
            self.logger.warning(
                "%s became %s, which is linked to another Exchange contact already; the "
                "link of %s is left as it was",
                link.sell_ref,
                to_ref,
                link.exchange_id,
            )
            return None
        except StaleLinkError:
            fresh = self.ledger.get_link(link.id)
            if fresh is None or fresh.sell_ref != to_ref:
                return None
            moved = fresh  # the other target moved it meanwhile
        self.logger.info(
            "%s became %s: link of %s moved (S6)", link.sell_ref, to_ref, link.exchange_id
        )
        self.report.move(stream, link.sell_ref, to_ref=to_ref, exchange_id=link.exchange_id)
        return moved

    def _still_there(self, pair: Pair) -> bool:
        """S6: a linked destination record that is gone retires the link, nothing re-created."""
        if pair.current is not None:
            return True
        if pair.link is not None:
            reason = f"{self._name()} record {pair.key} was deleted or merged away"
            self._retire(pair.incoming, pair.link, reason)
        return False

    # -- 3. records naming their partner themselves ----------------------------------------------
    def _named_partners(self, named: list[Incoming], unlinked: list[Incoming]) -> list[Pair]:
        """A record carrying its partner's key (the Sell-link property) links to it first; a
        partner that is gone is not re-created (S6); one linked elsewhere is matched as usual."""
        if not named:
            return []
        found = self.destination.fetch([str(i.hint) for i in named])
        taken = self._linked_or_claimed([str(i.hint) for i in named])
        pairs: list[Pair] = []
        for inc in named:
            key = str(inc.hint)
            if key not in found:
                self.report.count(inc.stream, "unchanged")
                self.logger.info(
                    "%s %s names %s, which is gone; not re-created (S6)", inc.stream, inc.key, key
                )
            elif key in taken:
                inc.hint = None
                unlinked.append(inc)
            else:
                self._claimed.add(key)
                pairs.append(Pair(inc, None, key, found[key]))
        return pairs

    # -- 4. matching (S4) ------------------------------------------------------------------------
    def _matched(self, unlinked: list[Incoming]) -> tuple[list[Pair], list[Incoming]]:
        """Pairs of matched records, and the records nothing matched (to create)."""
        if not unlinked:
            return [], []
        found = self.destination.match(unlinked, self._linked_or_claimed)
        pairs: list[Pair] = []
        unmatched: list[Incoming] = []
        for inc in unlinked:
            match = found.get(inc.key)
            if match is None or match.key in self._claimed:
                unmatched.append(inc)
                continue
            self._claimed.add(match.key)
            moved = self._refound_by_match(inc, match.key)
            if moved is not None:
                # S13.2: the Sell record's link was made over the other Exchange protocol.
                pairs.append(Pair(inc, moved, match.key, match.current))
                continue
            self.report.match(inc.stream, inc.key, **match.details)
            # S4.2: the choice is logged with the candidates it beat.
            self.logger.info(
                "%s %s matched %s %s: %s",
                self._name(self.source),
                inc.key,
                self._name(),
                match.key,
                match.details,
            )
            pairs.append(Pair(inc, None, match.key, match.current))
        unread = [p for p in pairs if p.current is None]
        if unread:
            self._fetch_into(unread)
        unmatched += [p.incoming for p in pairs if p.current is None]  # gone meanwhile
        return [p for p in pairs if p.current is not None], unmatched

    # -- 5. merge and write ----------------------------------------------------------------------
    def _merge_and_write(self, pairs: list[Pair]) -> list[Incoming]:
        """Merge, write, record; re-read what met a newer version. Returns records to create."""
        create: list[Incoming] = []
        failed: list[Outcome] = []
        for round_no in range(1, MAX_MERGE_ROUNDS + 1):
            if not pairs:
                break
            writes = {p.incoming.key: self._merged(p) for p in pairs}
            outcomes = self.destination.update(list(writes.values()), preview=self.dry_run)
            again: list[Pair] = []
            for pair in pairs:
                write = writes[pair.incoming.key]
                outcome = outcomes[pair.incoming.key]
                if outcome.kind == "ok":
                    if not self._record(pair, write, outcome):
                        again.append(self._reread_link(pair, write))
                elif outcome.kind == "conflict":
                    again.append(pair)
                elif outcome.kind == "not_found":
                    if pair.link is not None:
                        self._retire(pair.incoming, pair.link, f"{self._name()} record deleted")
                    else:
                        create.append(pair.incoming)
                elif outcome.kind == "rejected":
                    self._reject(pair.incoming, outcome.reason or "rejected")
                else:
                    failed.append(outcome)
            if again and round_no == MAX_MERGE_ROUNDS:
                msg = f"{len(again)} {self._name()} records kept changing while being written"
                raise SyncFailedError(msg)
            if again:
                self.logger.info("%d records changed meanwhile: re-reading", len(again))
                self._fetch_into(again)
            pairs = [p for p in again if self._still_there(p)]
        self._raise_failed(failed)
        return create

    def _merged(self, pair: Pair) -> Write:
        assert pair.current is not None
        inc, cur = pair.incoming, pair.current
        base = None if pair.first_link or pair.link is None else pair.link.snapshot.base
        if self.source == "exchange":
            result = merge(base, inc.canonical, cur.canonical, inc.modified, cur.modified,
                           first_link=pair.first_link)  # fmt: skip
        else:
            result = merge(base, cur.canonical, inc.canonical, cur.modified, inc.modified,
                           first_link=pair.first_link)  # fmt: skip
        return Write(
            incoming=inc,
            current=cur,
            values=dict(result.values),
            changed=result.changed_for(cur.canonical),
            overwritten=result.overwritten,
            result=result,
        )

    def _record(self, pair: Pair, write: Write, outcome: Outcome) -> bool:
        """The link's new snapshot, under a version check; False if the link moved meanwhile."""
        inc = pair.incoming
        assert write.current is not None
        assert write.result is not None
        held = outcome.current or write.current
        lost = (*pair.carried, *write.overwritten)
        if self.dry_run:
            self._preview(inc, pair.key, "update" if outcome.wrote else "link", outcome, write)
        else:
            replaced = write.current if outcome.wrote else None
            previous = pair.link.snapshot if pair.link is not None else None
            snapshot = self._snapshot(inc, held, previous).superseding(
                previous,
                exchange_key=replaced.marker
                if replaced and self.target_side == "exchange"
                else None,
                sell_values=replaced.canonical.values()
                if replaced and self.target_side == "sell"
                else None,
            )
            queued = self._queued(inc, pair.key, lost)
            try:
                if pair.link is None:
                    exchange_id, kind, sell_id = self._pair_ids(inc.key, pair.key)
                    self.ledger.create_link(
                        exchange_id, kind, sell_id, snapshot, overwritten=queued
                    )
                else:
                    self.ledger.save_snapshot(
                        pair.link.id, snapshot, pair.link.version, overwritten=queued
                    )
            except StaleLinkError:
                pair.carried = lost
                return False
            except LinkConflictError:
                self.logger.warning(
                    "%s %s or %s was linked meanwhile by another run; left as it is",
                    inc.stream,
                    inc.key,
                    pair.key,
                )
                self.report.count(inc.stream, "unchanged")
                return True
            self._clear_rejection(inc)
        self._report_conflicts(inc, pair.key, write.result, lost)
        self.report.count(inc.stream, "updated" if outcome.wrote else "unchanged")
        return True

    def _reread_link(self, pair: Pair, write: Write) -> Pair:
        """Another run moved the link between our read and our write: merge again from it."""
        assert pair.link is not None
        fresh = self.ledger.get_link(pair.link.id)
        return Pair(pair.incoming, fresh, pair.key, None, pair.carried)

    def _snapshot(self, inc: Incoming, held: Current, previous: Snapshot | None) -> Snapshot:
        """Base = the source's values; each side's values and version markers as they now are
        (see ``merge`` for why the base moves this way)."""
        values = next_snapshot(self.source, inc.canonical, held.canonical, held.canonical.values())
        if self.source == "exchange":
            return Snapshot(
                base=values.base,
                exchange_values=values.exchange_values,
                exchange_modified=iso_utc(inc.modified),
                exchange_change_key=inc.marker,
                sell_values=values.sell_values,
                sell_updated_at=iso_utc(held.modified),
                categories=previous.categories if previous is not None else None,
            )
        # An Exchange write answers with the new change key but no time: the last time seen is
        # then still a lower bound of the item's, and keeps older replays recognisable (S7.2).
        seen = (
            held.modified if held.modified is not None else previous and previous.exchange_modified
        )
        return Snapshot(
            base=values.base,
            exchange_values=values.exchange_values,
            exchange_modified=iso_utc(seen),
            exchange_change_key=held.marker,
            sell_values=values.sell_values,
            sell_updated_at=iso_utc(inc.modified),
            categories=tuple(sorted(inc.categories or ())),
        )

    def _queued(
        self, inc: Incoming, dest_key: str, lost: Iterable[Overwritten]
    ) -> list[OverwrittenValue]:
        """S5.2: lost values the destination cannot keep itself (it is not Sell) are queued in
        the ledger, with the snapshot, for the Sell target to deliver."""
        if self.destination.keeps_overwritten:
            return []
        exchange_id, kind, sell_id = self._pair_ids(inc.key, dest_key)
        return [
            OverwrittenValue(
                sell_kind=kind,
                sell_id=sell_id,
                field=o.field,
                value=o.value,
                origin=o.origin,
                origin_time=iso_utc(o.time),
                exchange_id=exchange_id,
            )
            for o in lost
        ]

    # -- 6. creates under the intent protocol ----------------------------------------------------
    def _create(self, records: list[Incoming]) -> None:
        if not records:
            return
        if self.dry_run:
            outcomes = self.destination.create([self._new(i) for i in records], preview=True)
            for inc in records:
                outcome = outcomes[inc.key]
                if outcome.kind == "rejected":
                    self.report.reject(inc.stream, inc.key, outcome.reason or "rejected")
                    continue
                self._preview(inc, None, "create", outcome, None)
                self.report.count(inc.stream, "created")
            return
        # One commit for the batch's intents, all durable before any create is sent.
        intents = self.ledger.begin_intents(
            self.direction,
            [
                NewIntent(
                    inc.key,
                    project(inc.canonical.values()),
                    inc.modified,
                    inc.marker if self.source == "exchange" else None,
                )
                for inc in records
            ],
        )
        pending = {inc.key: inc for inc in records}
        for round_no in range(1, self.destination.create_rounds + 1):
            outcomes = self.destination.create([self._new(i) for i in pending.values()])
            done: list[tuple[Incoming, Current]] = []
            unsure: list[tuple[Incoming, Outcome]] = []
            for key, inc in pending.items():
                outcome = outcomes[key]
                if outcome.kind == "ok" and outcome.current is not None:
                    done.append((inc, outcome.current))
                elif outcome.kind in ("uncertain", "busy"):
                    unsure.append((inc, outcome))
                else:
                    self.ledger.drop_intent(intents[key])
                    self._reject(inc, outcome.reason or "rejected")
            self._complete(done, intents)
            if not unsure:
                return
            # Adopt what the destination did create (never a second copy); resend the rest.
            found = self.destination.find_created(
                [(inc.key, project(inc.canonical.values())) for inc, _ in unsure],
                self._linked_or_claimed,
            )
            self._complete(
                [(inc, found[inc.key]) for inc, _ in unsure if inc.key in found], intents
            )
            pending = {inc.key: inc for inc, _ in unsure if inc.key not in found}
            busy = [o.back_off or 0.0 for _, o in unsure if o.kind == "busy"]
            if pending and busy:
                self.destination.wait(max(busy), round_no)
            if not pending:
                return
        msg = (
            f"creating {len(pending)} {self._name()} records stayed busy or uncertain "
            f"after {self.destination.create_rounds} rounds (S10.2)"
        )
        raise SyncFailedError(msg)

    def _new(self, inc: Incoming) -> Write:
        values = project(inc.canonical.values())
        changed = tuple(f for f, v in values.items() if v not in (None, ""))
        return Write(incoming=inc, current=None, values=values, changed=changed)

    def _complete(
        self, done: list[tuple[Incoming, Current]], intents: Mapping[str, Intent]
    ) -> None:
        """Links of created (or adopted) records, in one ledger transaction with their intents."""
        if not done:
            return
        completions = []
        for inc, held in done:
            exchange_id, kind, sell_id = self._pair_ids(inc.key, held.key)
            snapshot = self._snapshot(inc, held, None).superseding(None)
            completions.append((intents[inc.key], exchange_id, kind, sell_id, snapshot))
        results = self.ledger.complete_intents(completions)
        for inc, held in done:
            if results.get(intents[inc.key].id) is None:
                self.logger.warning(
                    "%s %s: already linked; the new %s record %s is left unlinked",
                    inc.stream,
                    inc.key,
                    self._name(),
                    held.key,
                )
                self.report.count(inc.stream, "unchanged")
                continue
            self._clear_rejection(inc)
            self.report.count(inc.stream, "created")

    def resolve_intents(self) -> None:
        """Once per run: settle creates a crashed run left half done (adopt or drop them)."""
        if self._intents_resolved or self.dry_run:
            return
        self._intents_resolved = True
        pending = self.ledger.pending_intents(self.direction)
        if not pending:
            return
        found = self.destination.find_created(
            [(i.source_id, i.source_values or {}) for i in pending], self._linked_or_claimed
        )

        def finder(intent: Intent) -> Adopted | None:
            held = found.get(intent.source_id)
            if held is None:
                return None
            exchange_id, kind, sell_id = self._pair_ids(intent.source_id, held.key)
            return Adopted(
                exchange_id=exchange_id,
                sell_kind=kind,
                sell_id=sell_id,
                destination_values=held.canonical.values(),
                destination_modified=iso_utc(held.modified),
                destination_change_key=held.marker if self.target_side == "exchange" else None,
                categories=held.categories,
            )

        outcomes = self.ledger.resolve_intents(self.direction, finder)
        adopted = sum(1 for o in outcomes if o.outcome == "adopted")
        self.logger.info(
            "resolved %d create intents left by an earlier run: %d adopted, %d to create again",
            len(outcomes),
            adopted,
            len(outcomes) - adopted,
        )

    # -- 7. ledger and report helpers ------------------------------------------------------------
    def _retire(self, inc: Incoming, link: Link, reason: str) -> None:
        if not self.dry_run:
            self.ledger.retire_link(link.id, reason)
        self.report.retire(inc.stream, inc.key, reason, destination=self._dest_key(link))
        self.logger.info(
            "%s %s: %s; link retired, nothing re-created (S6)", inc.stream, inc.key, reason
        )

    def _reject(self, inc: Incoming, reason: str) -> None:
        """S10.1: kept as rejected under the side the record came from, retried when it changes."""
        if not self.dry_run:
            self.ledger.record_rejection(self.source, inc.key, inc.canonical.fingerprint(), reason)
        self.report.reject(inc.stream, inc.key, reason, name=inc.label or None)
        self.logger.warning("%s %s rejected by %s: %s", inc.stream, inc.key, self._name(), reason)

    def _clear_rejection(self, inc: Incoming) -> None:
        if inc.was_rejected:
            self.ledger.clear_rejection(self.source, inc.key)

    def _report_conflicts(
        self, inc: Incoming, dest_key: str, result: MergeResult, lost: Iterable[Overwritten]
    ) -> None:
        for overwritten in lost:
            kept_origin = "exchange" if overwritten.origin == "sell" else "sell"
            self.report.conflict(
                inc.stream,
                inc.key,
                field=overwritten.field,
                kept=result.values.get(overwritten.field),
                kept_origin=kept_origin,
                overwritten=overwritten.value,
                overwritten_origin=overwritten.origin,
                destination=dest_key,
                name=inc.label or None,
            )

    def _preview(
        self,
        inc: Incoming,
        dest_key: str | None,
        action: str,
        outcome: Outcome,
        write: Write | None,
    ) -> None:
        """S14: what a real run would do with this record."""
        changes: dict[str, Any] = {}
        if write is not None and write.current is not None:
            changes = {
                f: {"from": getattr(write.current.canonical, f), "to": write.values.get(f)}
                for f in write.changed
            }
        elif write is None:
            changes = {f: {"from": None, "to": v} for f, v in inc.canonical.values().items() if v}
        self.report.plan(
            inc.stream,
            inc.key,
            action=action,
            destination=dest_key,
            fields=list(outcome.fields) or list(changes),
            changes=changes,
            name=inc.label or None,
        )

    def _linked_or_claimed(self, keys: Collection[str]) -> set[str]:
        """Destination keys already linked in the ledger, or claimed by this run (S4.2). A
        Sell record linked over the other Exchange protocol may still be matched: that is how
        its contact is re-found when nothing else names it (S13.2)."""
        keys = list(keys)
        out = {k for k in keys if k in self._claimed}
        if self.target_side == "exchange":
            out |= set(self.ledger.links_for_exchange_ids(keys))
        else:
            protocol = self._source_protocol
            out |= {
                ref
                for ref, link in self._sell_links(keys, include_retired=False).items()
                if protocol is None or exchange_protocol(link.exchange_id) == protocol
            }
        return out

    # -- S13.2: links made over the other Exchange protocol ---------------------------------------
    def _addressable(self, exchange_id: str) -> bool:
        protocol = self.destination.exchange_protocol
        return protocol is None or exchange_protocol(exchange_id) == protocol

    def _refind_sources(self, records: list[Incoming], links: dict[str, Link]) -> None:
        """Exchange records the ledger knows under the other protocol's ids: the link whose
        last change key is the record's, else the one its Sell-link property names."""
        unknown = [r for r in records if r.key not in links and not r.deleted]
        if not unknown:
            return
        self._source_protocol = exchange_protocol(unknown[0].key)
        relinker = self.relinker
        if not relinker.any(self._source_protocol):
            return
        for inc in unknown:
            protocol = exchange_protocol(inc.key)
            link, why = relinker.by_change_key(protocol, inc.marker), "same change key"
            if link is None:
                link, why = relinker.by_sell_ref(protocol, inc.hint), "Sell-link property"
            moved = relinker.rekey(link, inc.key, why) if link is not None else None
            if moved is not None:
                links[inc.key] = moved
                self.report.count(inc.stream, "relinked")

    def _refound_by_match(self, inc: Incoming, sell_key: str) -> Link | None:
        """An S4 match on a Sell record linked over the other protocol: that link, re-keyed."""
        if self.source != "exchange" or self._source_protocol is None:
            return None
        link = self.relinker.by_sell_ref(exchange_protocol(inc.key), sell_key)
        moved = self.relinker.rekey(link, inc.key, "matched (S4)") if link else None
        if moved is not None:
            self.report.count(inc.stream, "relinked")
        return moved

    def _refind_destinations(self, pairs: list[Pair]) -> list[Pair]:
        """Linked pairs whose Exchange id is of the other protocol: the contact carrying the
        record's Sell link, else the one S4 matches, re-keyed; the others wait (never
        fetched by the old id, never retired)."""
        protocol = self.destination.exchange_protocol
        if self.target_side != "exchange" or protocol is None:
            return pairs
        foreign = [p for p in pairs if exchange_protocol(p.key) != protocol]
        if not foreign:
            return pairs
        found = self.destination.refind([p.incoming.key for p in foreign])
        left = [p for p in foreign if p.incoming.key not in found]
        matched = self.destination.match([p.incoming for p in left], self._linked_or_claimed)
        for pair in foreign:
            key = pair.incoming.key
            new_key, why = (found[key], "Sell-link property") if key in found else (None, "")
            if new_key is None and key in matched:
                new_key, why = matched[key].key, "matched (S4)"
            assert pair.link is not None
            moved = self.relinker.rekey(pair.link, new_key, why) if new_key else None
            if moved is not None:
                self._claimed.add(str(new_key))
            if moved is None:
                self.logger.warning(
                    "%s %s: its %s contact %s is not re-found over %s yet; the link is kept",
                    pair.incoming.stream,
                    key,
                    self._name(),
                    pair.key,
                    protocol,
                )
                self.report.count(pair.incoming.stream, "unchanged")
                pair.key = ""
                continue
            self.report.count(pair.incoming.stream, "relinked")
            pair.link, pair.key = moved, str(new_key)
        return [p for p in pairs if p.key]

    def _links_by_source(self, keys: list[str]) -> dict[str, Link]:
        if self.source == "exchange":
            return self.ledger.links_for_exchange_ids(keys, include_retired=True)
        out = self._sell_links(keys)
        unlinked = [k for k in keys if k not in out or not out[k].active]
        if unlinked:  # a record another one became (S6): its link moves to it first
            moves = self.ledger.moves_to(unlinked)
            old = self._sell_links([m.from_ref for m in moves.values()])
            for key, move in moves.items():
                link = old.get(move.from_ref)
                if link is not None and link.active:
                    moved = self._move_link(link, key, "lead_conversions")
                    if moved is not None:
                        out[key] = moved
        return out

    def _became_others(self, keys: list[str]) -> dict[str, str]:
        """Unlinked source records Sell says became another record (from ref → to ref)."""
        if self.source != "sell" or not keys:
            return {}
        return {k: m.to_ref for k, m in self.ledger.moves_from(keys).items()}

    def _sell_links(self, refs: Iterable[str], include_retired: bool = True) -> dict[str, Link]:
        """Links of these Sell refs (by default the latest retired one where none is active)."""
        by_kind: dict[str, list[int]] = {}
        for key in refs:
            kind, ident = parse_sell_ref(key)
            by_kind.setdefault(kind, []).append(ident)
        out: dict[str, Link] = {}
        for kind, ids in by_kind.items():
            for ident, link in self.ledger.links_for_sell_ids(kind, ids, include_retired).items():
                out[sell_ref(kind, ident)] = link
        return out

    def _dest_key(self, link: Link) -> str:
        return link.sell_ref if self.source == "exchange" else link.exchange_id

    def _pair_ids(self, source_key: str, dest_key: str) -> tuple[str, str, int]:
        """(exchange id, Sell kind, Sell id) of a source and a destination key."""
        exchange_id, ref = (
            (source_key, dest_key) if self.source == "exchange" else (dest_key, source_key)
        )
        kind, ident = parse_sell_ref(ref)
        return exchange_id, kind, ident

    def _name(self, side: Side | None = None) -> str:
        return "Exchange" if (side or self.target_side) == "exchange" else "Sell"

    def _raise_failed(self, failed: list[Outcome]) -> None:
        if not failed:
            return
        first = failed[0]
        if first.error is not None:
            raise first.error
        msg = f"{len(failed)} {self._name()} writes may not have happened: {first.reason}"
        raise SyncFailedError(msg)
