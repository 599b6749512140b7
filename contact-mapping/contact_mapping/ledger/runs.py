"""Runs (table ``runs``): when each target ran for a tenant and what its report counted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from contact_mapping.ledger.models import Run
from contact_mapping.ledger.schema import runs as t
from contact_mapping.ledger.sql import inserted_id, now


def start(conn: sa.Connection, tenant: str, target: str) -> int:
    return inserted_id(
        conn.execute(t.insert().values(tenant=tenant, target=target, started_at=now()))
    )


def finish(conn: sa.Connection, tenant: str, run_id: int, counts: Mapping[str, Any]) -> None:
    """Record the end and the counts; LookupError if the run is not this tenant's."""
    updated = conn.execute(
        t.update()
        .where(t.c.tenant == tenant, t.c.id == run_id)
        .values(finished_at=now(), counts=dict(counts))
    ).rowcount
    if updated == 0:
        msg = f"no run {run_id} for tenant {tenant!r}"
        raise LookupError(msg)


def recent(conn: sa.Connection, tenant: str, target: str | None, limit: int) -> list[Run]:
    """The latest runs first."""
    query = sa.select(t).where(t.c.tenant == tenant)
    if target:
        query = query.where(t.c.target == target)
    rows = conn.execute(query.order_by(t.c.id.desc()).limit(limit))
    return [Run(r.id, r.target, r.started_at, r.finished_at, r.counts) for r in rows]
