"""Exchange as the sync engine's destination (``contact_mapping.sync.Destination``).

Everything here is mailbox I/O through ``exchange_mailbox``'s protocol-neutral interface (EWS or
Microsoft Graph, by setting ``protocol``): current items by id (batched, only the fields the sync
needs), the matching index over the unlinked private contacts, contacts built and changed field by
field (guarded by their version, only what changed), the Sell categories (S2) and the Sell-link
property, and the search for items an interrupted create made (the link property). What to write,
when, and what the ledger remembers is the engine's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from contact_mapping.canonical import Canonical
from contact_mapping.categories import SELL_CATEGORIES, merge_categories
from contact_mapping.exchange_map import from_exchange, to_exchange_fields
from contact_mapping.ledger import Move
from contact_mapping.sync import Current, Destination, Found, Incoming, Outcome, Write
from exchange_mailbox.interface import Item
from exchange_mailbox.interface import Mailbox as ProtocolMailbox

from .mailbox_index import Mailbox

log = logging.getLogger(__name__)


def exchange_side_unmapped(c: Canonical) -> frozenset[str]:
    """What an Exchange contact of this type has no counterpart for (see exchange_map)."""
    return frozenset({"company"}) if c.is_organization else frozenset({"display_name"})


class ExchangeDestination(Destination):
    """The mailbox owner's private contact folders, over EWS or Microsoft Graph."""

    side = "exchange"
    keeps_overwritten = False  # no Sell access: the engine queues lost values in the ledger
    #: Back-off after a create the server was too busy for without a hint (exchangelib's
    #: RETRY_WAIT), doubled per round and capped; ``max_busy_rounds`` rounds at most.
    busy_wait = 10.0
    max_busy_wait = 60.0
    max_busy_rounds = 5

    def __init__(self, box: ProtocolMailbox, mailbox: Mailbox, region: str) -> None:
        self.box = box
        self.mailbox = mailbox
        self.region = region
        self.create_rounds = self.max_busy_rounds + 1
        #: The ids this destination addresses (S13.2: a link of the other protocol is re-found).
        self.exchange_protocol: str | None = box.protocol

    # -- reads -----------------------------------------------------------------------------------
    def current(self, item: Item) -> Current:
        record = self.box.item_record(item)
        cats = tuple(sorted(set(record.get("categories") or ()) & set(SELL_CATEGORIES)))
        return Current(
            record["id"],
            from_exchange(record, self.region),
            record["last_modified_time"],
            record["change_key"],
            categories=cats,
            raw=item,
        )

    def fetch(self, keys: Sequence[str]) -> dict[str, Current]:
        found = self.box.fetch(list(keys))
        out: dict[str, Current] = {}
        for key, item in found.items():
            if isinstance(item, Exception):
                continue  # gone (or another protocol's id: the engine re-finds those first)
            current = self.current(item)
            if not self._outside_private_folders(item):
                out[key] = current
        return out

    def _outside_private_folders(self, item: Item) -> bool:
        """S6: Outlook's Delete moves a contact to Deleted Items, and a server with immutable ids
        (Exchange Online, Graph) keeps its id there; outside the private folders (S1.1) it is
        deleted for the sync. The folder list is read once per run, only when a merge needs it."""
        parent = self.box.item_record(item).get("folder_id")
        return bool(parent) and parent not in {f.id for f in self.mailbox.folders()}

    # -- matching (S4) ---------------------------------------------------------------------------
    def match(
        self, items: Sequence[Incoming], linked: Callable[[Collection[str]], set[str]]
    ) -> dict[str, Found]:
        index = self.mailbox.index(linked)
        out: dict[str, Found] = {}
        for inc in items:
            carriers = index.by_link.pop(inc.key, None)
            if carriers:
                # An item already carries this record's link (created by us; the ledger lost it).
                free = [c for c in carriers if c not in linked(carriers)]
                if free:
                    out[inc.key] = Found(free[0], {"matched_id": free[0], "rule": "sell_link"})
                    continue
            found = index.matches.match(inc.canonical)
            if found is not None:
                out[inc.key] = Found(str(found.candidate.id), found.log_details())
        return out

    # -- writes ----------------------------------------------------------------------------------
    def update(self, writes: Sequence[Write], *, preview: bool = False) -> dict[str, Outcome]:
        planned: list[tuple[str, Item, list[str]]] = []
        held: dict[str, Current] = {}
        out: dict[str, Outcome] = {}
        for write in writes:
            assert write.current is not None
            item = write.current.raw
            fields = self._changes(item, write)
            merged = write.current.canonical.with_values(write.values)
            held[write.incoming.key] = replace(write.current, canonical=merged)
            if preview or not fields:
                out[write.incoming.key] = Outcome(
                    "ok", held[write.incoming.key], wrote=bool(fields), fields=tuple(fields)
                )
            else:
                planned.append((write.incoming.key, item, fields))
        outcomes = self.box.update(planned) if planned else {}
        for key, _item, fields in planned:
            outcome = outcomes[key]
            if outcome.kind == "ok":
                # The answer has no time: the next record of this item is compared by change key.
                written = replace(held[key], modified=None, marker=outcome.change_key)
                out[key] = Outcome("ok", written, fields=tuple(fields))
            else:
                out[key] = Outcome(outcome.kind, reason=outcome.reason, back_off=outcome.back_off)
        return out

    def _changes(self, item: Item, write: Write) -> list[str]:
        """Set on ``item`` what the merge changed, the Sell categories (S2) and the link; the
        names of the fields set (nothing to send when empty)."""
        box = self.box
        merged = write.current.canonical.with_values(write.values) if write.current else None
        fields = (
            box.apply_fields(item, to_exchange_fields(merged, write.changed))
            if write.changed and merged is not None
            else []
        )
        carried = box.item_categories(item)
        categories = merge_categories(carried, write.incoming.categories or ())
        if categories != carried:
            fields.append(box.set_item_categories(item, categories))
        if box.item_link(item) != write.incoming.key:
            fields.append(box.set_item_link(item, write.incoming.key))
        return fields

    def _new_contact(self, folder: Any, inc: Incoming) -> Item:
        item = self.box.new_item(folder)
        self.box.apply_fields(item, to_exchange_fields(inc.canonical))
        self.box.set_item_categories(item, merge_categories([], inc.categories or ()))
        self.box.set_item_link(item, inc.key)
        return item

    def create(self, writes: Sequence[Write], *, preview: bool = False) -> dict[str, Outcome]:
        if preview:
            return {w.incoming.key: Outcome("ok", fields=w.changed) for w in writes}
        folder = self.mailbox.destination()
        by_key = {w.incoming.key: w.incoming for w in writes}
        outcomes = self.box.create(
            folder, [(key, self._new_contact(folder, inc)) for key, inc in by_key.items()]
        )
        out: dict[str, Outcome] = {}
        for key, outcome in outcomes.items():
            inc = by_key[key]
            if outcome.kind == "ok":
                assert outcome.item_id is not None
                canonical = replace(inc.canonical, unmapped=exchange_side_unmapped(inc.canonical))
                held = Current(outcome.item_id, canonical, None, outcome.change_key)
                out[key] = Outcome("ok", held)
            elif outcome.kind == "uncertain" and len(writes) == 1:
                # Sent alone and aborted by a raised error: this record is what the server
                # refuses (a chunk of many is resent one by one first, after a search).
                out[key] = Outcome("rejected", reason=outcome.reason or "refused by Exchange")
            else:
                out[key] = Outcome(outcome.kind, reason=outcome.reason, back_off=outcome.back_off)
        return out

    def find_created(
        self,
        items: Sequence[tuple[str, Mapping[str, Any]]],
        linked: Callable[[Collection[str]], set[str]],
    ) -> dict[str, Current]:
        """Items carrying the Sell-link property of an interrupted create; one per link (an item
        already linked wins, else the first); unlinked extra copies the sync made are deleted."""
        values = dict(items)
        found = self.box.find_by_links(self.mailbox.folder_objects(), list(values))
        records = {
            ref: [(item, self.box.item_record(item)) for item in copies]
            for ref, copies in found.items()
        }
        ids = [record["id"] for copies in records.values() for _, record in copies]
        taken = linked(ids) if ids else set()
        out: dict[str, Current] = {}
        extra: list[Any] = []
        for ref, copies in records.items():
            ordered = sorted(copies, key=lambda pair: pair[1]["id"] not in taken)
            _, kept = ordered[0]
            extra += [item for item, record in ordered[1:] if record["id"] not in taken]
            canonical = Canonical().with_values(values.get(ref) or {})
            cats = tuple(sorted(set(kept.get("categories") or ()) & set(SELL_CATEGORIES)))
            out[ref] = Current(
                kept["id"],
                canonical,
                kept.get("last_modified_time"),
                kept.get("change_key"),
                categories=cats,
            )
        if extra:
            log.warning("deleting %d duplicate contacts the sync created", len(extra))
            self.box.delete_copies(extra)
        return out

    def refind(self, refs: Sequence[str]) -> dict[str, str]:
        """S13.2: for links made over the other protocol, the contact carrying each Sell link,
        when exactly one does (copies are left alone: nothing is deleted here)."""
        found = self.box.find_by_links(self.mailbox.folder_objects(), list(refs))
        out: dict[str, str] = {}
        for ref, items in found.items():
            if len(items) == 1:
                out[ref] = self.box.item_record(items[0])["id"]
            else:
                log.warning("%s: %d contacts carry this Sell link; none chosen", ref, len(items))
        return out

    def wait(self, back_off: float | None, round_no: int) -> None:
        """Honour the server's back-off (or ours, doubling), bounded; a plain blocking wait, as
        exchangelib's own retry policy does."""
        delay = min(back_off or self.busy_wait * 2 ** (round_no - 1), self.max_busy_wait)
        log.info("Exchange busy: waiting %.1f s before resending (round %d)", delay, round_no)
        time.sleep(delay)

    def moved(self, keys: Sequence[str]) -> dict[str, Move]:
        """Exchange items never become others here (a moved item keeps an immutable id; one
        outside the private folders is gone, S6)."""
        return {}
