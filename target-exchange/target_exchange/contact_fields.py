"""Canonical values → attributes of an exchangelib ``Contact`` (only the fields that changed).

``contact_mapping.exchange_map.to_exchange_fields`` says what to set, as plain data; this module
turns it into exchangelib objects on a fetched (or new) ``Contact`` and returns the field names for
``update_fields``. Labels the sync does not own (EmailAddress2/3, HomePhone, the Home address …)
are kept as they are (S5.4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contact_mapping.exchange_map import merge_indexed
from exchangelib import Body, Contact
from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress

_ADDRESS_KEYS = ("street", "city", "state", "country", "zipcode")


def _email_entries(item: Contact) -> list[dict[str, Any]]:
    return [{"label": e.label, "email": e.email} for e in item.email_addresses or ()]


def _phone_entries(item: Contact) -> list[dict[str, Any]]:
    return [{"label": p.label, "phone_number": p.phone_number} for p in item.phone_numbers or ()]


def _address_entries(item: Contact) -> list[dict[str, Any]]:
    return [
        {"label": a.label, **{k: getattr(a, k) for k in _ADDRESS_KEYS}}
        for a in item.physical_addresses or ()
    ]


def apply_fields(item: Contact, fields: Mapping[str, Any]) -> list[str]:
    """Set ``fields`` (from ``to_exchange_fields``) on ``item``; returns the attributes touched."""
    touched: list[str] = []
    for name, value in fields.items():
        if name == "email_addresses":
            entries = merge_indexed(_email_entries(item), value, "email")
            item.email_addresses = [EmailAddress(**e) for e in entries] or None
        elif name == "phone_numbers":
            entries = merge_indexed(_phone_entries(item), value, "phone_number")
            item.phone_numbers = [PhoneNumber(**e) for e in entries] or None
        elif name == "physical_addresses":
            entries = merge_indexed(_address_entries(item), value, None)
            item.physical_addresses = [
                PhysicalAddress(label=e["label"], **{k: e.get(k) for k in _ADDRESS_KEYS})
                for e in entries
            ] or None
        elif name == "body":
            item.body = Body(value) if value is not None else None
        else:
            setattr(item, name, value)
        touched.append(name)
    return touched
