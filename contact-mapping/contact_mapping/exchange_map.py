"""Exchange contact record ⇄ canonical contact (SPEC S8, Exchange column).

Input is the ``contacts`` record of tap-exchange-contacts; output of :func:`to_exchange_fields` is
plain data named like exchangelib's ``Contact`` attributes, so this module needs no exchangelib.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from contact_mapping.canonical import ADDRESS_FIELDS, MAPPED_FIELDS, Canonical
from contact_mapping.categories import SELL_COMPANY
from contact_mapping.normalize import (
    DEFAULT_REGION,
    normalize_email,
    normalize_phone,
    normalize_text,
)

#: canonical phone field → EWS PhoneNumber label (the only labels the sync writes).
PHONE_LABELS: dict[str, str] = {
    "work_phone": "BusinessPhone",
    "mobile": "MobilePhone",
    "fax": "BusinessFax",
}
EMAIL_LABEL = "EmailAddress1"
ADDRESS_LABEL = "Business"
#: canonical address field → key in the tap record's address object / exchangelib attribute.
ADDRESS_RECORD_KEYS: dict[str, str] = {
    "address_line1": "street",
    "address_city": "city",
    "address_postal_code": "postal_code",
    "address_state": "state",
    "address_country": "country",
}
ADDRESS_EXCHANGELIB_KEYS: dict[str, str] = {**ADDRESS_RECORD_KEYS, "address_postal_code": "zipcode"}


def is_exchange_organization(record: Mapping[str, Any]) -> bool:
    """A company name and no personal name, or the "Sell Company" category (SPEC S8)."""
    categories = record.get("categories") or ()
    if SELL_COMPANY in categories:
        return True
    has_name = normalize_text(record.get("given_name")) or normalize_text(record.get("surname"))
    return bool(normalize_text(record.get("company_name")) and not has_name)


def from_exchange(record: Mapping[str, Any], default_region: str = DEFAULT_REGION) -> Canonical:
    """Canonical form of a tap-exchange-contacts record (missing or null keys are blanks)."""
    phones = record.get("phone_numbers") or {}
    addresses = record.get("physical_addresses") or {}
    business = addresses.get(ADDRESS_LABEL) or {}
    is_org = is_exchange_organization(record)
    normalized = (normalize_email(record.get(f"email_address_{i}")) for i in (1, 2, 3))
    emails = [e for e in normalized if e]
    values: dict[str, Any] = {
        "first_name": normalize_text(record.get("given_name")),
        "last_name": normalize_text(record.get("surname")),
        "title": normalize_text(record.get("job_title")),
        "email": normalize_email(record.get("email_address_1")),
        "website": normalize_text(record.get("business_home_page")),
        "notes": normalize_text(record.get("body")),
    }
    for name, label in PHONE_LABELS.items():
        values[name] = normalize_phone(phones.get(label), default_region)
    for name, key in ADDRESS_RECORD_KEYS.items():
        values[name] = normalize_text(business.get(key))
    if is_org:
        # An organisation's own name is its display name; "company" would be its employer.
        values["display_name"] = (
            normalize_text(record.get("display_name"))
            or normalize_text(record.get("company_name"))
            or normalize_text(record.get("file_as"))
            or " ".join(p for p in (values["first_name"], values["last_name"]) if p)
            or None
        )
        unmapped = frozenset({"company"})
    else:
        # A person's display name is derived from the names on both sides.
        values["company"] = normalize_text(record.get("company_name"))
        unmapped = frozenset({"display_name"})
    return Canonical(
        **values,
        is_organization=is_org,
        match_emails=tuple(dict.fromkeys(emails)),
        unmapped=unmapped,
    )


def _person_display(c: Canonical) -> str:
    return (
        " ".join(p for p in (c.first_name, c.last_name) if p) or c.company or c.email or "(no name)"
    )


def to_exchange_fields(
    canonical: Canonical, changed_fields: Iterable[str] | None = None
) -> dict[str, Any]:
    """Attributes to set on an exchangelib ``Contact`` for the changed fields (all when None).

    Plain scalars are named like ``Contact`` attributes. The indexed properties come as dicts
    keyed by EWS label, holding only the labels the sync owns (``EmailAddress1``;
    ``BusinessPhone``/``MobilePhone``/``BusinessFax``; the ``Business`` address); a None value
    means "remove that entry". The caller must keep every other label the item already has
    (EmailAddress2/3, HomePhone, …; S5.4) — :func:`merge_indexed` does that.
    """
    changed = set(MAPPED_FIELDS if changed_fields is None else changed_fields)
    full = changed_fields is None
    c = canonical
    out: dict[str, Any] = {}
    if c.is_organization:
        name = c.display_name or c.company or _person_display(c)
        if full or {"display_name"} & changed:
            out["display_name"] = name
            out["file_as"] = name
        if full:
            # Outlook treats a company-only contact as a company card; set it once, on create.
            out["company_name"] = name
    else:
        if full or {"first_name", "last_name"} & changed:
            out["display_name"] = _person_display(c)
            last_first = ", ".join(p for p in (c.last_name, c.first_name) if p)
            out["file_as"] = last_first or _person_display(c)
        if "company" in changed:
            out["company_name"] = c.company
    simple = {
        "first_name": "given_name",
        "last_name": "surname",
        "title": "job_title",
        "website": "business_homepage",
        "notes": "body",
    }
    for name, attr in simple.items():
        if name in changed:
            out[attr] = getattr(c, name)
    if "email" in changed:
        out["email_addresses"] = {EMAIL_LABEL: c.email}
    phones = {PHONE_LABELS[n]: getattr(c, n) for n in PHONE_LABELS if n in changed}
    if phones:
        out["phone_numbers"] = phones
    if set(ADDRESS_FIELDS) & changed:
        address = {ADDRESS_EXCHANGELIB_KEYS[f]: getattr(c, f) for f in ADDRESS_FIELDS}
        out["physical_addresses"] = {
            ADDRESS_LABEL: address if any(v is not None for v in address.values()) else None
        }
    return out


def merge_indexed(
    existing: Iterable[Mapping[str, Any]], owned: Mapping[str, Any], value_key: str | None
) -> list[dict[str, Any]]:
    """Entries to write for one indexed property: ``existing`` with the owned labels replaced.

    ``existing`` are dicts with a ``label`` (as exchangelib's entries expose them); ``owned`` is
    one of the label-keyed dicts of :func:`to_exchange_fields`; ``value_key`` names the
    scalar sub-field (``"email"``, ``"phone_number"``) or None for addresses (dict values).
    Other labels are kept in their original order; new owned labels are appended.
    """
    out: list[dict[str, Any]] = []
    for entry in existing:
        label = entry.get("label")
        if label in owned:
            continue
        out.append(dict(entry))
    for label, value in owned.items():
        if value is None:
            continue
        if value_key is None:
            out.append({"label": label, **value})
        else:
            out.append({"label": label, value_key: value})
    return out
