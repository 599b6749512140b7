"""Decide, from the ledger alone, what an incoming record needs — before any request is made."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from contact_mapping.canonical import MAPPED_FIELDS, Canonical, field_key
from contact_mapping.ledger.models import Link, Rejection, superseded_keys
from contact_mapping.merge import Side
from contact_mapping.normalize import iso_utc, to_utc


class Action(StrEnum):
    MATCH_OR_CREATE = "match_or_create"  # no link: look for a match (S4), else create
    SKIP_ECHO = "skip_echo"  # the record moved, but only by our own write / unmapped fields
    SKIP_UNCHANGED = "skip_unchanged"  # the very version already handled (replay, S7.2)
    SKIP_RETIRED = "skip_retired"  # link retired (S6): neither write nor re-create
    SKIP_STALE = "skip_stale"  # older than a version already synced: a late replay (S7.2)
    SKIP_REJECTED = "skip_rejected"  # rejected before and unchanged since (S10.1)
    FETCH_AND_MERGE = "fetch_and_merge"  # read the destination record, merge, write the changes


@dataclass(frozen=True)
class WritePlan:
    action: Action
    reason: str
    link: Link | None = None

    @property
    def skip(self) -> bool:
        return self.action.value.startswith("skip_")


def _differs(
    a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, ignore: Iterable[str]
) -> list[str]:
    if a is None or b is None:
        return list(MAPPED_FIELDS)
    skip = set(ignore)
    return [
        f
        for f in MAPPED_FIELDS
        if f not in skip and field_key(f, a.get(f)) != field_key(f, b.get(f))
    ]


def plan_write(
    link: Link | None,
    source: Side,
    incoming: Canonical,
    *,
    modified_marker: Any = None,
    modified_at: Any = None,
    categories: Iterable[str] | None = None,
    rejection: Rejection | None = None,
) -> WritePlan:
    """What to do with ``incoming`` (the canonical form of a record from ``source``).

    ``modified_marker`` is the record's version marker as the ledger stores it: the Exchange
    change key, or the Sell ``updated_at``. ``categories`` (Sell → Exchange only) are the Sell
    categories the record must carry; a change there needs a write even if no field changed.

    Skips need two things: the source side is as the ledger last saw it, and the base already
    equals it (so the other side holds everything the source has). Otherwise the destination is
    fetched and merged — the base update rule makes that propagate exactly what lagged.
    """
    if rejection is not None and rejection.fingerprint == incoming.fingerprint():
        return WritePlan(Action.SKIP_REJECTED, f"rejected before: {rejection.reason}", link)
    if link is None:
        return WritePlan(Action.MATCH_OR_CREATE, "not linked yet")
    if not link.active:
        return WritePlan(Action.SKIP_RETIRED, f"link retired: {link.retired_reason}", link)
    snap = link.snapshot
    if _older(
        source,
        snap,
        modified_at if modified_at is not None else _sell_time(source, modified_marker),
    ):
        return WritePlan(Action.SKIP_STALE, "older than the version last synced (a replay)", link)
    if _superseded(source, snap, incoming, modified_marker, modified_at):
        return WritePlan(Action.SKIP_STALE, "the version the sync's last write replaced", link)
    seen = snap.exchange_values if source == "exchange" else snap.sell_values
    moved = _differs(incoming.values(), seen, incoming.unmapped)
    if moved:
        return WritePlan(Action.FETCH_AND_MERGE, f"changed since last sync: {moved}", link)
    lagging = _differs(snap.base, seen, incoming.unmapped)
    if lagging:
        return WritePlan(Action.FETCH_AND_MERGE, f"not yet on the other side: {lagging}", link)
    if categories is not None and (
        snap.categories is None or set(snap.categories) != set(categories)
    ):
        return WritePlan(Action.FETCH_AND_MERGE, "Sell categories changed", link)
    stored = snap.exchange_change_key if source == "exchange" else snap.sell_updated_at
    marker = modified_marker if source == "exchange" else iso_utc(modified_marker)
    if marker is not None and marker == stored:
        return WritePlan(Action.SKIP_UNCHANGED, "same version as last sync", link)
    return WritePlan(Action.SKIP_ECHO, "no mapped change since the last sync wrote it", link)


def _superseded(
    source: Side, snap: Any, incoming: Canonical, marker: Any, modified_at: Any
) -> bool:
    """Whether ``incoming`` is a version the sync's own writes on ``source`` replaced.

    Exchange: its change key, one of those our writes replaced. Sell has none: its values,
    stamped in the second of our write (a later stamp is a newer version; an earlier one is
    caught as older).
    """
    if source == "exchange":
        return marker is not None and marker in superseded_keys(snap.exchange_superseded_key)
    if snap.sell_superseded_values is None:
        return False
    if not _differs(incoming.values(), snap.sell_values, incoming.unmapped):
        # It carries exactly what our write left (a write that changed no mapped field, such
        # as a kept value appended): it is the current version, not the one replaced (S5.5).
        return False
    try:
        incoming_at = to_utc(modified_at if modified_at is not None else marker)
        known = to_utc(snap.sell_updated_at)
    except (TypeError, ValueError):
        return False
    if incoming_at is None or known is None or incoming_at != known:
        return False
    return not _differs(incoming.values(), snap.sell_superseded_values, incoming.unmapped)


def _sell_time(source: Side, marker: Any) -> Any:
    return marker if source == "sell" else None


def _older(source: Side, snap: Any, modified_at: Any) -> bool:
    """True when ``modified_at`` is strictly before the side's last-seen modification time."""
    stored = snap.exchange_modified if source == "exchange" else snap.sell_updated_at
    try:
        incoming, known = to_utc(modified_at), to_utc(stored)
    except (TypeError, ValueError):
        return False  # an unreadable time never hides a change
    return incoming is not None and known is not None and incoming < known
