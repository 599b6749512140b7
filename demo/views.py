"""Before/after tables of both systems, as a person would look at them."""

from __future__ import annotations

from typing import Any

from exchange_mailbox.interface import Mailbox
from exchangelib import Account
from exchangelib.items import Contact
from sell_sandbox.client import SellSandboxClient

WIDTH = 24


def _cut(value: Any, width: int = WIDTH) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def sell_table(api: SellSandboxClient) -> list[str]:
    rows = [f"  {'Sell record':<{WIDTH}} {'e-mail':<{WIDTH}} {'title':<{WIDTH}} status"]
    for kind in ("contacts", "leads"):
        for rec in sorted(api.all(kind), key=lambda r: r.get("last_name") or r.get("name") or ""):
            if kind == "leads":
                label, status = "lead", "lead"
            elif rec.get("is_organization"):
                label, status = "company", "company"
            else:
                label = "person"
                status = (
                    f"prospect={rec.get('prospect_status')} customer={rec.get('customer_status')}"
                )
            name = rec.get("name") or f"{rec.get('first_name') or ''} {rec.get('last_name') or ''}"
            who = _cut(f"{name.strip()} ({label})")
            rows.append(
                f"  {who:<{WIDTH}} {_cut(rec.get('email')):<{WIDTH}}"
                f" {_cut(rec.get('title')):<{WIDTH}} {status}"
            )
    return rows


def exchange_table(account: Account) -> list[str]:
    rows = [f"  {'Exchange contact':<{WIDTH}} {'folder':<12} {'job title':<{WIDTH}} categories"]
    folders = [account.contacts, *account.contacts.children]
    for folder in folders:
        if folder.folder_class != "IPF.Contact" or folder.name.startswith("{"):
            continue  # system folders have their own classes; hidden ones GUID names
        items = folder.all().only("display_name", "job_title", "categories")
        for item in sorted(
            (i for i in items if isinstance(i, Contact)), key=lambda c: c.display_name or ""
        ):
            rows.append(
                f"  {_cut(item.display_name):<{WIDTH}} {_cut(folder.name, 12):<12}"
                f" {_cut(item.job_title):<{WIDTH}} {', '.join(item.categories or [])}"
            )
    return rows


def record_names(api: SellSandboxClient, mailbox: Mailbox) -> dict[str, str]:
    """Exchange and Sell ids → display names, so reports read like the tables. The Exchange ids
    are read the way the sync reads them (EWS ids, or Graph's ``graph:`` immutable ids)."""
    records = mailbox.matching_records(mailbox.private_folders())
    names = {str(r["id"]): f"{r.get('display_name')} (Exchange)" for r in records}
    for kind in ("contacts", "leads"):
        for rec in api.all(kind):
            name = rec.get("name") or f"{rec.get('first_name') or ''} {rec.get('last_name') or ''}"
            names[str(rec["id"])] = f"{name.strip()} (Sell{' lead' if kind == 'leads' else ''})"
    return names


def overwritten_values(api: SellSandboxClient) -> list[str]:
    rows = []
    for rec in api.all("contacts"):
        kept = (rec.get("custom_fields") or {}).get("Overwritten values")
        if kept:
            name = rec.get("name") or f"{rec.get('first_name')} {rec.get('last_name')}"
            rows.append(f"  {name}:")
            rows.extend(f"    {line}" for line in str(kept).splitlines())
    return rows or ["  (none)"]
