"""Test data put into the sandboxes the way a user's data gets there: Sell REST, EWS (exchangelib).

Only for fault-free sandboxes: a create here is not retried after an unclear outcome.
"""

from __future__ import annotations

from typing import Any

from exchange_mailbox.ews.connection import connect, disconnect
from exchangelib import Contact
from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress
from sell_sandbox.client import SellSandboxClient

from tests.reliability.end_state import exchange_config, iter_chunks

EWS_BATCH = 100  # exchangelib's own chunk size for CreateItem


def create_sell(base_url: str, token: str, items: list[tuple[str, dict[str, Any]]]) -> list[dict]:
    """POST each ``(resource, data)`` in order; ``data["contact_id"]`` may name an earlier index
    as ``"@<n>"`` (an organisation created in this call)."""
    sell, made = SellSandboxClient(base_url, token), []
    for resource, data in items:
        body = dict(data)
        ref = body.get("contact_id")
        if isinstance(ref, str) and ref.startswith("@"):
            body["contact_id"] = made[int(ref[1:])]["id"]
        made.append(sell.create(resource, **body))
    return made


def exchange_item(account: Any, folder: Any, spec: dict[str, Any]) -> Contact:
    """An unsaved Contact from a plain spec: text fields, ``email``/``emails``, ``phones``
    ({label: number}), ``address`` (Business) and ``categories``."""
    spec = dict(spec)
    emails = spec.pop("emails", None) or ([spec.pop("email")] if spec.get("email") else [])
    spec.pop("email", None)
    phones = spec.pop("phones", {}) or {}
    address = spec.pop("address", None)
    fields: dict[str, Any] = dict(spec)
    # exchangelib requires a DisplayName; Outlook derives one the same way.
    fields.setdefault(
        "display_name",
        " ".join(p for p in (spec.get("given_name"), spec.get("surname")) if p)
        or spec.get("company_name")
        or (emails[0] if emails else None)
        or next(iter(phones.values()), None)
        or "(no name)",
    )
    if emails:
        fields["email_addresses"] = [
            EmailAddress(label=f"EmailAddress{i}", email=e) for i, e in enumerate(emails, 1)
        ]
    if phones:
        fields["phone_numbers"] = [PhoneNumber(label=k, phone_number=v) for k, v in phones.items()]
    if address:
        fields["physical_addresses"] = [PhysicalAddress(label="Business", **address)]
    return Contact(account=account, folder=folder, **fields)


def create_exchange(ews: Any, mailbox: str, specs: list[dict[str, Any]]) -> list[str]:
    """CreateItem in batches; a spec's ``folder`` (e.g. ``"Clients"``) is below Contacts."""
    account = connect(exchange_config(ews, mailbox))
    ids: list[str] = []
    try:
        by_folder: dict[str, list[dict[str, Any]]] = {}
        for spec in specs:
            by_folder.setdefault(spec.get("folder") or "", []).append(
                {k: v for k, v in spec.items() if k != "folder"}
            )
        for name, group in by_folder.items():
            folder = account.contacts / name if name else account.contacts
            for chunk in iter_chunks(group, EWS_BATCH):
                items = [exchange_item(account, folder, s) for s in chunk]
                results = account.bulk_create(folder=folder, items=items)
                errors = [r for r in results if isinstance(r, Exception)]
                if errors:
                    msg = f"seeding Exchange failed: {errors[:3]}"
                    raise AssertionError(msg)
                ids += [r.id for r in results]
        return ids
    finally:
        disconnect(account)
