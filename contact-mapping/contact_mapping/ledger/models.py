"""Plain records the ledger hands out; no SQLAlchemy types leak to the targets."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from contact_mapping.canonical import fingerprint
from contact_mapping.merge import Overwritten, Side
from contact_mapping.normalize import iso_utc, to_utc

SellKind = Literal["contact", "lead"]
Direction = Literal["exchange_to_sell", "sell_to_exchange"]
DIRECTIONS: tuple[str, ...] = ("exchange_to_sell", "sell_to_exchange")
SELL_KINDS: tuple[str, ...] = ("contact", "lead")


@dataclass(frozen=True)
class Snapshot:
    """Per-link memory of the last sync: base, each side's values and change markers."""

    base: dict[str, Any] | None = None
    exchange_values: dict[str, Any] | None = None
    exchange_modified: str | None = None  # ISO UTC of Exchange LastModifiedTime last seen
    exchange_change_key: str | None = None
    sell_values: dict[str, Any] | None = None
    sell_updated_at: str | None = None  # ISO UTC of Sell updated_at last seen
    categories: tuple[str, ...] | None = None  # categories last written to Exchange
    # The version our last write replaced, per side: a late replay of it is stale although its
    # time is not older (the Exchange write answer has no time; Sell stamps whole seconds).
    # Exchange: the change keys of the versions our writes replaced, newest last, space-separated
    # in one column (change keys are base64): after two writes in a row the first replaced
    # version may still arrive late, and the snapshot's time cannot tell it (S7.2).
    exchange_superseded_key: str | None = None
    sell_superseded_values: dict[str, Any] | None = None  # Sell record's values before it

    @property
    def exchange_fingerprint(self) -> str | None:
        return fingerprint(self.exchange_values) if self.exchange_values is not None else None

    @property
    def sell_fingerprint(self) -> str | None:
        return fingerprint(self.sell_values) if self.sell_values is not None else None

    @property
    def base_fingerprint(self) -> str | None:
        return fingerprint(self.base) if self.base is not None else None

    def evolve(self, **changes: Any) -> Snapshot:
        return replace(self, **changes)

    def superseding(
        self,
        previous: Snapshot | None,
        *,
        exchange_key: str | None = None,
        sell_values: dict[str, Any] | None = None,
    ) -> Snapshot:
        """This next snapshot of a link, with the versions the sync's writes replaced (S7.2).

        ``exchange_key`` / ``sell_values``: the version this write replaced on that side. A side
        not written keeps what ``previous`` remembered: the Exchange change key always (it names
        one version exactly), the Sell values only while Sell's ``updated_at`` is unchanged.
        """
        if previous is None:
            return self.evolve(
                exchange_superseded_key=exchange_key, sell_superseded_values=sell_values
            )
        same_sell = iso_utc(self.sell_updated_at) == iso_utc(previous.sell_updated_at)
        kept_sell = previous.sell_superseded_values if same_sell else None
        return self.evolve(
            exchange_superseded_key=_remembered(previous.exchange_superseded_key, exchange_key),
            sell_superseded_values=sell_values if sell_values is not None else kept_sell,
        )


def superseded_keys(stored: str | None) -> list[str]:
    """The change keys ``exchange_superseded_key`` holds (a v4-v7 ledger holds one)."""
    return stored.split() if stored else []


def _remembered(stored: str | None, replaced: str | None, room: int = 1024) -> str | None:
    """``stored`` with ``replaced`` appended, the oldest keys dropped to fit the column."""
    if replaced is None:
        return stored
    keys = [*superseded_keys(stored), replaced]
    while len(" ".join(keys)) > room:
        keys.pop(0)
    return " ".join(keys)


@dataclass(frozen=True)
class Link:
    id: int
    exchange_id: str
    sell_kind: str
    sell_id: int
    status: str
    snapshot: Snapshot = field(default_factory=Snapshot)
    version: int = 1
    retired_reason: str | None = None
    retired_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def sell_ref(self) -> str:
        """The value of the Exchange Sell-link property, e.g. ``contact:123``."""
        return f"{self.sell_kind}:{self.sell_id}"


