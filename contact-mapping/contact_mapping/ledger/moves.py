"""Sell records that became others (table ``moves``): a lead converted into a contact (S6).

A conversion is not a deletion: the link of the lead's Exchange contact moves to the contact the
conversion made. Both targets learn moves (target-exchange from tap-sell's ``lead_conversions``
stream, target-sell-contacts from Sell when a linked lead is gone), so the order in which the
conversion, the new contact and the lead's disappearance arrive does not matter.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from contact_mapping.ledger.models import Move
from contact_mapping.ledger.schema import moves as t
from contact_mapping.ledger.sql import in_chunks, now, upsert


def record(conn: sa.Connection, tenant: str, found: Iterable[Move]) -> None:
    """Remember moves (a replayed one changes nothing)."""
    stamp = now()
    rows = [
        {
            "tenant": tenant,
            "from_ref": m.from_ref,
            "to_ref": m.to_ref,
            "organization_id": m.organization_id,
            "deal_id": m.deal_id,
            "moved_at": m.moved_at,
            "recorded_at": stamp,
        }
        for m in found
    ]
    if rows:
        conn.execute(upsert(conn, t, ["tenant", "from_ref"], {"to_ref": None}), rows)


def _select(conn: sa.Connection, tenant: str, column: sa.Column, refs: Iterable[str]) -> list[Move]:
    out: list[Move] = []
    for chunk in in_chunks(list(dict.fromkeys(refs))):
        rows = conn.execute(sa.select(t).where(t.c.tenant == tenant, column.in_(chunk)))
        out += [Move(r.from_ref, r.to_ref, r.organization_id, r.deal_id, r.moved_at) for r in rows]
    return out


def from_refs(conn: sa.Connection, tenant: str, refs: Iterable[str]) -> dict[str, Move]:
    return {m.from_ref: m for m in _select(conn, tenant, t.c.from_ref, refs)}


def to_refs(conn: sa.Connection, tenant: str, refs: Iterable[str]) -> dict[str, Move]:
    return {m.to_ref: m for m in _select(conn, tenant, t.c.to_ref, refs)}
