"""Sell contacts and leads → the engine's ``Incoming`` form, for the one sync engine.

What is Sell-specific before the engine runs: organisation names learnt from ``is_organization``
records (kept in the ledger, since this target has no Sell access), the Sell categories each record
must carry (S2), and people of a renamed organisation re-synced from their ledger snapshot. The
rules themselves (plan, match, merge, write, record) are ``contact_mapping.sync.SyncEngine``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from contact_mapping.canonical import Canonical
from contact_mapping.categories import SELL_CATEGORIES, sell_categories
from contact_mapping.ledger import Ledger, Link
from contact_mapping.normalize import normalize_text
from contact_mapping.sell_map import conversion_move, from_sell_contact, from_sell_lead
from contact_mapping.sync import Incoming, SyncEngine, sell_ref

log = logging.getLogger(__name__)

STREAM_KINDS = {"contacts": "contact", "leads": "lead"}
CONVERSIONS = "lead_conversions"


class SellToExchange:
    """Sell records of one run, handed batch by batch to the engine."""

    def __init__(
        self, engine: SyncEngine, ledger: Ledger, region: str, exchange_id_field: str | None
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.region = region
        self.exchange_id_field = exchange_id_field

    def process(self, stream: str, records: Sequence[Mapping[str, Any]]) -> None:
        if not records:
            return
        if stream == CONVERSIONS:
            # S6: a converted lead's Exchange contact follows the new Sell contact.
            self.engine.follow_moves(
                [conversion_move(r) for r in records if r.get("lead_id") and r.get("individual_id")]
            )
            return
        renamed = self._learn_organizations(records) if stream == "contacts" else {}
        batch = self._incoming(stream, records)
        if renamed:
            batch += self._org_followers(renamed, {i.key for i in batch})
        self.engine.process(batch)

    def _incoming(self, stream: str, records: Sequence[Mapping[str, Any]]) -> list[Incoming]:
        kind = STREAM_KINDS[stream]
        records = [r for r in records if r.get("id") is not None]
        org_names: dict[int, str] = {}
        if kind == "contact":
            org_ids = {
                int(r["contact_id"])
                for r in records
                if not r.get("is_organization") and r.get("contact_id") is not None
            }
            org_names = self.ledger.organization_names(org_ids) if org_ids else {}
        out = []
        for record in records:
            canonical = (
                from_sell_contact(record, org_names, self.region)
                if kind == "contact"
                else from_sell_lead(record, self.region)
            )
            out.append(
                Incoming(
                    key=sell_ref(kind, int(record["id"])),
                    stream=stream,
                    canonical=canonical,
                    modified=record.get("updated_at"),
                    marker=record.get("updated_at"),
                    categories=sell_categories(record, kind),
                    hint=self._exchange_id(record),
                    label=_label(canonical),
                )
            )
        return out

    def _exchange_id(self, record: Mapping[str, Any]) -> str | None:
        """The Exchange item a Sell record names itself (setting ``exchange_id_field``): a
        record target-sell-contacts created links to its item, even before its own run
        recorded the link (it may have crashed)."""
        if not self.exchange_id_field:
            return None
        value = (record.get("custom_fields") or {}).get(self.exchange_id_field)
        return str(value) if value not in (None, "") else None

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
        if not self.engine.dry_run:
            self.ledger.remember_organizations(names)
        return {i: (before[i], n) for i, n in names.items() if i in before and before[i] != n}

    def _org_followers(
        self, renamed: Mapping[int, tuple[str, str]], already: set[str]
    ) -> list[Incoming]:
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
        out: list[Incoming] = []
        for _org_id, (old, new_name) in renamed.items():
            for link in before.get(old, []):
                if link.sell_ref in already:
                    continue
                snap = link.snapshot
                values = dict(snap.sell_values or {})
                values["company"] = new_name
                canonical = Canonical(is_organization=False, unmapped=frozenset({"display_name"}))
                cats = frozenset(snap.categories or ()) & set(SELL_CATEGORIES)
                out.append(
                    Incoming(
                        key=link.sell_ref,
                        stream="contacts",
                        canonical=canonical.with_values(values),
                        modified=snap.sell_updated_at,
                        marker=snap.sell_updated_at,
                        categories=cats or frozenset({"Sell Person"}),
                    )
                )
        if out:
            log.info("organisation renamed: re-syncing %d linked people", len(out))
        return out


def _label(c: Canonical) -> str:
    return c.display_name or " ".join(p for p in (c.first_name, c.last_name) if p) or c.email or ""
