"""Ledger calls only tests make: kept out of the facade so it shows what the sync uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from contact_mapping.ledger import links, overwritten_values, rejections, runs
from contact_mapping.ledger.models import (
    Intent,
    Link,
    LinkConflictError,
    NewIntent,
    OverwrittenValue,
    Run,
    Snapshot,
)
from contact_mapping.ledger.store import Ledger


def should_retry(ledger: Ledger, side: str, record_id: str, fp: str) -> bool:
    """False only while the record is unchanged since ``side`` rejected it (S10.1)."""
    with ledger._read() as conn:
        found = rejections.for_records(conn, ledger.tenant, side, [record_id]).get(str(record_id))
    return found is None or found.fingerprint != fp


def enqueue_overwritten(ledger: Ledger, entries: Iterable[OverwrittenValue]) -> None:
    """Queue values for Sell alone; the sync queues them with a snapshot (``overwritten=``)."""
    with ledger._write() as conn:
        overwritten_values.enqueue(conn, ledger.tenant, entries)


def recent_runs(ledger: Ledger, target: str | None = None, limit: int = 20) -> list[Run]:
    """The tenant's latest runs first, optionally of one target."""
    with ledger._read() as conn:
        return runs.recent(conn, ledger.tenant, target, limit)


def update_link(ledger: Ledger, link_id: int, change: Callable[[Link], Snapshot]) -> Link:
    """Read-modify-write of a link's snapshot under a row lock (the sync itself saves under a
    version check, ``save_snapshot(expected_version=...)``)."""
    with ledger._write() as conn:
        link = links.lock(conn, ledger.tenant, link_id)
        return links.store(conn, ledger.tenant, link, **links.snapshot_columns(change(link)))


def begin_intent(
    ledger: Ledger,
    direction: str,
    source_id: str,
    source_values: Mapping[str, Any] | None = None,
    *,
    payload_fingerprint: str | None = None,
    source_modified: Any = None,
    source_change_key: str | None = None,
) -> Intent:
    """:meth:`Ledger.begin_intents` for one create."""
    values = dict(source_values) if source_values is not None else None
    request = NewIntent(
        str(source_id), values, source_modified, source_change_key, payload_fingerprint
    )
    return ledger.begin_intents(direction, [request])[str(source_id)]


def complete_intent(  # noqa: PLR0917 - the order of complete_intents tuples
    ledger: Ledger,
    intent: Intent,
    exchange_id: str,
    sell_kind: str,
    sell_id: int,
    snapshot: Snapshot,
) -> Link:
    """:meth:`Ledger.complete_intents` for one create; LinkConflictError if a record was taken."""
    done = ledger.complete_intents([(intent, exchange_id, sell_kind, sell_id, snapshot)])
    link = done[intent.id]
    if link is None:
        msg = f"Exchange item {exchange_id!r} or Sell {sell_kind}:{sell_id} is linked already"
        raise LinkConflictError(msg)
    return link
