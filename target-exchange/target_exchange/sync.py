"""Sell contacts and leads → Exchange contacts, one batch at a time, through the ledger.

Per batch (see README "How a batch is written"):
1. organisations learnt from ``is_organization`` records (ledger table), renames detected;
2. every record planned from the ledger alone (``contact_mapping.planning``): echoes, replays,
   retired links and unchanged rejections cost no request;
3. unlinked records: pending create intents of a crashed run resolved first (Sell-link property),
   then matched (S4) against the mailbox index, else created (intent protocol, CreateItem ≤100);
4. linked and matched records: current items fetched (GetItem ≤100, only the needed fields),
   merged three-way (S5), categories recomputed (S2), only changed fields sent (UpdateItem ≤100,
   NeverOverwrite); change-key conflicts re-read and re-merged; deleted items retire the link (S6);
5. the ledger written only after Exchange accepted the write, so STATE (emitted by the SDK after
   the batch returns) never runs ahead of a durable write.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from contact_mapping.canonical import Canonical, project
from contact_mapping.categories import SELL_CATEGORIES, merge_categories, sell_categories
from contact_mapping.exchange_map import from_exchange, to_exchange_fields
from contact_mapping.ledger import (
    Adopted,
    Intent,
    Ledger,
    Link,
    LinkConflictError,
    NewIntent,
    OverwrittenValue,
    Snapshot,
)
from contact_mapping.merge import MergeResult, merge, next_snapshot
from contact_mapping.normalize import iso_utc, normalize_text
from contact_mapping.planning import Action, plan_write
from contact_mapping.report import RunReport
from contact_mapping.sell_map import from_sell_contact, from_sell_lead
from exchange_mailbox.ews import link_property
from exchange_mailbox.ews.records import contact_to_record, iso
from exchange_mailbox.ews.writer import EwsWriter, Outcome
from exchangelib import Body, Contact
from exchangelib.errors import ErrorServerBusy

from .contact_fields import apply_fields
from .mailbox_index import Mailbox

log = logging.getLogger(__name__)

DIRECTION = "sell_to_exchange"
REJECTION_SIDE = "exchange"
MAX_CONFLICT_ROUNDS = 3
STREAM_KINDS = {"contacts": "contact", "leads": "lead"}


@dataclass
class Incoming:
    """One Sell record in the forms the sync needs."""

    stream: str
    kind: str
    sell_id: int
    canonical: Canonical
    categories: frozenset[str]
    updated_at: Any
    org_id: int | None = None
    was_rejected: bool = False

    @property
    def ref(self) -> str:
        return link_property.format_link(self.kind, self.sell_id)


@dataclass
class Pending:
    """A record about to be merged into a fetched Exchange item."""

    incoming: Incoming
    item_id: str
    link: Link | None  # None: first link (matched or adopted)
    rounds: int = 0


@dataclass
class RunState:
    """What lives for the whole run (shared by the contacts and leads sinks)."""

    intents_resolved: bool = False
    orgs_checked: set[int] = field(default_factory=set)


def exchange_side_unmapped(c: Canonical) -> frozenset[str]:
    """What an Exchange contact of this type has no counterpart for (see exchange_map)."""
    return frozenset({"company"}) if c.is_organization else frozenset({"display_name"})


class SellToExchange:
    """The sync engine of target-exchange; one per run."""

    def __init__(
        self,
        ledger: Ledger,
        writer: EwsWriter,
        mailbox: Mailbox,
        report: RunReport,
        default_region: str = "US",
    ) -> None:
        self.ledger = ledger
        self.writer = writer
        self.mailbox = mailbox
        self.report = report
        self.region = default_region
        self.state = RunState()

    # -- 1. records → Incoming -------------------------------------------------------------------
    def _incoming(self, stream: str, records: Sequence[Mapping[str, Any]]) -> list[Incoming]:
        kind = STREAM_KINDS[stream]
        latest: dict[int, Mapping[str, Any]] = {}
        for record in records:
            if record.get("id") is None:
                continue
            latest[int(record["id"])] = record  # a replayed record: the last copy wins
        org_names: dict[int, str] = {}
        if kind == "contact":
            org_ids = {
                int(r["contact_id"])
                for r in latest.values()
                if not r.get("is_organization") and r.get("contact_id") is not None
            }
            org_names = self.ledger.organization_names(org_ids) if org_ids else {}
        out = []
        for sell_id, record in latest.items():
            if kind == "contact":
                canonical = from_sell_contact(record, org_names, self.region)
                org_id = record.get("contact_id")
            else:
                canonical = from_sell_lead(record, self.region)
                org_id = None
            out.append(
                Incoming(
                    stream=stream,
                    kind=kind,
                    sell_id=sell_id,
                    canonical=canonical,
                    categories=sell_categories(record, kind),
                    updated_at=record.get("updated_at"),
                    org_id=int(org_id) if org_id is not None else None,
                )
            )
        return out

    def _learn_organizations(
        self, records: Sequence[Mapping[str, Any]]
    ) -> dict[int, tuple[str, str]]:
        """Store org names; return the renamed ones (id → (old name, new name))."""
        names = {
            int(r["id"]): normalize_text(r.get("name"))
            for r in records
            if r.get("is_organization")
            and r.get("id") is not None
            and normalize_text(r.get("name"))
        }
        if not names:
            return {}
        before = self.ledger.organization_names(names)
        self.ledger.remember_organizations(names)
        return {i: (before[i], n) for i, n in names.items() if i in before and before[i] != n}

    # -- the batch ----------------------------------------------------------------------------
    def process(self, stream: str, records: Sequence[Mapping[str, Any]]) -> None:
        if not records:
            return
        self.report.count(stream, "received", len(records))
        renamed = self._learn_organizations(records) if stream == "contacts" else {}
        incoming = self._incoming(stream, records)
        if incoming and not self.state.intents_resolved and self.ledger.pending_intents(DIRECTION):
            self._resolve_intents()
        self.state.intents_resolved = True
        by_kind: dict[str, list[Incoming]] = {}
        for inc in incoming:
            by_kind.setdefault(inc.kind, []).append(inc)
        to_merge: list[Pending] = []
        to_match: list[Incoming] = []
        for kind, group in by_kind.items():
            links = self.ledger.links_for_sell_ids(
                kind, [i.sell_id for i in group], include_retired=True
            )
            rejections = self.ledger.rejections_for(REJECTION_SIDE, [i.ref for i in group])
            for inc in group:
                link = links.get(inc.sell_id)
                inc.was_rejected = inc.ref in rejections
                plan = plan_write(
                    link,
                    "sell",
                    inc.canonical,
                    modified_marker=inc.updated_at,
                    categories=inc.categories,
                    rejection=rejections.get(inc.ref),
                )
                if plan.action is Action.MATCH_OR_CREATE:
                    to_match.append(inc)
                elif plan.action is Action.FETCH_AND_MERGE:
                    assert plan.link is not None
                    to_merge.append(Pending(inc, plan.link.exchange_id, plan.link))
                elif plan.action is Action.SKIP_ECHO:
                    self.report.count(stream, "echoes_skipped")
                else:
                    if plan.action is not Action.SKIP_UNCHANGED:
                        log.info("%s %s: %s", stream, inc.ref, plan.reason)
                    self.report.count(stream, "unchanged")
        if renamed:
            to_merge.extend(self._org_followers(renamed, {p.incoming.ref for p in to_merge}))
        to_create: list[Incoming] = []
        if to_match:
            matched, to_create = self._match(to_match)
            to_merge.extend(matched)
        if to_merge:
            to_create.extend(self._merge_and_update(to_merge))
        if to_create:
            self._create(to_create)

    # -- organisation renames ----------------------------------------------------------------
    def _org_followers(
        self, renamed: Mapping[int, tuple[str, str]], already: set[str]
    ) -> list[Pending]:
        """Linked people of a renamed organisation, re-synced now from their ledger snapshot.

        The ledger keeps no person→organisation membership, so people are found by the old
        company name in their Sell snapshot (a person of another organisation with the very same
        old name would follow too; documented limitation). They are merged like a Sell-side
        change of ``company``: a user's own CompanyName edit in Exchange still wins as a conflict.
        """
        before: dict[str | None, list[Link]] = {}
        for link in self.ledger.active_links():
            if link.sell_kind != "contact" or link.snapshot.sell_values is None:
                continue
            before.setdefault(link.snapshot.sell_values.get("company"), []).append(link)
        out: list[Pending] = []
        for org_id, (old, new_name) in renamed.items():
            for link in before.get(old, []):
                if link.sell_ref in already:
                    continue
                snap = link.snapshot
                values = dict(snap.sell_values or {})
                values["company"] = new_name
                canonical = Canonical(is_organization=False, unmapped=frozenset({"display_name"}))
                canonical = canonical.with_values(values)
                cats = frozenset(snap.categories or ()) & set(SELL_CATEGORIES)
                inc = Incoming(
                    stream="contacts",
                    kind="contact",
                    sell_id=link.sell_id,
                    canonical=canonical,
                    categories=cats or frozenset({"Sell Person"}),
                    updated_at=snap.sell_updated_at,
                    org_id=org_id,
                )
                out.append(Pending(inc, link.exchange_id, link))
        if out:
            log.info("organisation renamed: re-syncing %d linked people", len(out))
        return out

    # -- 3. intents, matching ----------------------------------------------------------------
    def _resolve_intents(self) -> None:
        """Settle creates a crashed run left half done: adopt the items carrying the link."""
        pending = self.ledger.pending_intents(DIRECTION)
        found = self._keep_one(
            self.writer.find_by_links(self.mailbox.folder_objects(), [i.source_id for i in pending])
        )

        def finder(intent: Intent) -> Adopted | None:
            item = found.get(intent.source_id)
            parsed = link_property.parse_link(intent.source_id)
            if item is None or parsed is None:
                return None
            values = intent.source_values or {}
            return Adopted(
                exchange_id=item.id,
                sell_kind=parsed[0],
                sell_id=parsed[1],
                destination_values=values,
                destination_modified=iso(item.last_modified_time),
                destination_change_key=item.changekey,
                # The Sell categories it carries: a replay then needs no GetItem to compare.
                categories=tuple(sorted(set(item.categories or ()) & set(SELL_CATEGORIES))),
            )

        outcomes = self.ledger.resolve_intents(DIRECTION, finder)
        adopted = sum(1 for o in outcomes if o.outcome == "adopted")
        log.info(
            "resolved %d pending create intents: %d adopted, %d to create again",
            len(outcomes),
            adopted,
            len(outcomes) - adopted,
        )

    def _linked_exchange_ids(self, ids: list[str]) -> set[str]:
        return set(self.ledger.links_for_exchange_ids(ids, include_retired=True))

    def _match(self, records: list[Incoming]) -> tuple[list[Pending], list[Incoming]]:
        index = self.mailbox.index(self._linked_exchange_ids)
        matched: list[Pending] = []
        create: list[Incoming] = []
        for inc in records:
            carriers = index.by_link.pop(inc.ref, None)
            if carriers:
                # An item already carries this record's link (created by us; ledger lost it).
                linked = self._linked_exchange_ids(carriers)
                free = [c for c in carriers if c not in linked]
                if free:
                    matched.append(Pending(inc, free[0], None))
                    continue
            found = index.matches.match(inc.canonical)
            if found is None:
                create.append(inc)
                continue
            details = found.log_details()
            self.report.match(inc.stream, inc.ref, **details)
            # S4.2: the choice is logged with the candidates it beat.
            log.info("matched %s to Exchange item: %s", inc.ref, details)
            matched.append(Pending(inc, str(found.candidate.id), None))
        return matched, create

    # -- 4. merge and update ----------------------------------------------------------------
    def _merge_and_update(self, pending: list[Pending]) -> list[Incoming]:
        """Fetch, merge, write; loops on change-key conflicts. Returns records to create."""
        create: list[Incoming] = []
        rounds = 0
        while pending and rounds <= MAX_CONFLICT_ROUNDS:
            rounds += 1
            current = self.writer.fetch([p.item_id for p in pending])
            writes: list[tuple[int, Contact, list[str]]] = []
            planned: dict[int, tuple[Pending, Contact, MergeResult, Canonical, bool]] = {}
            for n, p in enumerate(pending):
                item = current.get(p.item_id)
                if not isinstance(item, Contact) or self._outside_private_folders(item):
                    if p.link is not None:
                        self._retire(p, "Exchange contact deleted")
                    else:
                        create.append(p.incoming)
                    continue
                result, xc, fields = self._plan_merge(p, item)
                if fields:
                    writes.append((n, item, fields))
                planned[n] = (p, item, result, xc, bool(fields))
            outcomes = self.writer.update(writes) if writes else {}
            retry: list[Pending] = []
            for n, (p, item, result, xc, wrote) in planned.items():
                outcome = outcomes.get(n, Outcome("ok", item.id, item.changekey)) if wrote else None
                if outcome is None or outcome.kind == "ok":
                    self._linked(p, item=item, result=result, xc=xc, outcome=outcome, wrote=wrote)
                elif outcome.kind == "conflict":
                    if rounds > MAX_CONFLICT_ROUNDS:
                        msg = f"{p.incoming.ref}: Exchange item keeps changing ({outcome.reason})"
                        raise RuntimeError(msg)
                    retry.append(p)
                elif outcome.kind == "not_found":
                    if p.link is not None:
                        self._retire(p, "Exchange contact deleted")
                    else:
                        create.append(p.incoming)
                else:
                    self._reject(p.incoming, outcome.reason or "rejected by Exchange")
            if retry:
                log.info("%d change-key conflicts: re-reading and re-merging", len(retry))
            pending = retry
        return create

    def _outside_private_folders(self, item: Contact) -> bool:
        """S6: Outlook's Delete moves a contact to Deleted Items, and a server with immutable ids
        (Exchange Online) keeps its id there; outside the private folders (S1.1) it is deleted
        for the sync. The folder list is read once per run, only when a merge needs it."""
        parent = item.parent_folder_id.id if item.parent_folder_id is not None else None
        return parent is not None and parent not in {f.id for f in self.mailbox.folders()}

    def _plan_merge(self, p: Pending, item: Contact) -> tuple[MergeResult, Canonical, list[str]]:
        record = contact_to_record(item, folder_id="", folder_path="")
        xc = from_exchange(record, self.region)
        inc = p.incoming
        base = p.link.snapshot.base if p.link is not None else None
        first = p.link is None or base is None
        result = merge(
            base, xc, inc.canonical, record["last_modified_time"], inc.updated_at, first_link=first
        )
        changed = result.changed_for(xc)
        fields = (
            apply_fields(item, to_exchange_fields(result.merged(xc), changed)) if changed else []
        )
        categories = merge_categories(item.categories, inc.categories)
        if categories != list(item.categories or []):
            item.categories = categories
            fields.append("categories")
        if getattr(item, link_property.FIELD_NAME, None) != inc.ref:
            setattr(item, link_property.FIELD_NAME, inc.ref)
            fields.append(link_property.FIELD_NAME)
        return result, xc, fields

    def _snapshot(
        self,
        inc: Incoming,
        xc: Canonical,
        merged: Mapping[str, Any],
        modified: Any,
        key: str | None,
    ) -> Snapshot:
        values = next_snapshot("sell", inc.canonical, xc, merged)
        return Snapshot(
            base=values.base,
            exchange_values=values.exchange_values,
            exchange_modified=iso_utc(modified),
            exchange_change_key=key,
            sell_values=values.sell_values,
            sell_updated_at=iso_utc(inc.updated_at),
            categories=tuple(sorted(inc.categories)),
        )

    def _linked(
        self,
        p: Pending,
        *,
        item: Contact,
        result: MergeResult,
        xc: Canonical,
        outcome: Outcome | None,
        wrote: bool,
    ) -> None:
        inc = p.incoming
        key = outcome.change_key if outcome is not None else item.changekey
        modified = None if wrote else iso(item.last_modified_time)
        snapshot = self._snapshot(inc, xc, result.values, modified, key).superseding(
            p.link.snapshot if p.link is not None else None,
            exchange_key=item.changekey if wrote else None,  # the version this write replaced
        )
        lost = self._lost_values(inc, item.id, result)
        if p.link is not None:
            self.ledger.save_snapshot(p.link.id, snapshot, overwritten=lost)
        else:
            try:
                self.ledger.create_link(item.id, inc.kind, inc.sell_id, snapshot, overwritten=lost)
            except LinkConflictError:
                log.warning("%s: linked meanwhile by another run; left as it is", inc.ref)
                return
        self._report_conflicts(inc, item.id, result)
        if inc.was_rejected:
            self.ledger.clear_rejection(REJECTION_SIDE, inc.ref)
        self.report.count(inc.stream, "updated" if wrote else "unchanged")

    @staticmethod
    def _lost_values(
        inc: Incoming, exchange_id: str, result: MergeResult
    ) -> list[OverwrittenValue]:
        """Every value that lost a conflict decided here (S5.2: kept in Sell, whichever side it
        came from), queued in the ledger with the snapshot for target-sell-contacts to deliver
        (this target has no Sell access). Exchange values Sell beat are obvious; Sell values
        Exchange beat are queued too: the base-update rule makes target-sell-contacts overwrite
        them in Sell later as a plain Exchange-side change, without a conflict of its own."""
        return [
            OverwrittenValue(
                sell_kind=inc.kind,
                sell_id=inc.sell_id,
                field=o.field,
                value=o.value,
                origin=o.origin,
                origin_time=iso_utc(o.time),
                exchange_id=exchange_id,
            )
            for o in result.overwritten
        ]

    def _report_conflicts(self, inc: Incoming, exchange_id: str, result: MergeResult) -> None:
        """Reported once, for the merge that was written (not for re-merged conflict rounds)."""
        for overwritten in result.overwritten:
            kept_origin = "exchange" if overwritten.origin == "sell" else "sell"
            self.report.conflict(
                inc.stream,
                inc.ref,
                field=overwritten.field,
                kept=result.values.get(overwritten.field),
                kept_origin=kept_origin,
                overwritten=overwritten.value,
                overwritten_origin=overwritten.origin,
                exchange_id=exchange_id,
            )

    def _retire(self, p: Pending, reason: str) -> None:
        assert p.link is not None
        self.ledger.retire_link(p.link.id, reason)
        self.report.retire(p.incoming.stream, p.incoming.ref, reason, exchange_id=p.item_id)
        log.info("%s: %s; link retired, nothing re-created (S6)", p.incoming.ref, reason)

    def _reject(self, inc: Incoming, reason: str) -> None:
        self.ledger.record_rejection(REJECTION_SIDE, inc.ref, inc.canonical.fingerprint(), reason)
        self.report.reject(inc.stream, inc.ref, reason)
        log.warning("%s rejected by Exchange: %s", inc.ref, reason)

    # -- 3b. create ------------------------------------------------------------------------
    def _new_contact(self, folder: Any, inc: Incoming) -> Contact:
        item = Contact(account=self.writer.account, folder=folder)
        apply_fields(item, to_exchange_fields(inc.canonical))
        if isinstance(item.body, str) and not isinstance(item.body, Body):
            item.body = Body(item.body)
        item.categories = merge_categories([], inc.categories)
        setattr(item, link_property.FIELD_NAME, inc.ref)
        return item

    def _created_snapshot(self, inc: Incoming, change_key: str | None) -> Snapshot:
        xc = replace(inc.canonical, unmapped=exchange_side_unmapped(inc.canonical))
        return self._snapshot(inc, xc, project(inc.canonical.values()), None, change_key)

    def _create(self, records: Iterable[Incoming]) -> None:
        records = list(records)
        folder = self.mailbox.destination()
        # One commit for the batch's intents, all durable before any CreateItem is sent.
        intents = self.ledger.begin_intents(
            DIRECTION,
            [
                NewIntent(inc.ref, project(inc.canonical.values()), inc.updated_at)
                for inc in records
            ],
        )
        self._create_round(folder, records, intents, allow_retry=True)

    def _create_round(
        self, folder: Any, records: list[Incoming], intents: dict[str, Intent], allow_retry: bool
    ) -> None:
        by_ref = {inc.ref: inc for inc in records}
        busy_rounds = 0
        while by_ref:
            outcomes = self.writer.create(
                folder, [(ref, self._new_contact(folder, inc)) for ref, inc in by_ref.items()]
            )
            done: list[tuple[Incoming, str, str | None]] = []
            uncertain: list[Incoming] = []
            busy: list[tuple[Incoming, Outcome]] = []
            for ref, outcome in outcomes.items():
                inc = by_ref[ref]
                if outcome.kind == "ok":
                    assert outcome.item_id is not None
                    done.append((inc, outcome.item_id, outcome.change_key))
                elif outcome.kind == "uncertain":
                    uncertain.append(inc)
                elif outcome.kind == "busy":
                    busy.append((inc, outcome))
                else:
                    self.ledger.drop_intent(intents[ref])
                    self._reject(inc, outcome.reason or "rejected by Exchange")
            self._complete_many(done, intents)
            if not uncertain and not busy:
                return
            # Adopt what the server did create (never create a second copy), resend the rest.
            found = self._adopt_created([i for i, _ in busy] + uncertain, intents)
            missing_busy = [(i, o) for i, o in busy if i.ref not in found]
            again = [i for i in uncertain if i.ref not in found]
            # A raised error aborted a chunk: retry one by one so a bad record is rejected alone.
            for inc in again:
                if allow_retry:
                    self._create_round(folder, [inc], intents, allow_retry=False)
                else:
                    self.ledger.drop_intent(intents[inc.ref])
                    self._reject(inc, "Exchange refused to create the contact")
            by_ref = {inc.ref: inc for inc, _ in missing_busy}
            if not by_ref:
                return
            busy_rounds += 1
            if busy_rounds > self.writer.max_busy_rounds:
                msg = f"Exchange stayed busy for {len(by_ref)} contacts; giving up (S10.2)"
                raise ErrorServerBusy(msg)
            self.writer.wait_busy(max(o.back_off or 0 for _, o in missing_busy), busy_rounds)

    def _adopt_created(self, records: list[Incoming], intents: dict[str, Intent]) -> set[str]:
        """Items of these records that exist after all (found by the Sell-link property) are
        linked; extra copies are deleted. Returns the refs that were found."""
        if not records:
            return set()
        found = self.writer.find_by_links(self.mailbox.folder_objects(), [i.ref for i in records])
        kept = self._keep_one(found)
        done = [
            (inc, kept[inc.ref].id, kept[inc.ref].changekey) for inc in records if inc.ref in kept
        ]
        self._complete_many(done, intents)
        return set(kept)

    def _keep_one(self, found: Mapping[str, list[Any]]) -> dict[str, Any]:
        """One item per Sell link: an item already linked in the ledger wins, else the first;
        unlinked extra copies (made by a create that was sent twice) are deleted."""
        ids = [item.id for items in found.values() for item in items]
        linked = self._linked_exchange_ids(ids) if ids else set()
        kept: dict[str, Any] = {}
        extra: list[Any] = []
        for ref, items in found.items():
            ordered = sorted(items, key=lambda it: it.id not in linked)
            kept[ref] = ordered[0]
            extra += [it for it in ordered[1:] if it.id not in linked]
        if extra:
            log.warning("deleting %d duplicate contacts the sync created", len(extra))
            self.writer.delete_copies(extra)
        return kept

    def _complete_many(
        self, done: list[tuple[Incoming, str, str | None]], intents: dict[str, Intent]
    ) -> None:
        """Links of a batch of created items, in one ledger transaction."""
        if not done:
            return
        results = self.ledger.complete_intents(
            [
                (
                    intents[inc.ref],
                    item_id,
                    inc.kind,
                    inc.sell_id,
                    self._created_snapshot(inc, change_key),
                )
                for inc, item_id, change_key in done
            ]
        )
        for inc, item_id, _ in done:
            if results.get(intents[inc.ref].id) is None:
                log.warning(
                    "%s: already linked; the new item %s is left unlinked", inc.ref, item_id
                )
                continue
            if inc.was_rejected:
                self.ledger.clear_rejection(REJECTION_SIDE, inc.ref)
            self.report.count(inc.stream, "created")
