"""What both systems hold after a sync, in a form runs on different sandboxes can be compared in.

Records are read through the public APIs (Sell REST, EWS via exchangelib, or Microsoft Graph when
the plugins ran on it), mapped to the canonical fields of SPEC S8 and normalised with
contact-mapping, so ids, timestamps and formatting do not matter. Ids are kept beside the content
only to check links and duplicates (in the protocol the plugins used, as the ledger holds them).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import exchangelib
from contact_mapping.canonical import MAPPED_FIELDS, Canonical, field_key
from contact_mapping.exchange_map import from_exchange
from contact_mapping.sell_map import from_sell_contact, from_sell_lead
from ews_sandbox.testing import exchange_settings
from exchange_mailbox.connect import open_mailbox
from exchange_mailbox.contact_records import is_deletion
from exchange_mailbox.ews import link_property
from exchange_mailbox.ews.connection import connect, disconnect
from exchange_mailbox.ews.folders import private_contact_folders
from exchange_mailbox.ews.records import FETCH_FIELDS, contact_to_record
from exchangelib.folders import FolderCollection
from graph_sandbox.testing import graph_settings
from sell_sandbox.client import SellSandboxClient

from tests.conftest import GRAPH_APP, PASSWORD

EXCHANGE_ID_FIELD = "Exchange ID"  # the demo environment's exchange_id_field

Content = tuple[Any, ...]


def content(kind: str, canonical: Canonical) -> Content:
    """Mapped fields after normalisation (phones as numbers), with the record's kind."""
    values = canonical.values()
    return (kind, canonical.is_organization, *(field_key(f, values[f]) for f in MAPPED_FIELDS))


def describe(item: Content) -> dict[str, Any]:
    """A content tuple as a readable dict (assertion messages)."""
    keys = ("kind", "is_organization", *MAPPED_FIELDS)
    return {k: v for k, v in zip(keys, item, strict=True) if v not in (None, False)}


@dataclass(frozen=True)
class SellRecord:
    kind: str  # "contact" | "lead"
    id: int
    content: Content
    exchange_id: str | None  # the exchange_id_field custom field, the creation marker


@dataclass(frozen=True)
class ExchangeRecord:
    id: str
    folder_path: str
    content: Content
    categories: tuple[str, ...]
    sell_link: str | None


@dataclass
class EndState:
    sell: list[SellRecord] = field(default_factory=list)
    exchange: list[ExchangeRecord] = field(default_factory=list)

    def sell_contents(self) -> Counter[Content]:
        return Counter(r.content for r in self.sell)

    def exchange_contents(self) -> Counter[tuple[Content, tuple[str, ...]]]:
        """Exchange content with the (sorted) categories the sync gives (S2)."""
        return Counter((r.content, tuple(sorted(r.categories))) for r in self.exchange)

    def duplicates(self) -> list[str]:
        """Two records on one side carrying the same creation marker of one source record."""
        problems = []
        links = Counter(r.sell_link for r in self.exchange if r.sell_link)
        problems += [
            f"{n} Exchange contacts carry Sell link {k}" for k, n in links.items() if n > 1
        ]
        markers = Counter(r.exchange_id for r in self.sell if r.exchange_id)
        problems += [f"{n} Sell records carry Exchange id {k}" for k, n in markers.items() if n > 1]
        orgs = Counter(r.content[2 + MAPPED_FIELDS.index("display_name")] for r in self.sell
                       if r.content[1] and r.kind == "contact")  # fmt: skip
        problems += [f"{n} Sell organisations named {k!r}" for k, n in orgs.items() if n > 1]
        return problems

    def link_problems(self, ledger: Path, tenant: str = "default") -> list[str]:
        """Active ledger links that are not one to one or point at nothing (or elsewhere)."""
        with sqlite3.connect(ledger) as db:
            rows = db.execute(
                "SELECT exchange_id, sell_kind, sell_id FROM links"
                " WHERE tenant = ? AND status = 'active'",
                (tenant,),
            ).fetchall()
            pending = db.execute(
                "SELECT count(*) FROM intents WHERE tenant = ?", (tenant,)
            ).fetchone()[0]
        problems = [f"{pending} create intents still pending"] if pending else []
        by_exchange = Counter(r[0] for r in rows)
        by_sell = Counter((r[1], r[2]) for r in rows)
        problems += [f"Exchange {k} in {n} links" for k, n in by_exchange.items() if n > 1]
        problems += [f"Sell {k} in {n} links" for k, n in by_sell.items() if n > 1]
        exchange = {r.id: r for r in self.exchange}
        sell = {(r.kind, r.id) for r in self.sell}
        for exchange_id, kind, sell_id in rows:
            if exchange_id not in exchange:
                problems.append(f"link to missing Exchange contact {exchange_id[-12:]}")
            elif exchange[exchange_id].sell_link not in (None, f"{kind}:{sell_id}"):
                problems.append(
                    f"Exchange {exchange_id[-12:]} carries {exchange[exchange_id].sell_link}"
                    f" but is linked to {kind}:{sell_id}"
                )
            if (kind, sell_id) not in sell:
                problems.append(f"link to missing Sell {kind} {sell_id}")
        return problems


