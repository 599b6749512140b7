"""First meeting of two unlinked records (SPEC S4): e-mail, then full name + phone; one to one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from contact_mapping.canonical import Canonical
from contact_mapping.normalize import name_key, phone_key, to_utc

_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Candidate:
    """An unlinked record of the other side: its id (any hashable), canonical form, update time."""

    id: Hashable
    canonical: Canonical
    updated: Any = None  # datetime or ISO string; None sorts oldest

    @property
    def updated_at(self) -> datetime:
        return to_utc(self.updated) or _OLDEST


@dataclass(frozen=True, slots=True)
class Indexed:
    """What the index keeps of a candidate once its keys are filed: enough to rank and name it.

    Not the canonical form: an initial run indexes the other side's every unlinked record, and
    holding each one's canonical form for the whole run made its memory grow with the account.
    """

    id: Hashable
    updated_at: datetime


@dataclass(frozen=True)
class Match:
    """The winning candidate, the rule that found it and the others it beat (logged, S4.2)."""

    candidate: Indexed
    rule: Literal["email", "name_phone"]
    alternatives: tuple[Indexed, ...] = ()

    def log_details(self) -> dict[str, Any]:
        return {
            "matched_id": str(self.candidate.id),
            "rule": self.rule,
            "alternatives": [str(a.id) for a in self.alternatives],
        }


def match_name(c: Canonical) -> str | None:
    """Organisations by their own name, people by first + last name."""
    if c.is_organization:
        return name_key(c.display_name or c.company)
    return name_key(c.first_name, c.last_name)


def match_phones(c: Canonical) -> tuple[str, ...]:
    keys = (phone_key(c.work_phone), phone_key(c.mobile))
    return tuple(dict.fromkeys(k for k in keys if k))


@dataclass
class MatchIndex:
    """Lookup over the other side's unlinked records; a claimed candidate is never offered again."""

    _by_email: dict[tuple[bool, str], list[Indexed]] = field(
        default_factory=lambda: defaultdict(list)
    )
    _by_name_phone: dict[tuple[bool, str, str], list[Indexed]] = field(
        default_factory=lambda: defaultdict(list)
    )
    _claimed: set[Hashable] = field(default_factory=set)
    _ids: set[Hashable] = field(default_factory=set)

    @classmethod
    def build(cls, candidates: Iterable[Candidate]) -> MatchIndex:
        index = cls()
        for candidate in candidates:
            index.add(candidate)
        return index

    def add(self, candidate: Candidate) -> None:
        if candidate.id in self._ids:
            msg = f"candidate {candidate.id!r} added twice"
            raise ValueError(msg)
        self._ids.add(candidate.id)
        kept = Indexed(candidate.id, candidate.updated_at)
        c = candidate.canonical
        org = c.is_organization
        for email in c.emails_for_matching():
            self._by_email[(org, email)].append(kept)
        name = match_name(c)
        if name:
            for phone in match_phones(c):
                self._by_name_phone[(org, name, phone)].append(kept)

    def __len__(self) -> int:
        return len(self._ids) - len(self._claimed & self._ids)

    def _open(self, found: Iterable[Indexed]) -> list[Indexed]:
        unique = {id(c): c for c in found if c.id not in self._claimed}
        # Most recently updated first; ties by id text so the choice is deterministic.
        return sorted(unique.values(), key=lambda c: (-c.updated_at.timestamp(), str(c.id)))

    def find(self, canonical: Canonical) -> Match | None:
        """Best unclaimed candidate for ``canonical`` without claiming it."""
        org = canonical.is_organization
        by_email = self._open(
            c for e in canonical.emails_for_matching() for c in self._by_email.get((org, e), ())
        )
        if by_email:
            return Match(by_email[0], "email", tuple(by_email[1:]))
        name = match_name(canonical)
        if name:
            by_phone = self._open(
                c
                for p in match_phones(canonical)
                for c in self._by_name_phone.get((org, name, p), ())
            )
            if by_phone:
                return Match(by_phone[0], "name_phone", tuple(by_phone[1:]))
        return None

    def claim(self, candidate_id: Hashable) -> None:
        """Take a candidate out of the run (S4.2: links are one to one)."""
        if candidate_id in self._claimed:
            msg = f"candidate {candidate_id!r} already claimed"
            raise ValueError(msg)
        self._claimed.add(candidate_id)

    def is_claimed(self, candidate_id: Hashable) -> bool:
        return candidate_id in self._claimed

    def match(self, canonical: Canonical) -> Match | None:
        """find + claim: the usual call while walking incoming records."""
        found = self.find(canonical)
        if found is not None:
            self.claim(found.candidate.id)
        return found