@dataclass(frozen=True)
class Intent:
    """A create that was started and may or may not have reached the destination."""

    id: int
    direction: str
    source_id: str
    idempotency_key: str
    payload_fingerprint: str
    started_at: datetime
    source_values: dict[str, Any] | None = None
    source_modified: str | None = None
    source_change_key: str | None = None


@dataclass(frozen=True)
class Adopted:
    """What an intent finder found in the destination: the record the crashed run created.

    ``destination_values`` are its canonical values (ledger form); ``destination_modified`` its
    LastModifiedTime / updated_at and ``destination_change_key`` the EWS change key if any.
    """

    exchange_id: str
    sell_kind: str
    sell_id: int
    destination_values: dict[str, Any] | None = None
    destination_modified: str | None = None
    destination_change_key: str | None = None
    categories: tuple[str, ...] | None = None  # Sell categories the found Exchange item carries


@dataclass(frozen=True)
class IntentOutcome:
    intent: Intent
    outcome: Literal["adopted", "dropped", "already_linked"]
    link: Link | None = None


@dataclass(frozen=True)
class Rejection:
    side: str
    record_id: str
    fingerprint: str
    reason: str
    rejected_at: str
    attempts: int = 1


@dataclass(frozen=True)
class OverwrittenValue:
    """A value that lost a conflict and must be kept in Sell (S5.2), queued in the ledger.

    target-exchange, which has no Sell access, enqueues the values that lost its conflicts;
    target-sell-contacts takes the pending rows of its tenant, writes them to the
    ``overwritten_values_field`` custom field (or a note) and marks them delivered.
    ``id``/``status``/``recorded_at`` are set by the ledger; leave them out when enqueueing.
    """

    sell_kind: str
    sell_id: int
    field: str
    value: Any
    origin: Side  # the side the lost value came from
    origin_time: str | None = None  # ISO UTC of that side's modification time
    exchange_id: str | None = None
    id: int | None = None
    status: str = "pending"
    recorded_at: str | None = None
    delivered_at: str | None = None

    @property
    def sell_ref(self) -> str:
        return f"{self.sell_kind}:{self.sell_id}"

    def as_overwritten(self) -> Overwritten:
        """The merge module's form, for ``format_overwritten`` / ``append_overwritten``."""
        return Overwritten(self.field, self.value, self.origin, to_utc(self.origin_time))


@dataclass(frozen=True)
class NewIntent:
    """One create of a batch for :meth:`Ledger.begin_intents` (fields as in ``begin_intent``)."""

    source_id: str
    source_values: dict[str, Any] | None = None
    source_modified: Any = None
    source_change_key: str | None = None
    payload_fingerprint: str | None = None


@dataclass(frozen=True)
class Move:
    """A Sell record that became another: ``lead:45`` converted into ``contact:123`` (S6)."""

    from_ref: str
    to_ref: str
    organization_id: int | None = None
    deal_id: int | None = None
    moved_at: str | None = None


@dataclass(frozen=True)
class Run:
    id: int
    target: str
    started_at: str
    finished_at: str | None
    counts: dict[str, Any] | None


class LedgerError(Exception):
    """Base of the ledger's own errors."""


class LinkConflictError(LedgerError):
    """An active link already exists for that Exchange id or Sell record (links are 1:1)."""


class StaleLinkError(LedgerError):
    """The link changed since it was read (optimistic check failed); re-read and re-plan."""


class UnknownLinkError(LedgerError):
    """No such link for this tenant."""


class SchemaTooNewError(LedgerError, RuntimeError):
    """The database was upgraded by a newer contact-mapping than this one; upgrade this one."""


class TenantBusyError(LedgerError):
    """Another run of this tenant holds the ledger's run lock: this one must not write (S15.2)."""
