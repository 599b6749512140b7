"""Switching a tenant from EWS to Microsoft Graph (SPEC S13.2), through real `meltano run`.

One exchange-sandbox serves the mailbox over both protocols (as Exchange Online does), with TLS
and an app registration; msal gets the app's tokens. The tenant first converges over EWS (both
directions, twice), then both Exchange plugins are switched to Graph with nothing else changed.
The first Graph round must write nothing to either side and keep every link (re-found through the
Sell-link property and the change key, never by id translation); later edits on either side must
flow over Graph; and nothing is ever duplicated or re-created.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from contact_mapping.ledger import Ledger
from contact_mapping.ledger_url import default_ledger_url
from exchange_mailbox.ews import connection, link_property
from exchange_mailbox.ews.folders import private_contact_folders
from exchange_mailbox.ews.records import FETCH_FIELDS
from exchangelib import Account, Contact
from exchangelib.folders import FolderCollection
from exchangelib.indexed_properties import EmailAddress
from sandbox_common.clock import wait_past
from sandbox_common.meltano_project import MeltanoProject
from sandbox_common.process import SandboxProcess, running_sandbox
from sell_sandbox.client import SellSandboxClient

from demo.agreement import disagreements
from tests.conftest import (
    EXCHANGE_PLUGINS,
    ROOT,
    graph_demo_env,
    graph_sandbox_args,
    make_token,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano")]

MAILBOX, PASSWORD = "switch@contoso.example", "switch-password"
APP = {"tenant": "contoso-tenant", "client_id": "switch-app", "secret": "S3cret~switch-app-0123"}


@pytest.fixture
def sandboxes() -> Iterator[tuple[SandboxProcess, SandboxProcess, str]]:
    token = make_token("protocol-switch")
    exchange_args = ["--mailbox", f"{MAILBOX}:{PASSWORD}", *graph_sandbox_args(APP)]
    with (
        running_sandbox("sell-sandbox", ["--rate-limit", "0", "--token", token]) as sell,
        running_sandbox("exchange-sandbox", exchange_args) as exchange,
    ):
        yield sell, exchange, token


def ews_env(exchange: SandboxProcess) -> dict[str, str]:
    """The `demo` environment's EWS settings, over the sandbox's TLS."""
    env = {f"{p}_CA_BUNDLE": str(exchange.cafile) for p in EXCHANGE_PLUGINS}
    return env | {
        "DEMO_EWS_ENDPOINT": f"{exchange.base_url}/EWS/Exchange.asmx",
        "DEMO_EWS_MAILBOX": MAILBOX,
        "DEMO_EWS_PASSWORD": PASSWORD,
    }


class Tenant:
    """Both systems as the user sees them, and the tenant's Meltano project."""

    def __init__(self, project: MeltanoProject, sandboxes: Any, tmp: Path) -> None:
        self.sell, self.exchange, token = sandboxes
        self.project = project
        self.tmp = tmp
        project.env |= {
            "DEMO_SELL_URL": self.sell.base_url,
            "DEMO_SELL_TOKEN": token,
            "TAP_EXCHANGE_CONTACTS_CATEGORIES": '["Clients"]',
            "TARGET_SELL_CONTACTS_REPORT_PATH": str(tmp / "exchange-to-sell.json"),
            "TARGET_EXCHANGE_REPORT_PATH": str(tmp / "sell-to-exchange.json"),
            **ews_env(self.exchange),
        }
        self.api = SellSandboxClient(self.sell.base_url, token)
        self.account: Account = connection.connect(
            {
                "primary_smtp_address": MAILBOX,
                "password": PASSWORD,
                "service_endpoint": f"{self.exchange.base_url}/EWS/Exchange.asmx",
                "server_version": "15.1.2507.6",
                "ca_bundle": str(self.exchange.cafile),
            }
        )

    def switch_to_graph(self) -> None:
        self.project.env |= graph_demo_env(self.exchange, APP)

    def round(self) -> dict[str, Any]:
        """One `meltano run two-way-sync`: the writes each side received and both reports."""
        self.sell.reset()
        self.exchange.reset()
        self.project.run("--environment=demo", "run", "two-way-sync")
        exchange_stats = self.exchange.stats()
        return {
            "sell_writes": self.sell.stats()["total_writes"],
            "exchange_writes": exchange_stats["total_writes"],
            "exchange_ops": {**exchange_stats["reads"], **exchange_stats["writes"]},
            "batched_writes": (exchange_stats.get("batched") or {}).get("writes") or {},
            "to_sell": json.loads((self.tmp / "exchange-to-sell.json").read_text()),
            "to_exchange": json.loads((self.tmp / "sell-to-exchange.json").read_text()),
        }

    def contacts(self) -> list[Contact]:
        folders = [f.folder for f in private_contact_folders(self.account)]
        items = FolderCollection(account=self.account, folders=folders).all().only(*FETCH_FIELDS)
        return [i for i in items if isinstance(i, Contact)]

    def add(self, first: str, last: str, **fields: Any) -> Contact:
        item = Contact(
            account=self.account,
            folder=self.account.contacts,
            given_name=first,
            surname=last,
            display_name=f"{first} {last}",
            **fields,
        )
        item.save()
        return item

    def by_link(self, ref: str) -> Contact:
        [item] = [c for c in self.contacts() if getattr(c, link_property.FIELD_NAME) == ref]
        return item

    def edit(self, item: Contact, **fields: Any) -> None:
        [current] = list(self.account.fetch(ids=[(item.id, None)]))
        for name, value in fields.items():
            setattr(current, name, value)
        current.save(update_fields=list(fields))

    def ledger(self) -> Ledger:
        url = default_ledger_url({"MELTANO_SYS_DIR_ROOT": str(self.project.sys_dir)})
        return Ledger(url, "default")

    def census(self) -> dict[str, Any]:
        """What must not change across the switch: who is linked to whom, and how many."""
        contacts = self.contacts()
        sell = self.api.all("contacts")
        links = Counter(getattr(c, link_property.FIELD_NAME) or "" for c in contacts)
        return {
            "exchange": len(contacts),
            "sell": len(sell),
            "sell_names": Counter(r.get("name") or r.get("last_name") for r in sell),
            "links": links,
        }