def exchange_config(ews: Any, mailbox: str, protocol: str = "ews") -> dict[str, Any]:
    """Connection settings of both Exchange plugins for one sandbox mailbox, over ``protocol``:
    EWS with the mailbox's password, or Microsoft Graph with the tests' app registration (msal
    client credentials, ``graph_sandbox_args``); over the sandbox's TLS when it serves https."""
    if protocol == "graph":
        return graph_settings(ews, mailbox, **GRAPH_APP)
    tls = {"ca_bundle": str(ews.cafile)} if getattr(ews, "cafile", None) else {}
    return exchange_settings(ews, mailbox, PASSWORD) | tls


def exchange_contacts(
    ews: Any, mailbox: str, settings: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every contact of the private folders as a tap ``contacts`` record; with ``settings``
    (e.g. Microsoft Graph's), read as the plugins read them, ids in that protocol."""
    if settings is not None:
        return _read_as_the_tap(settings)
    link_property.register()
    account = connect({**exchange_config(ews, mailbox), "retry_max_wait": 120})
    try:
        out = []
        for folder in private_contact_folders(account):
            items = FolderCollection(account=account, folders=[folder.folder]).all()
            for item in items.only(*FETCH_FIELDS):
                if isinstance(item, exchangelib.Contact):
                    out.append(
                        contact_to_record(item, folder_id=folder.id, folder_path=folder.path)
                    )
        return out
    finally:
        disconnect(account)


def _read_as_the_tap(settings: dict[str, Any]) -> list[dict[str, Any]]:
    """A full read of every private folder through the protocol-neutral mailbox."""
    mailbox = open_mailbox({"retry_max_wait": 120, **settings})
    try:
        return [
            record
            for folder in mailbox.private_folders()
            for record in mailbox.folder_changes(folder, None).records()
            if not is_deletion(record)
        ]
    finally:
        mailbox.close()


def end_state(
    sell: Any, ews: Any, token: str, mailbox: str, settings: dict[str, Any] | None = None
) -> EndState:
    """Snapshot of one tenant: the Sell account of ``token`` and the mailbox ``mailbox``
    (read over EWS, or with ``settings``, e.g. Microsoft Graph's)."""
    # The client retries reads through 429, 5xx and dropped connections: a faulty sandbox works.
    sell_api = SellSandboxClient(sell.base_url, token)
    contacts, leads = sell_api.all("contacts"), sell_api.all("leads")
    orgs = {c["id"]: c.get("name") for c in contacts if c.get("is_organization")}
    state = EndState()
    for kind, records in (("contact", contacts), ("lead", leads)):
        for record in records:
            canonical = (
                from_sell_contact(record, orgs) if kind == "contact" else from_sell_lead(record)
            )
            marker = (record.get("custom_fields") or {}).get(EXCHANGE_ID_FIELD)
            state.sell.append(SellRecord(kind, record["id"], content(kind, canonical), marker))
    for record in exchange_contacts(ews, mailbox, settings):
        state.exchange.append(
            ExchangeRecord(
                id=record["id"],
                folder_path=record["folder_path"],
                content=content("exchange", from_exchange(record)),
                categories=tuple(record["categories"]),
                sell_link=record["sell_link"],
            )
        )
    return state


def counter_diff(a: Counter, b: Counter, limit: int = 5) -> str:
    """The first few entries only one side has (for assertion messages)."""
    only_a, only_b = list((a - b).elements())[:limit], list((b - a).elements())[:limit]
    return f"only in first ({sum((a - b).values())}): {only_a}\nonly in second: {only_b}"


def iter_chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
