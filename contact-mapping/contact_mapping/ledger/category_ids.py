"""The ids the mailbox gave the Sell categories (table ``category_ids``, S3.2 over Graph).

Over EWS a Sell category carries our stable GUID; over Microsoft Graph the service assigns the id
of a category it creates, so target-exchange remembers it here to recognise the category when
the user renames it in Outlook.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from contact_mapping.ledger.schema import category_ids as t
from contact_mapping.ledger.sql import now, upsert


def remember(conn: sa.Connection, tenant: str, ids: Mapping[str, str]) -> None:
    """Upsert name → id (last one wins)."""
    if not ids:
        return
    stamp = now()
    rows = [
        {"tenant": tenant, "name": name, "category_id": cid, "updated_at": stamp}
        for name, cid in ids.items()
    ]
    conn.execute(
        upsert(conn, t, ["tenant", "name"], {"category_id": None, "updated_at": None}), rows
    )


def known(conn: sa.Connection, tenant: str) -> dict[str, str]:
    query = sa.select(t.c.name, t.c.category_id).where(t.c.tenant == tenant)
    return {r.name: r.category_id for r in conn.execute(query)}
