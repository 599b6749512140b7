"""The canonical contact: the one shape both sides are compared, merged and fingerprinted in."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from contact_mapping.normalize import email_problem, normalize_email, phone_key

#: The fields that take part in matching and merging (SPEC S8), in a fixed order.
MAPPED_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "display_name",
    "company",
    "title",
    "email",
    "work_phone",
    "mobile",
    "fax",
    "address_line1",
    "address_city",
    "address_postal_code",
    "address_state",
    "address_country",
    "website",
    "notes",
)
PHONE_FIELDS: frozenset[str] = frozenset({"work_phone", "mobile", "fax"})
ADDRESS_FIELDS: tuple[str, ...] = (
    "address_line1",
    "address_city",
    "address_postal_code",
    "address_state",
    "address_country",
)

Values = Mapping[str, str | None]


@dataclass(frozen=True)
class Canonical:
    """One contact in canonical form; every value already normalised (see ``normalize``).

    ``unmapped`` names the fields this side has no counterpart for (for instance the company of
    a Sell organisation, or a person's display name). The merge never lets such a field clear
    or overwrite the other side (S5.4), and fingerprints ignore it.
    """

    first_name: str | None = None
    last_name: str | None = None
    display_name: str | None = None
    company: str | None = None
    title: str | None = None
    email: str | None = None
    work_phone: str | None = None
    mobile: str | None = None
    fax: str | None = None
    address_line1: str | None = None
    address_city: str | None = None
    address_postal_code: str | None = None
    address_state: str | None = None
    address_country: str | None = None
    website: str | None = None
    notes: str | None = None
    is_organization: bool = False
    #: every e-mail address of the record (Exchange: all three), for matching only.
    match_emails: tuple[str, ...] = ()
    unmapped: frozenset[str] = field(default_factory=frozenset)

    def values(self) -> dict[str, str | None]:
        """The mapped fields in MAPPED_FIELDS order; unmapped ones read as None."""
        return {f: (None if f in self.unmapped else getattr(self, f)) for f in MAPPED_FIELDS}

    def fingerprint(self) -> str:
        return fingerprint(self.values())

    def with_values(self, values: Values) -> Canonical:
        """A copy carrying ``values`` for the mapped fields it names."""
        changes: dict[str, Any] = {f: values[f] for f in MAPPED_FIELDS if f in values}
        return replace(self, **changes)

    def emails_for_matching(self) -> tuple[str, ...]:
        normalized = (normalize_email(e) for e in (self.email, *self.match_emails) if e)
        return tuple(dict.fromkeys(e for e in normalized if e))

    def problems(self) -> list[str]:
        """Things worth reporting but not worth dropping data over (invalid e-mail syntax)."""
        out = []
        for address in self.emails_for_matching():
            problem = email_problem(address)
            if problem:
                out.append(f"e-mail {address!r}: {problem}")
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["match_emails"] = list(self.match_emails)
        data["unmapped"] = sorted(self.unmapped)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Canonical:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["match_emails"] = tuple(kwargs.get("match_emails") or ())
        kwargs["unmapped"] = frozenset(kwargs.get("unmapped") or ())
        return cls(**kwargs)


def field_key(name: str, value: str | None) -> str | None:
    """What a field's value is compared by: phones by number, everything else as normalised."""
    if value is None or value == "":
        return None
    if name in PHONE_FIELDS:
        return phone_key(value)
    return value


def same_value(name: str, a: str | None, b: str | None) -> bool:
    return field_key(name, a) == field_key(name, b)


def fingerprint(values: Values) -> str:
    """sha256 of the mapped fields as canonical JSON: key order and phone formatting don't matter.

    Keys outside MAPPED_FIELDS are ignored and missing keys count as None, so a snapshot written
    by an older version still compares equal when nothing changed.
    """
    payload = {f: field_key(f, values.get(f)) for f in MAPPED_FIELDS}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def project(values: Values, unmapped: frozenset[str] | set[str] = frozenset()) -> dict:
    """Full mapped-field dict from ``values`` with ``unmapped`` fields blanked (ledger form)."""
    return {f: (None if f in unmapped else values.get(f)) for f in MAPPED_FIELDS}
