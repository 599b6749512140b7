"""Rejections (table ``rejections``, S10.1): a record version a side refused is not resent.

One row per (side, record): the fingerprint of the version refused, the reason and a count of
attempts. The target compares the fingerprint with the record as it is now and retries only a
changed record.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from contact_mapping.ledger.models import Rejection
from contact_mapping.ledger.schema import rejections as t
from contact_mapping.ledger.sql import in_chunks, now, upsert


def record(
    conn: sa.Connection, tenant: str, *, side: str, record_id: str, fp: str, reason: str
) -> None:
    """Remember that ``side`` rejected this record version; a repeat counts one more attempt."""
    stmt = upsert(
        conn,
        t,
        ["tenant", "side", "record_id"],
        {"fingerprint": None, "reason": None, "rejected_at": None, "attempts": t.c.attempts + 1},
    )
    row = {
        "tenant": tenant,
        "side": side,
        "record_id": str(record_id),
        "fingerprint": fp,
        "reason": reason,
        "rejected_at": now(),
        "attempts": 1,
    }
    conn.execute(stmt, row)


def for_records(
    conn: sa.Connection, tenant: str, side: str, record_ids: Iterable[str]
) -> dict[str, Rejection]:
    ids = list(dict.fromkeys(str(i) for i in record_ids))
    out: dict[str, Rejection] = {}
    for chunk in in_chunks(ids):
        rows = conn.execute(
            sa.select(t).where(t.c.tenant == tenant, t.c.side == side, t.c.record_id.in_(chunk))
        )
        for r in rows:
            out[r.record_id] = Rejection(
                r.side, r.record_id, r.fingerprint, r.reason, r.rejected_at, r.attempts
            )
    return out


def clear(conn: sa.Connection, tenant: str, side: str, record_id: str) -> None:
    conn.execute(
        t.delete().where(t.c.tenant == tenant, t.c.side == side, t.c.record_id == str(record_id))
    )
