"""Sell organisation names (table ``organizations``): company names for target-exchange,
which has no Sell API access, learnt from the records the taps deliver."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from contact_mapping.ledger.schema import organizations as t
from contact_mapping.ledger.sql import in_chunks, now, upsert


def remember(conn: sa.Connection, tenant: str, names: Mapping[int, str | None]) -> None:
    """Upsert id → name (last one wins); a None name teaches nothing."""
    known = {int(org_id): name for org_id, name in names.items() if name is not None}
    if not known:
        return
    stamp = now()
    rows = [
        {"tenant": tenant, "sell_id": org_id, "name": name, "updated_at": stamp}
        for org_id, name in known.items()
    ]
    conn.execute(upsert(conn, t, ["tenant", "sell_id"], {"name": None, "updated_at": None}), rows)


def names(conn: sa.Connection, tenant: str, ids: Iterable[int] | None = None) -> dict[int, str]:
    """Known names of these organisations, or of all of them."""
    query = sa.select(t.c.sell_id, t.c.name).where(t.c.tenant == tenant)
    if ids is None:
        return {int(r.sell_id): r.name for r in conn.execute(query)}
    wanted = list(dict.fromkeys(int(i) for i in ids))
    out: dict[int, str] = {}
    for chunk in in_chunks(wanted):
        out.update(
            {int(r.sell_id): r.name for r in conn.execute(query.where(t.c.sell_id.in_(chunk)))}
        )
    return out
