"""S2 (every row), S3.1, S3.2 and S10.1 end to end: ``meltano run tap-sell target-exchange``,
with the Sell side changed through the Sell API (sell-sandbox) and the user's edits made in
Exchange (through EWS, as Outlook makes them), target-exchange writing over EWS and over
Microsoft Graph (S13.1: exchange-sandbox serves one store over both)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from contact_mapping.categories import CATEGORY_COLOURS, category_guid_text
from exchange_mailbox.ews import master_categories
from exchange_mailbox.ews.connection import disconnect
from sandbox_common.meltano_project import MeltanoProject
from sandbox_common.process import running_sandbox
from sell_sandbox.client import SellSandboxClient

from .conftest import MAILBOXES, PASSWORD, Env, graph_env

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "f" * 64


@pytest.mark.e2e
@pytest.mark.xdist_group("meltano")
@pytest.mark.spec("S1.3", "S2", "S3.1", "S3.2", "S10.1", "S13.1")
@pytest.mark.parametrize("protocol", ["ews", "graph"])
def test_statuses_follow_deals_through_meltano_with_master_list_and_rejection(
    request, protocol, tmp_path
):
    mailbox = MAILBOXES[-2]
    server = request.getfixturevalue("ews" if protocol == "ews" else "exchange")
    exchange = Env(server, mailbox, tmp_path, protocol)
    with running_sandbox("sell-sandbox", ["--token", TOKEN, "--rate-limit", "0"]) as sandbox:
        sell = SellSandboxClient(sandbox.base_url, TOKEN)
        stages = sell.stage_ids()
        report_path = tmp_path / "report.json"
        project = MeltanoProject.isolated(
            ROOT,
            tmp_path / "project",
            env={
                "MELTANO_ENVIRONMENT": "demo",
                "DEMO_SELL_URL": sandbox.base_url,
                "DEMO_EWS_ENDPOINT": exchange.endpoint,
                "DEMO_EWS_MAILBOX": mailbox,
                "TAP_SELL_API_TOKEN": TOKEN,
                "TARGET_EXCHANGE_PASSWORD": PASSWORD,
                "TARGET_EXCHANGE_REPORT_PATH": str(report_path),
                **(graph_env(server) if protocol == "graph" else {}),
            },
        )

        def sync() -> dict:
            project.run("run", "tap-sell", "target-exchange")
            return json.loads(report_path.read_text())

        def categories(name: str = "Ann Lee") -> list[str]:
            [item] = [c for c in exchange.contacts() if c.display_name == name]
            return list(item.categories or [])

        acme = sell.create("contacts", is_organization=True, name="Acme")
        ann = sell.create(
            "contacts",
            is_organization=False,
            first_name="Ann",
            last_name="Lee",
            email="ann@acme.example",
            contact_id=acme["id"],
        )
        # S10.1: a record EWS refuses (Surname longer than it allows) is rejected alone. Graph
        # takes such a name (it has no such limit here); its own refusals (more than 3 e-mail
        # addresses or 2 business phones) are pinned in exchange-mailbox's Graph tests.
        bad = sell.create("contacts", is_organization=False, last_name="x" * 300)
        sell.create("leads", first_name="Lou", last_name="Lead", organization_name="Lead Co")

        first = sync()
        contacts = first["streams"]["contacts"]
        if protocol == "ews":
            assert (contacts["created"], contacts["rejected"]) == (2, 1)
            [rejected] = first["rejected"]
            assert rejected["record_id"] == f"contact:{bad['id']}"
            assert rejected["reason"]
        else:
            assert (contacts["created"], contacts["rejected"]) == (3, 0)
        # S2: a person, a company and a lead each carry their category.
        assert categories() == ["Sell Person"]
        assert categories("Acme") == ["Sell Company"]
        assert categories("Lou Lead") == ["Sell Lead"]
        # S3: the master list holds the seven categories with their colours and GUIDs.
        account = exchange.account()
        try:
            listed = master_categories.load(account)
        finally:
            disconnect(account)
        assert listed is not None
        by_name = {c.name: c for c in listed.categories()}
        for name, colour in CATEGORY_COLOURS.items():
            assert by_name[name].color == colour
            if protocol == "ews":  # Graph gives the categories it creates ids of its own
                assert by_name[name].guid == category_guid_text(name)

        # The user files Ann under a category of their own in Outlook.
        account = exchange.account()
        try:
            [item] = [c for c in exchange.contacts() if c.display_name == "Ann Lee"]
            item.account = account
            item.categories = ["VIP", *item.categories]
            item.save(update_fields=["categories"])
        finally:
            disconnect(account)

        # S2 through Sell's deals: open deal → current prospect.
        deal = sell.create(
            "deals", name="Big deal", contact_id=ann["id"], stage_id=stages["incoming"]
        )
        sync()
        assert categories() == ["VIP", "Sell Person", "Sell Current Prospect"]
        # Won → current customer (no longer a prospect).
        sell.update("deals", deal["id"], stage_id=stages["won"])
        sync()
        assert categories() == ["VIP", "Sell Person", "Sell Current Customer"]
        # Lost → lost prospect (the won deal is gone: not a customer any more).
        sell.update("deals", deal["id"], stage_id=stages["lost"])
        sync()
        assert categories() == ["VIP", "Sell Person", "Sell Lost Prospect"]
        # customer_status past → past customer, the user's VIP still there.
        sell.update("contacts", ann["id"], customer_status="past")
        last = sync()
        assert categories() == ["VIP", "Sell Person", "Sell Lost Prospect", "Sell Past Customer"]
        assert last["streams"]["contacts"]["rejected"] == 0  # unchanged rejection not retried

        # S3.2: the user renames "Sell Person" in Outlook (the category keeps its GUID), which
        # re-tags Ann with the new name. Over Graph the run deletes that category and makes
        # "Sell Person" again with its colour: the outcome is the same.
        account = exchange.account()
        try:
            listed = master_categories.load(account)
            [ours] = [c for c in listed.categories() if c.name == "Sell Person"]
            assert listed.rename(ours.guid, "People from Sell") == "Sell Person"
            master_categories.save(account, listed, exists=True)
            [item] = [c for c in exchange.contacts() if c.display_name == "Ann Lee"]
            item.account = account
            item.categories = [
                "People from Sell" if c == "Sell Person" else c for c in item.categories
            ]
            item.save(update_fields=["categories"])
        finally:
            disconnect(account)
        sync()  # nothing changed in Sell: the list is checked all the same
        account = exchange.account()
        try:
            names = master_categories.load(account).names()
        finally:
            disconnect(account)
        assert "Sell Person" in names
        assert "People from Sell" not in names
        assert categories() == ["VIP", "Sell Person", "Sell Lost Prospect", "Sell Past Customer"]
        account = exchange.account()
        try:
            restored = {c.name: c for c in master_categories.load(account).categories()}
        finally:
            disconnect(account)
        assert restored["Sell Person"].color == CATEGORY_COLOURS["Sell Person"]
