"""Ledger calls only tests make: kept out of the facade so it shows what the sync uses."""

from __future__ import annotations

from collections.abc import Iterable

from contact_mapping.ledger import overwritten_values, rejections, runs
from contact_mapping.ledger.models import OverwrittenValue, Run
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
