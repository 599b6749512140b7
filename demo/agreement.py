"""S7.3, checked from outside the product: every linked pair holds equal values on both sides.

Pairs are found the way a person with both systems open would: the Exchange contact's Sell-link
property names its Sell record. Values are compared in canonical form, on the fields S8 maps both
ways (a field one side has no counterpart for is skipped). Quiet runs alone prove nothing: two
sides that disagree and stay quiet break the rule.
"""

from __future__ import annotations

from typing import Any

from contact_mapping.canonical import MAPPED_FIELDS, Canonical, field_key
from contact_mapping.exchange_map import from_exchange
from contact_mapping.sell_map import from_sell_contact, from_sell_lead
from exchange_mailbox.ews import link_property
from exchange_mailbox.ews.records import FETCH_FIELDS, contact_to_record
from exchangelib import Account
from exchangelib.items import Contact
from sell_sandbox.client import SellSandboxClient


def exchange_records(account: Account) -> list[dict[str, Any]]:
    """Every contact of the private folders (Contacts and the user folders below it)."""
    link_property.register()
    out = []
    for folder in [account.contacts, *account.contacts.children]:
        if folder.folder_class != "IPF.Contact" or folder.name.startswith("{"):
            continue  # system folders have their own classes; hidden ones GUID names
        for item in folder.all().only(*FETCH_FIELDS):
            if isinstance(item, Contact):
                out.append(contact_to_record(item, folder_id=folder.id, folder_path=folder.name))
    return out


def sell_records(
    api: SellSandboxClient, region: str = "US"
) -> dict[str, tuple[dict[str, Any], Canonical]]:
    """Every Sell contact and lead by the reference a Sell link holds (``contact:ID``,
    ``lead:ID``): the record as Sell returns it, and its canonical form."""
    contacts = api.all("contacts")
    orgs = {int(r["id"]): r.get("name") or "" for r in contacts if r.get("is_organization")}
    out = {f"contact:{r['id']}": (r, from_sell_contact(r, orgs, region)) for r in contacts}
    return out | {f"lead:{r['id']}": (r, from_sell_lead(r, region)) for r in api.all("leads")}


def disagreements(api: SellSandboxClient, account: Account, region: str = "US") -> list[str]:
    """One line per field a linked pair disagrees on (empty: both sides agree)."""
    sell = {ref: canonical for ref, (_, canonical) in sell_records(api, region).items()}
    out = []
    for record in exchange_records(account):
        partner = sell.get(record.get("sell_link") or "")
        if partner is None:
            continue
        mine = from_exchange(record, region)
        name = record.get("display_name") or record["id"]
        for f in MAPPED_FIELDS:
            if f in mine.unmapped or f in partner.unmapped:
                continue
            x, s = getattr(mine, f), getattr(partner, f)
            if field_key(f, x) != field_key(f, s):
                out.append(f"{name} {f}: Exchange {x!r}, Sell {s!r} ({record['sell_link']})")
    return out
