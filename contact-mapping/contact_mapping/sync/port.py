"""What the engine needs from a destination (the port each target implements), and the records
that cross it.

Keys are strings on both sides: an Exchange item id, or a Sell reference ``contact:123`` /
``lead:45`` (the value of the Exchange Sell-link property). A target hands the engine
:class:`Incoming` records; the destination answers with :class:`Current` versions and one
:class:`Outcome` per write, in the vocabulary of ``exchange_mailbox``'s writer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from contact_mapping.canonical import Canonical
from contact_mapping.ledger.models import Move
from contact_mapping.merge import MergeResult, Overwritten, Side

OutcomeKind = Literal["ok", "not_found", "conflict", "rejected", "uncertain", "busy"]


@dataclass
class Incoming:
    """One source record, as the target read it from its Singer stream."""

    key: str  # source key: Exchange item id, or Sell ref "contact:123"
    stream: str
    canonical: Canonical
    modified: Any = None  # Exchange LastModifiedTime / Sell updated_at
    marker: Any = None  # the version marker the ledger stores: change key / updated_at
    categories: frozenset[str] | None = None  # Sell categories the Exchange contact must carry
    hint: str | None = None  # the destination key the record itself names (Sell-link property)
    deleted: bool = False
    label: str = ""  # a human name for logs and the report
    was_rejected: bool = False  # set by the engine: rejected before, cleared once written
    extra: Any = None  # the adapter's own data (e.g. the Sell organisation id)


@dataclass
class Current:
    """A destination record as it is now (fetched, matched, created or written)."""

    key: str
    canonical: Canonical
    modified: Any = None
    marker: Any = None
    categories: tuple[str, ...] | None = None  # Sell categories it carries (Exchange side)
    raw: Any = None  # the adapter's own object (Sell dict, exchangelib Contact)


@dataclass
class Write:
    """A create (``current`` is None) or an update of one destination record.

    ``values`` are the merged values the destination must hold; ``changed`` the mapped fields to
    send; ``overwritten`` the values that lost a conflict (S5.2), for a destination that keeps
    them itself (Sell); ``link_ref`` the source key the destination record should name.
    """

    incoming: Incoming
    current: Current | None
    values: dict[str, Any]
    changed: tuple[str, ...]
    overwritten: tuple[Overwritten, ...] = ()
    result: MergeResult | None = None


@dataclass(frozen=True)
class Outcome:
    """The result of one write. ``current`` (for ``ok``) is the record as the destination now
    holds it; ``fields`` what was (or, in a preview, would be) sent; ``wrote`` False when there
    was nothing to send."""

    kind: OutcomeKind
    current: Current | None = None
    reason: str | None = None
    back_off: float | None = None
    wrote: bool = True
    fields: tuple[str, ...] = ()
    error: BaseException | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Found:
    """A match (S4) the destination found for an unlinked record."""

    key: str
    details: Mapping[str, Any]
    current: Current | None = None  # when the match already read it (saves a fetch)


class Destination(Protocol):
    """The destination side of one sync direction, as each target implements it.

    A target's destination subclasses it explicitly, so mypy checks every member; the members
    only Exchange has (``exchange_protocol``, ``refind``) answer "not supported" by default.
    """

    side: Side
    #: True when the destination keeps lost values itself (Sell: custom field or note); else the
    #: engine queues them in the ledger for the Sell target to deliver (S5.2).
    keeps_overwritten: bool
    #: How many create rounds the engine makes for records whose create was busy or uncertain.
    create_rounds: int
    #: The Exchange ids this destination addresses, ``"ews"`` or ``"graph"`` (``exchange_ids``):
    #: a link holding the other protocol's id is re-found, never fetched (S13.2). None: the
    #: destination's keys are not Exchange ids (Sell).
    exchange_protocol: str | None = None

    def fetch(self, keys: Sequence[str]) -> dict[str, Current]:
        """Current versions of these records; a key that is gone (or out of scope) is absent."""
        ...

    def match(
        self, items: Sequence[Incoming], linked: Callable[[Collection[str]], set[str]]
    ) -> dict[str, Found]:
        """S4 matches by source key, one to one; ``linked(keys)`` tells keys already linked."""
        ...

    def create(self, writes: Sequence[Write], *, preview: bool = False) -> dict[str, Outcome]:
        """Create these records (by source key). With ``preview`` nothing is sent."""
        ...

    def update(self, writes: Sequence[Write], *, preview: bool = False) -> dict[str, Outcome]:
        """Write merged values into fetched records (by source key); ``preview``: send nothing."""
        ...

    def find_created(
        self,
        items: Sequence[tuple[str, Mapping[str, Any]]],
        linked: Callable[[Collection[str]], set[str]],
    ) -> dict[str, Current]:
        """Records an earlier create made for these (source key, source values), if any; one
        already linked (``linked(keys)``) is never an earlier create's."""
        ...

    def refind(self, refs: Sequence[str]) -> dict[str, str]:
        """S13.2: source key (a Sell ref) → the one record carrying it as its Sell link, for
        links made over the other Exchange protocol; nothing is deleted (unlike
        ``find_created``). Not supported (nothing found) where keys are not Exchange ids."""
        return {}

    def moved(self, keys: Sequence[str]) -> dict[str, Move]:
        """Of these records that are gone, those that became another record (a lead
        converted into a contact, S6); Exchange items never do (ids are immutable)."""
        ...

    def wait(self, back_off: float | None, round_no: int) -> None:
        """Back off before resending creates the destination was too busy for."""
        ...