@pytest.fixture
def tenant(sandboxes, tmp_path: Path) -> Iterator[Tenant]:
    tenant = Tenant(MeltanoProject.isolated(ROOT, tmp_path / "project"), sandboxes, tmp_path)
    yield tenant
    connection.disconnect(tenant.account)


def converged_over_ews(tenant: Tenant) -> dict[str, Any]:
    """The user's Exchange contacts (tagged for Sell) and the salesperson's Sell records, synced
    over EWS until a round writes nothing and both sides agree."""
    ada = tenant.add(
        "Ada",
        "Lovelace",
        job_title="Analyst",
        categories=["Clients"],
        email_addresses=[EmailAddress(label="EmailAddress1", email="ada@engines.example")],
    )
    grace = tenant.add("Grace", "Hopper", job_title="Admiral", categories=["Clients"])
    tenant.add("Private", "Person", categories=["Family"])  # not in scope: never synced
    linus = tenant.api.create(
        "contacts", is_organization=False, first_name="Linus", last_name="Torvalds",
        email="linus@kernel.example", title="Maintainer",
    )  # fmt: skip
    tenant.api.create("contacts", is_organization=True, name="Initech")
    tenant.api.create("leads", first_name="Lou", last_name="Lead", organization_name="Lead Co")
    tenant.round()
    quiet = tenant.round()
    assert (quiet["sell_writes"], quiet["exchange_writes"]) == (0, 0)
    assert tenant.census()["links"][""] == 1  # only the private contact is unlinked
    assert not disagreements(tenant.api, tenant.account)
    ledger = tenant.ledger()
    try:
        links = {link.sell_ref: link for link in ledger.active_links()}
    finally:
        ledger.close()
    assert len(links) == 5  # Ada, Grace, Linus, Initech and the lead
    assert not any(k.exchange_id.startswith("graph:") for k in links.values())
    refs = {k.exchange_id: ref for ref, k in links.items()}
    return {
        "ada": ada,
        "grace": grace,
        "linus": linus,
        "ada_ref": refs[ada.id],
        "grace_ref": refs[grace.id],
        "links": links,
        "census": tenant.census(),
    }


def graph_links_of(tenant: Tenant) -> dict[str, Any]:
    ledger = tenant.ledger()
    try:
        return {link.sell_ref: link for link in ledger.active_links()}
    finally:
        ledger.close()


def assert_no_creates_updates_or_retirements(*reports: dict[str, Any]) -> None:
    for report in reports:
        for counts in report["streams"].values():
            assert (counts["created"], counts["updated"], counts["links_retired"]) == (0, 0, 0)


