"""Sell contact / lead record ⇄ canonical contact (SPEC S8, Sell columns).

Records are the ``data`` objects of the Sell API v2 as-is; payloads are the ``data`` objects for
``POST``/``PUT`` (PUT is a partial update, so updates carry only the changed fields).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from contact_mapping.canonical import ADDRESS_FIELDS, MAPPED_FIELDS, Canonical
from contact_mapping.ledger.models import Move
from contact_mapping.normalize import (
    DEFAULT_REGION,
    normalize_email,
    normalize_phone,
    normalize_text,
)

#: canonical field → Sell attribute, for the fields that map one to one (contacts and leads).
SELL_SIMPLE: dict[str, str] = {
    "first_name": "first_name",
    "last_name": "last_name",
    "title": "title",
    "email": "email",
    "work_phone": "phone",
    "mobile": "mobile",
    "fax": "fax",
    "website": "website",
    "notes": "description",
}
SELL_ADDRESS: dict[str, str] = {
    "address_line1": "line1",
    "address_city": "city",
    "address_postal_code": "postal_code",
    "address_state": "state",
    "address_country": "country",
}
_PHONES = {"work_phone", "mobile", "fax"}


def _common(record: Mapping[str, Any], region: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, attr in SELL_SIMPLE.items():
        raw = record.get(attr)
        if name in _PHONES:
            values[name] = normalize_phone(raw, region)
        elif name == "email":
            values[name] = normalize_email(raw)
        else:
            values[name] = normalize_text(raw)
    address = record.get("address") or {}
    for name, key in SELL_ADDRESS.items():
        values[name] = normalize_text(address.get(key))
    return values


def from_sell_contact(
    record: Mapping[str, Any],
    organization_names: Mapping[int, str] | None = None,
    default_region: str = DEFAULT_REGION,
) -> Canonical:
    """Canonical form of a Sell contact; a person's company is its organisation's name.

    When the organisation in ``contact_id`` is not in ``organization_names`` the company is
    unknown, so it is marked unmapped (never read as "cleared").
    """
    values = _common(record, default_region)
    is_org = bool(record.get("is_organization"))
    if is_org:
        # An organisation's own name is ``name``; Sell keeps no personal name or employer for it.
        values["display_name"] = normalize_text(record.get("name"))
        values["first_name"] = values["last_name"] = None
        unmapped = {"company", "first_name", "last_name"}
    else:
        unmapped = {"display_name"}
        org_id = record.get("contact_id")
        if org_id is None:
            values["company"] = None
        elif organization_names is not None and _lookup(organization_names, org_id) is not None:
            values["company"] = normalize_text(_lookup(organization_names, org_id))
        else:
            unmapped.add("company")
    email = values.get("email")
    return Canonical(
        **values,
        is_organization=is_org,
        match_emails=(email,) if email else (),
        unmapped=frozenset(unmapped),
    )


def _lookup(names: Mapping[Any, str], org_id: Any) -> str | None:
    if org_id in names:
        return names[org_id]
    try:
        return names.get(int(org_id))
    except (TypeError, ValueError):
        return None


def is_lead_organization(record: Mapping[str, Any]) -> bool:
    """A lead with an organisation name but no personal name is a company card in Exchange."""
    has_name = normalize_text(record.get("first_name")) or normalize_text(record.get("last_name"))
    return bool(normalize_text(record.get("organization_name")) and not has_name)


def from_sell_lead(record: Mapping[str, Any], default_region: str = DEFAULT_REGION) -> Canonical:
    """Canonical form of a Sell lead; ``organization_name`` is the company (or the org's name)."""
    values = _common(record, default_region)
    is_org = is_lead_organization(record)
    org_name = normalize_text(record.get("organization_name"))
    if is_org:
        values["display_name"] = org_name
        unmapped = frozenset({"company"})
    else:
        values["company"] = org_name
        unmapped = frozenset({"display_name"})
    email = values.get("email")
    return Canonical(
        **values,
        is_organization=is_org,
        match_emails=(email,) if email else (),
        unmapped=unmapped,
    )


def _payload(c: Canonical, changed: set[str], full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, attr in SELL_SIMPLE.items():
        if name in changed:
            value = getattr(c, name)
            if value is not None or not full:
                out[attr] = value
    if set(ADDRESS_FIELDS) & changed:
        # Always the whole object: partial-update semantics inside ``address`` are unverified.
        address = {SELL_ADDRESS[f]: getattr(c, f) for f in ADDRESS_FIELDS}
        if not full or any(v is not None for v in address.values()):
            out["address"] = address
    return out


def _changed(changed_fields: Iterable[str] | None) -> tuple[set[str], bool]:
    if changed_fields is None:
        return set(MAPPED_FIELDS), True
    return set(changed_fields), False


def to_sell_contact_payload(
    canonical: Canonical, changed_fields: Iterable[str] | None = None
) -> dict[str, Any]:
    """``data`` for POST /v2/contacts (changed_fields None) or PUT (only the changed fields).

    The company is not in it: a person's company is the organisation id in ``contact_id``,
    which only the caller can look up or create — see :func:`sell_company_change`.
    ``is_organization`` is sent on create only (Sell makes it immutable).
    """
    changed, full = _changed(changed_fields)
    out = _payload(canonical, changed, full)
    if canonical.is_organization:
        out.pop("first_name", None)
        out.pop("last_name", None)
        if "display_name" in changed and (canonical.display_name is not None or not full):
            out["name"] = canonical.display_name
    if full:
        out["is_organization"] = canonical.is_organization
    return out


def sell_company_change(
    canonical: Canonical, changed_fields: Iterable[str] | None = None
) -> tuple[bool, str | None]:
    """(whether ``contact_id`` must be set, organisation name to resolve or None to clear)."""
    changed, full = _changed(changed_fields)
    if canonical.is_organization or "company" not in changed or "company" in canonical.unmapped:
        return False, None
    if full and canonical.company is None:
        return False, None
    return True, canonical.company


def to_sell_lead_payload(
    canonical: Canonical, changed_fields: Iterable[str] | None = None
) -> dict[str, Any]:
    """``data`` for POST /v2/leads or PUT; the company travels as ``organization_name``."""
    changed, full = _changed(changed_fields)
    out = _payload(canonical, changed, full)
    org_field = "display_name" if canonical.is_organization else "company"
    if org_field in changed:
        value = getattr(canonical, org_field)
        if value is not None or not full:
            out["organization_name"] = value
    return out


def conversion_move(conversion: Mapping[str, Any]) -> Move:
    """A Sell ``lead_conversion`` record (``lead_id`` → ``individual_id``) as the ledger keeps
    it: the lead's link moves to the contact (S6)."""
    return Move(
        from_ref=f"lead:{int(conversion['lead_id'])}",
        to_ref=f"contact:{int(conversion['individual_id'])}",
        organization_id=conversion.get("organization_id"),
        deal_id=conversion.get("deal_id"),
        moved_at=conversion.get("created_at"),
    )
