"""Create intents (table ``intents``): the crash-safe create protocol's durable first step.

1. ``begin``: the intent is committed before the create is sent;
2. the target creates the record in the destination;
3. the link is written and the intent deleted in one transaction (the facade's
   ``complete_intents``).

An intent still pending at the next start means a run stopped between 1 and 3: the target's
finder looks the record up in the destination and the facade's ``resolve_intents`` adopts it
(links it, with ``adopted_snapshot``) or drops the intent so the record is created afresh.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from contact_mapping.canonical import fingerprint
from contact_mapping.ledger.models import DIRECTIONS, Adopted, Intent, NewIntent, Snapshot
from contact_mapping.ledger.schema import intents as t
from contact_mapping.ledger.sql import in_chunks, now
from contact_mapping.normalize import iso_utc, to_utc


def check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        msg = f"direction must be one of {DIRECTIONS}, not {direction!r}"
        raise ValueError(msg)


def to_intent(m: Mapping[str, Any] | sa.RowMapping) -> Intent:
    return Intent(
        id=m["id"],
        direction=m["direction"],
        source_id=m["source_id"],
        idempotency_key=m["idempotency_key"],
        payload_fingerprint=m["payload_fingerprint"],
        started_at=to_utc(m["started_at"]) or datetime.now(UTC),
        source_values=m["source_values"],
        source_modified=m["source_modified"],
        source_change_key=m["source_change_key"],
    )


def pending(
    conn: sa.Connection, tenant: str, direction: str, source_ids: Iterable[str] | None = None
) -> dict[str, Intent]:
    """Pending intents of one direction by source id (all of them, or of these sources)."""
    query = sa.select(t).where(t.c.tenant == tenant, t.c.direction == direction)
    if source_ids is None:
        rows = list(conn.execute(query.order_by(t.c.id)))
    else:
        ids = list(source_ids)
        rows = [
            r
            for chunk in in_chunks(ids)
            for r in conn.execute(query.where(t.c.source_id.in_(chunk)))
        ]
    return {intent.source_id: intent for intent in (to_intent(r._mapping) for r in rows)}


def begin(
    conn: sa.Connection, tenant: str, direction: str, requests: Iterable[NewIntent]
) -> dict[str, Intent]:
    """Insert an intent per request whose source has none pending; all of them by source id."""
    check_direction(direction)
    wanted = {str(r.source_id): r for r in requests}
    if not wanted:
        return {}
    out = pending(conn, tenant, direction, list(wanted))
    stamp = now()
    rows: list[dict[str, Any]] = []
    for source_id, req in wanted.items():
        if source_id in out:
            continue  # its create may have happened: resolve_intents settles it first
        values = dict(req.source_values) if req.source_values is not None else None
        rows.append(
            {
                "tenant": tenant,
                "direction": direction,
                "source_id": source_id,
                "idempotency_key": uuid.uuid4().hex,
                "payload_fingerprint": req.payload_fingerprint
                or (fingerprint(values) if values is not None else ""),
                "source_values": values,
                "source_modified": iso_utc(req.source_modified),
                "source_change_key": req.source_change_key,
                "started_at": stamp,
            }
        )
    if rows:
        conn.execute(t.insert(), rows)
        out.update(pending(conn, tenant, direction, [r["source_id"] for r in rows]))
    return out


def delete(conn: sa.Connection, tenant: str, intent: Intent) -> int:
    return conn.execute(t.delete().where(t.c.tenant == tenant, t.c.id == intent.id)).rowcount


def adopted_snapshot(intent: Intent, found: Adopted) -> Snapshot:
    """Snapshot for a record a crashed run created: base = the source values sent then."""
    source = intent.source_values
    if intent.direction == "exchange_to_sell":
        return Snapshot(
            base=source,
            exchange_values=source,
            exchange_modified=intent.source_modified,
            exchange_change_key=intent.source_change_key,
            sell_values=found.destination_values,
            sell_updated_at=found.destination_modified,
        )
    return Snapshot(
        base=source,
        sell_values=source,
        sell_updated_at=intent.source_modified,
        exchange_values=found.destination_values,
        exchange_modified=found.destination_modified,
        exchange_change_key=found.destination_change_key,
        categories=found.categories,
    )
