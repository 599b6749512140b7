"""Exchange as the sync engine's destination (``contact_mapping.sync.Destination``).

Everything here is mailbox I/O: current items by id (GetItem ≤100, only the fields the sync
needs), the matching index over the unlinked private contacts, contacts built and changed field by
field (NeverOverwrite, only what changed), the Sell categories (S2) and the Sell-link property, and
the search for items an interrupted create made (the link property). What to write, when, and what
the ledger remembers is the engine's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from contact_mapping.canonical import Canonical
from contact_mapping.categories import SELL_CATEGORIES, merge_categories
from contact_mapping.exchange_map import from_exchange, to_exchange_fields
from contact_mapping.ledger import Move
from contact_mapping.sync import Current, Found, Incoming, Outcome, Write
from exchange_mailbox.ews import link_property
from exchange_mailbox.ews.records import contact_to_record, iso
from exchange_mailbox.ews.writer import EwsWriter
from exchangelib import Body, Contact

from .contact_fields import apply_fields
from .mailbox_index import Mailbox

log = logging.getLogger(__name__)


def exchange_side_unmapped(c: Canonical) -> frozenset[str]:
    """What an Exchange contact of this type has no counterpart for (see exchange_map)."""
    return frozenset({"company"}) if c.is_organization else frozenset({"display_name"})


class ExchangeDestination:
    """The mailbox owner's private contact folders, written through ``EwsWriter``."""

    side = "exchange"
    keeps_overwritten = False  # no Sell access: the engine queues lost values in the ledger
    create_rounds = 3

    def __init__(self, writer: EwsWriter, mailbox: Mailbox, region: str) -> None:
        self.writer = writer
        self.mailbox = mailbox
        self.region = region
        self.create_rounds = writer.max_busy_rounds + 1

    # -- reads -----------------------------------------------------------------------------------
    def current(self, item: Contact) -> Current:
        record = contact_to_record(item, folder_id="", folder_path="")
        cats = tuple(sorted(set(item.categories or ()) & set(SELL_CATEGORIES)))
        return Current(
            item.id,
            from_exchange(record, self.region),
            record["last_modified_time"],
            item.changekey,
            categories=cats,
            raw=item,
        )

    def fetch(self, keys: Sequence[str]) -> dict[str, Current]:
        found = self.writer.fetch(list(keys))
        return {
            key: self.current(item)
            for key, item in found.items()
            if isinstance(item, Contact) and not self._outside_private_folders(item)
        }

    def _outside_private_folders(self, item: Contact) -> bool:
        """S6: Outlook's Delete moves a contact to Deleted Items, and a server with immutable ids
        (Exchange Online) keeps its id there; outside the private folders (S1.1) it is deleted
        for the sync. The folder list is read once per run, only when a merge needs it."""
        parent = item.parent_folder_id.id if item.parent_folder_id is not None else None
        return parent is not None and parent not in {f.id for f in self.mailbox.folders()}

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
        planned: list[tuple[str, Contact, list[str]]] = []
        held: dict[str, Current] = {}
        out: dict[str, Outcome] = {}
        for write in writes:
            assert write.current is not None
            item: Contact = write.current.raw
            fields = self._changes(item, write)
            merged = write.current.canonical.with_values(write.values)
            held[write.incoming.key] = replace(write.current, canonical=merged)
            if preview or not fields:
                out[write.incoming.key] = Outcome(
                    "ok", held[write.incoming.key], wrote=bool(fields), fields=tuple(fields)
                )
            else:
                planned.append((write.incoming.key, item, fields))
        outcomes = self.writer.update(planned) if planned else {}
        for key, _item, fields in planned:
            outcome = outcomes[key]
            if outcome.kind == "ok":
                # The answer has no time: the next record of this item is compared by change key.
                written = replace(held[key], modified=None, marker=outcome.change_key)
                out[key] = Outcome("ok", written, fields=tuple(fields))
            else:
                out[key] = Outcome(outcome.kind, reason=outcome.reason, back_off=outcome.back_off)
        return out

    def _changes(self, item: Contact, write: Write) -> list[str]:
        """Set on ``item`` what the merge changed, the Sell categories (S2) and the link; the
        names of the fields set (nothing to send when empty)."""
        merged = write.current.canonical.with_values(write.values) if write.current else None
        fields = (
            apply_fields(item, to_exchange_fields(merged, write.changed))
            if write.changed and merged is not None
            else []
        )
        categories = merge_categories(item.categories, write.incoming.categories or ())
        if categories != list(item.categories or []):
            item.categories = categories
            fields.append("categories")
        if getattr(item, link_property.FIELD_NAME, None) != write.incoming.key:
            setattr(item, link_property.FIELD_NAME, write.incoming.key)
            fields.append(link_property.FIELD_NAME)
        return fields

    def _new_contact(self, folder: Any, inc: Incoming) -> Contact:
        item = Contact(account=self.writer.account, folder=folder)
        apply_fields(item, to_exchange_fields(inc.canonical))
        if isinstance(item.body, str) and not isinstance(item.body, Body):
            item.body = Body(item.body)
        item.categories = merge_categories([], inc.categories or ())
        setattr(item, link_property.FIELD_NAME, inc.key)
        return item

    def create(self, writes: Sequence[Write], *, preview: bool = False) -> dict[str, Outcome]:
        if preview:
            return {w.incoming.key: Outcome("ok", fields=w.changed) for w in writes}
        folder = self.mailbox.destination()
        by_key = {w.incoming.key: w.incoming for w in writes}
        outcomes = self.writer.create(
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
        found = self.writer.find_by_links(self.mailbox.folder_objects(), list(values))
        ids = [item.id for copies in found.values() for item in copies]
        taken = linked(ids) if ids else set()
        out: dict[str, Current] = {}
        extra: list[Any] = []
        for ref, copies in found.items():
            ordered = sorted(copies, key=lambda it: it.id not in taken)
            kept = ordered[0]
            extra += [it for it in ordered[1:] if it.id not in taken]
            canonical = Canonical().with_values(values.get(ref) or {})
            cats = tuple(sorted(set(kept.categories or ()) & set(SELL_CATEGORIES)))
            out[ref] = Current(
                kept.id, canonical, iso(kept.last_modified_time), kept.changekey, categories=cats
            )
        if extra:
            log.warning("deleting %d duplicate contacts the sync created", len(extra))
            self.writer.delete_copies(extra)
        return out

    def wait(self, back_off: float | None, round_no: int) -> None:
        self.writer.wait_busy(back_off or 0.0, round_no)

    def moved(self, keys: Sequence[str]) -> dict[str, Move]:
        """Exchange items never become others here (a moved item keeps an immutable id; one
        outside the private folders is gone, S6)."""
        return {}
