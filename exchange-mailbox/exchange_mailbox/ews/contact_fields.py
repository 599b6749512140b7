"""Contact fields → attributes of an exchangelib ``Contact`` (only the fields that changed).

``fields`` come as ``contact_mapping.exchange_map.to_exchange_fields`` writes them: plain scalars
named like ``Contact`` attributes, the indexed properties as dicts keyed by EWS label holding only
the labels the caller owns (None: remove that entry). Every other label the item already has
(EmailAddress2/3, HomePhone, the Home address …) is kept as it is (S5.4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from exchangelib import Body, Contact
from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress

ADDRESS_KEYS = ("street", "city", "state", "country", "zipcode")


def merge_labelled(
    existing: Iterable[Mapping[str, Any]], owned: Mapping[str, Any], value_key: str | None
) -> list[dict[str, Any]]:
    """``existing`` entries (dicts with a ``label``) with the ``owned`` labels replaced; other
    labels keep their order, new owned ones are appended. ``value_key`` names the scalar
    sub-field (``email``, ``phone_number``), or None for addresses (dict values)."""
    out = [dict(e) for e in existing if e.get("label") not in owned]
    for label, value in owned.items():
        if value is None:
            continue
        entry = {**value} if value_key is None else {value_key: value}
        out.append({"label": label, **entry})
    return out


def apply_fields(item: Contact, fields: Mapping[str, Any]) -> list[str]:
    """Set ``fields`` on ``item``; returns the attributes touched (for ``update_fields``)."""
    touched: list[str] = []
    for name, value in fields.items():
        if name == "email_addresses":
            current = [{"label": e.label, "email": e.email} for e in item.email_addresses or ()]
            entries = merge_labelled(current, value, "email")
            item.email_addresses = [EmailAddress(**e) for e in entries] or None
        elif name == "phone_numbers":
            current = [
                {"label": p.label, "phone_number": p.phone_number} for p in item.phone_numbers or ()
            ]
            entries = merge_labelled(current, value, "phone_number")
            item.phone_numbers = [PhoneNumber(**e) for e in entries] or None
        elif name == "physical_addresses":
            current = [
                {"label": a.label, **{k: getattr(a, k) for k in ADDRESS_KEYS}}
                for a in item.physical_addresses or ()
            ]
            entries = merge_labelled(current, value, None)
            item.physical_addresses = [
                PhysicalAddress(label=e["label"], **{k: e.get(k) for k in ADDRESS_KEYS})
                for e in entries
            ] or None
        elif name == "body":
            item.body = Body(value) if value is not None else None
        else:
            setattr(item, name, value)
        touched.append(name)
    return touched
