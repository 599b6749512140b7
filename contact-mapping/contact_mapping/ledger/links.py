"""Links and their snapshots (table ``links``): the SQL, run in the facade's transactions.

A link pairs one Exchange item with one Sell record; partial unique indexes allow one
**active** link per record on each side (a second one is a ``LinkConflictError``). Every write
raises ``version`` by one, which is what ``save_snapshot(expected_version=…)`` checks, and reads
that precede a write take the row lock (``SELECT … FOR UPDATE``; SQLite's writer holds the
database lock already).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from contact_mapping.exchange_ids import GRAPH_PREFIX
from contact_mapping.ledger.models import (
    SELL_KINDS,
    Link,
    LinkConflictError,
    Snapshot,
    StaleLinkError,
    UnknownLinkError,
)
from contact_mapping.ledger.schema import links as t
from contact_mapping.ledger.sql import in_chunks, inserted_id, now
from contact_mapping.normalize import iso_utc


def check_sell_kind(sell_kind: str) -> None:
    if sell_kind not in SELL_KINDS:
        msg = f"sell_kind must be one of {SELL_KINDS}, not {sell_kind!r}"
        raise ValueError(msg)


def snapshot_columns(snapshot: Snapshot) -> dict[str, Any]:
    """The link columns a snapshot fills (fingerprints and times in their stored form)."""
    return {
        "base": snapshot.base,
        "exchange_values": snapshot.exchange_values,
        "exchange_fingerprint": snapshot.exchange_fingerprint,
        "exchange_modified": iso_utc(snapshot.exchange_modified),
        "exchange_change_key": snapshot.exchange_change_key,
        "sell_values": snapshot.sell_values,
        "sell_fingerprint": snapshot.sell_fingerprint,
        "sell_updated_at": iso_utc(snapshot.sell_updated_at),
        "categories": list(snapshot.categories) if snapshot.categories is not None else None,
        "exchange_superseded_key": snapshot.exchange_superseded_key,
        "sell_superseded_values": snapshot.sell_superseded_values,
    }


def to_link(m: Mapping[str, Any] | sa.RowMapping) -> Link:
    """A row (``row._mapping``, or the values just inserted) as a ``Link``."""
    snapshot = Snapshot(
        base=m["base"],
        exchange_values=m["exchange_values"],
        exchange_modified=m["exchange_modified"],
        exchange_change_key=m["exchange_change_key"],
        sell_values=m["sell_values"],
        sell_updated_at=m["sell_updated_at"],
        categories=tuple(m["categories"]) if m["categories"] is not None else None,
        exchange_superseded_key=m["exchange_superseded_key"],
        sell_superseded_values=m["sell_superseded_values"],
    )
    return Link(
        id=m["id"],
        exchange_id=m["exchange_id"],
        sell_kind=m["sell_kind"],
        sell_id=int(m["sell_id"]),
        status=m["status"],
        snapshot=snapshot,
        version=m["version"],
        retired_reason=m["retired_reason"],
        retired_at=m["retired_at"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def insert(
    conn: sa.Connection,
    tenant: str,
    *,
    exchange_id: str,
    sell_kind: str,
    sell_id: int,
    snapshot: Snapshot,
) -> Link:
    """A new active link; LinkConflictError (this insert undone, the transaction kept) if taken."""
    check_sell_kind(sell_kind)
    stamp = now()
    values = {
        "tenant": tenant,
        "exchange_id": str(exchange_id),
        "sell_kind": sell_kind,
        "sell_id": int(sell_id),
        "status": "active",
        "created_at": stamp,
        "updated_at": stamp,
        "version": 1,
        **snapshot_columns(snapshot),
    }
    try:
        with conn.begin_nested():
            new_id = inserted_id(conn.execute(t.insert().values(**values)))
    except IntegrityError as exc:
        msg = (
            f"an active link already exists for Exchange item {exchange_id!r} or "
            f"Sell {sell_kind}:{sell_id}"
        )
        raise LinkConflictError(msg) from exc
    # Built from what was inserted (no read back: creates come in batches of hundreds).
    return to_link({**values, "id": new_id, "retired_reason": None, "retired_at": None})


def get(conn: sa.Connection, tenant: str, link_id: int) -> Link | None:
    row = conn.execute(sa.select(t).where(t.c.tenant == tenant, t.c.id == link_id)).first()
    return to_link(row._mapping) if row else None


def _where(
    conn: sa.Connection, tenant: str, condition: sa.ColumnElement[bool], include_retired: bool
) -> list[Link]:
    query = sa.select(t).where(t.c.tenant == tenant, condition)
    if not include_retired:
        query = query.where(t.c.status == "active")
    return [to_link(r._mapping) for r in conn.execute(query.order_by(t.c.id))]


def _prefer_active(found: Iterable[Link], key: Callable[[Link], Any]) -> dict[Any, Link]:
    """One link per key: the active one, else the most recent retired one."""
    out: dict[Any, Link] = {}
    for link in found:  # ordered by id, so later = newer
        current = out.get(key(link))
        if current is None or not current.active:
            out[key(link)] = link
    return out


def by_exchange_ids(
    conn: sa.Connection, tenant: str, exchange_ids: Iterable[str], include_retired: bool
) -> dict[str, Link]:
    ids = list(dict.fromkeys(str(i) for i in exchange_ids))
    found: list[Link] = []
    for chunk in in_chunks(ids):
        found += _where(conn, tenant, t.c.exchange_id.in_(chunk), include_retired)
    return _prefer_active(found, lambda link: link.exchange_id)


def by_sell_ids(
    conn: sa.Connection,
    tenant: str,
    sell_kind: str,
    sell_ids: Iterable[int],
    include_retired: bool,
) -> dict[int, Link]:
    ids = list(dict.fromkeys(int(i) for i in sell_ids))
    found: list[Link] = []
    for chunk in in_chunks(ids):
        condition = sa.and_(t.c.sell_kind == sell_kind, t.c.sell_id.in_(chunk))
        found += _where(conn, tenant, condition, include_retired)
    return _prefer_active(found, lambda link: link.sell_id)


def active(conn: sa.Connection, tenant: str) -> list[Link]:
    return _where(conn, tenant, sa.true(), include_retired=False)


def active_of_other_protocol(conn: sa.Connection, tenant: str, protocol: str) -> list[Link]:
    """Active links whose Exchange id is not of ``protocol`` (``exchange_ids``)."""
    graph = t.c.exchange_id.like(f"{GRAPH_PREFIX}%")
    return _where(conn, tenant, sa.not_(graph) if protocol == "graph" else graph, False)


def rekey_exchange(
    conn: sa.Connection, tenant: str, link_id: int, exchange_id: str, expected_version: int
) -> Link:
    """The same pair, its Exchange item now known by ``exchange_id`` (another protocol's id);
    StaleLinkError if the link moved, LinkConflictError if the id is linked already."""
    link = lock(conn, tenant, link_id)
    if link.version != expected_version:
        msg = f"link {link_id} is at version {link.version}, not {expected_version}"
        raise StaleLinkError(msg)
    try:
        with conn.begin_nested():
            return store(conn, tenant, link, exchange_id=str(exchange_id))
    except IntegrityError as exc:
        msg = f"an active link already exists for Exchange item {exchange_id!r}"
        raise LinkConflictError(msg) from exc


def lock(conn: sa.Connection, tenant: str, link_id: int) -> Link:
    """The link, row-locked until the transaction ends; UnknownLinkError if not this tenant's."""
    row = conn.execute(
        sa.select(t).where(t.c.tenant == tenant, t.c.id == link_id).with_for_update()
    ).first()
    if row is None:
        msg = f"no link {link_id} for tenant {tenant!r}"
        raise UnknownLinkError(msg)
    return to_link(row._mapping)


def store(conn: sa.Connection, tenant: str, link: Link, **columns: Any) -> Link:
    """Write ``columns`` to a locked link, one version up; returns the link as stored."""
    conn.execute(
        t.update()
        .where(t.c.tenant == tenant, t.c.id == link.id)
        .values(version=link.version + 1, updated_at=now(), **columns)
    )
    return to_link(conn.execute(sa.select(t).where(t.c.id == link.id)).one()._mapping)


def retire(conn: sa.Connection, tenant: str, link_id: int, reason: str) -> Link:
    """Deletes are never propagated (S6): the link is retired, both records are left alone."""
    link = lock(conn, tenant, link_id)
    if not link.active:
        return link
    return store(conn, tenant, link, status="retired", retired_reason=reason, retired_at=now())


def move_sell_side(
    conn: sa.Connection, tenant: str, link: Link, sell_kind: str, sell_id: int
) -> Link:
    """Point a locked active link at another Sell record (a converted lead's contact)."""
    check_sell_kind(sell_kind)
    try:
        with conn.begin_nested():
            return store(conn, tenant, link, sell_kind=sell_kind, sell_id=int(sell_id))
    except IntegrityError as exc:
        msg = f"Sell {sell_kind}:{sell_id} is linked already"
        raise LinkConflictError(msg) from exc
