"""Values that lost a conflict, to be kept in Sell (table ``overwritten_values``, S5.2).

target-exchange has no Sell access: it queues each value that lost one of its merges, in the
transaction that saves the merge's snapshot (the facade's ``create_link`` / ``save_snapshot``
with ``overwritten=``), so a crash keeps both or neither. target-sell-contacts takes its
tenant's pending rows, appends them to the record in Sell and marks them delivered
(at-least-once: ``merge.append_overwritten`` does not repeat a line already there).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from contact_mapping.ledger.links import check_sell_kind
from contact_mapping.ledger.models import OverwrittenValue
from contact_mapping.ledger.schema import overwritten_values as t
from contact_mapping.ledger.sql import in_chunks, now
from contact_mapping.normalize import iso_utc


def enqueue(conn: sa.Connection, tenant: str, entries: Iterable[OverwrittenValue]) -> None:
    """Queue the values as pending rows (their ``id``/``status``/``recorded_at`` are ignored)."""
    stamp = now()
    rows = []
    for e in entries:
        check_sell_kind(e.sell_kind)
        rows.append(
            {
                "tenant": tenant,
                "sell_kind": e.sell_kind,
                "sell_id": int(e.sell_id),
                "exchange_id": e.exchange_id,
                "field": e.field,
                "value": e.value,
                "origin": e.origin,
                "origin_time": iso_utc(e.origin_time),
                "recorded_at": stamp,
                "status": "pending",
            }
        )
    if rows:
        conn.execute(t.insert(), rows)


def _to_value(r: sa.Row) -> OverwrittenValue:
    return OverwrittenValue(
        sell_kind=r.sell_kind,
        sell_id=int(r.sell_id),
        field=r.field,
        value=r.value,
        origin=r.origin,
        origin_time=r.origin_time,
        exchange_id=r.exchange_id,
        id=int(r.id),
        status=r.status,
        recorded_at=r.recorded_at,
        delivered_at=r.delivered_at,
    )


def pending(
    conn: sa.Connection,
    tenant: str,
    sell_kind: str | None = None,
    sell_ids: Iterable[int] | None = None,
    limit: int | None = None,
) -> list[OverwrittenValue]:
    """Undelivered values, oldest first, optionally of some Sell records only."""
    query = sa.select(t).where(t.c.tenant == tenant, t.c.status == "pending")
    if sell_kind is not None:
        query = query.where(t.c.sell_kind == sell_kind)
    if sell_ids is not None:
        query = query.where(t.c.sell_id.in_([int(i) for i in sell_ids]))
    query = query.order_by(t.c.id)
    if limit is not None:
        query = query.limit(limit)
    return [_to_value(r) for r in conn.execute(query)]


def mark_delivered(conn: sa.Connection, tenant: str, ids: Iterable[int]) -> int:
    """Pending rows with these ids become delivered; returns how many changed."""
    wanted = list(dict.fromkeys(int(i) for i in ids))
    stamp = now()
    changed = 0
    for chunk in in_chunks(wanted):
        changed += conn.execute(
            t.update()
            .where(t.c.tenant == tenant, t.c.status == "pending", t.c.id.in_(chunk))
            .values(status="delivered", delivered_at=stamp)
        ).rowcount
    return changed