@pytest.mark.spec("S13.2", "S7.1", "S7.3")
def test_a_tenant_switched_from_ews_to_graph_writes_nothing_and_keeps_every_link(
    tenant: Tenant,
) -> None:
    synced = converged_over_ews(tenant)

    # S13.2: the switch. The first Graph round writes nothing to either side and retires
    # nothing; every link now names its contact's Graph id.
    tenant.switch_to_graph()
    first = tenant.round()
    assert (first["sell_writes"], first["exchange_writes"]) == (0, 0), first
    assert not any(op.startswith("POST /EWS") for op in first["exchange_ops"])  # Graph only
    assert_no_creates_updates_or_retirements(first["to_sell"], first["to_exchange"])
    assert first["to_sell"]["streams"]["contacts"]["relinked"] == 5  # every linked contact
    assert tenant.census() == synced["census"]
    graph_links = graph_links_of(tenant)
    assert set(graph_links) == set(synced["links"])
    assert all(k.exchange_id.startswith("graph:") for k in graph_links.values())
    assert all(graph_links[r].id == k.id for r, k in synced["links"].items())  # the same links
    assert not disagreements(tenant.api, tenant.account)

    # Later edits flow over Graph, both ways; still no duplicate anywhere.
    linus = synced["linus"]
    tenant.edit(synced["ada"], job_title="Countess")
    wait_past(tenant.api.get("contacts", linus["id"])["updated_at"])
    tenant.api.update("contacts", linus["id"], title="Benevolent Dictator")
    nina = tenant.api.create(
        "contacts", is_organization=False, first_name="Nina", last_name="New", email="n@x.example"
    )
    edits = tenant.round()
    assert edits["to_sell"]["streams"]["contacts"]["updated"] == 1
    assert edits["to_exchange"]["streams"]["contacts"]["created"] == 1
    assert tenant.api.get("contacts", int(synced["ada_ref"].split(":")[1]))["title"] == "Countess"
    assert tenant.by_link(f"contact:{linus['id']}").job_title == "Benevolent Dictator"
    assert tenant.by_link(f"contact:{nina['id']}").surname == "New"
    assert "POST /v1.0/$batch" in edits["exchange_ops"]  # written over Graph
    after = tenant.census()
    assert after["exchange"] == synced["census"]["exchange"] + 1
    assert after["sell"] == synced["census"]["sell"] + 1
    assert all(n == 1 for ref, n in after["links"].items() if ref)  # one contact per link
    assert not disagreements(tenant.api, tenant.account)
    settled = tenant.round()
    assert (settled["sell_writes"], settled["exchange_writes"]) == (0, 0)


@pytest.mark.spec("S13.2")
def test_a_contact_edited_before_the_switch_is_refound_by_its_sell_link_and_its_edit_flows(
    tenant: Tenant,
) -> None:
    """Edited after the last EWS round, the contact has a new change key: the Sell-link
    property finds its link, and the edit reaches Sell as an update, not a new contact."""
    synced = converged_over_ews(tenant)
    tenant.edit(synced["grace"], job_title="Rear Admiral")
    tenant.switch_to_graph()
    first = tenant.round()
    counts = first["to_sell"]["streams"]["contacts"]
    assert (counts["relinked"], counts["updated"], counts["created"]) == (5, 1, 0)
    grace_sell = tenant.api.get("contacts", int(synced["grace_ref"].split(":")[1]))
    assert grace_sell["title"] == "Rear Admiral"
    assert first["exchange_writes"] == 0
    census = tenant.census()
    assert (census["exchange"], census["sell"]) == (
        synced["census"]["exchange"],
        synced["census"]["sell"],
    )
    assert not disagreements(tenant.api, tenant.account)


@pytest.mark.spec("S13.2", "S6")
def test_sell_to_exchange_first_after_the_switch_refinds_links_and_retires_none(
    tenant: Tenant,
) -> None:
    """target-exchange meets the EWS ids first: it never fetches them over Graph nor retires
    their links, but finds the contact carrying the record's Sell link and writes to it."""
    synced = converged_over_ews(tenant)
    linus = synced["linus"]
    wait_past(tenant.api.get("contacts", linus["id"])["updated_at"])
    tenant.api.update("contacts", linus["id"], title="Kernel Hacker")
    tenant.switch_to_graph()
    tenant.sell.reset()
    tenant.exchange.reset()
    tenant.project.run("--environment=demo", "run", "sell-to-exchange")
    report = json.loads((tenant.tmp / "sell-to-exchange.json").read_text())
    counts = report["streams"]["contacts"]
    assert (counts["relinked"], counts["updated"], counts["links_retired"]) == (1, 1, 0)
    assert counts["created"] == 0
    assert tenant.by_link(f"contact:{linus['id']}").job_title == "Kernel Hacker"
    assert graph_links_of(tenant)[f"contact:{linus['id']}"].exchange_id.startswith("graph:")
    # The rest is re-found by the other direction; then all is quiet.
    tenant.round()
    settled = tenant.round()
    assert (settled["sell_writes"], settled["exchange_writes"]) == (0, 0)
    census = tenant.census()
    assert census["links"] == synced["census"]["links"]
    assert all(k.exchange_id.startswith("graph:") for k in graph_links_of(tenant).values())
    assert not disagreements(tenant.api, tenant.account)
