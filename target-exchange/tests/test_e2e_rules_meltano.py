"""S2 (every row), S3.1, S3.2 and S10.1 end to end: ``meltano run tap-sell target-exchange``,
with the Sell side changed through the Sell API (sell-sandbox) and the user's edits made in
Exchange."""

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

from .conftest import MAILBOXES, Env

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "f" * 64


@pytest.mark.spec("S2", "S3.1", "S3.2", "S10.1")
@pytest.mark.e2e
@pytest.mark.xdist_group("meltano")
def test_statuses_follow_deals_through_meltano_with_master_list_and_rejection(ews, tmp_path):
    mailbox = MAILBOXES[-2]
    exchange = Env(ews, mailbox, tmp_path)
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
                "TARGET_EXCHANGE_PASSWORD": exchange.config()["password"],
                "TARGET_EXCHANGE_REPORT_PATH": str(report_path),
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
        # S10.1: a record Exchange refuses (Surname longer than it allows) is rejected alone.
        bad = sell.create("contacts", is_organization=False, last_name="x" * 300)
        sell.create("leads", first_name="Lou", last_name="Lead", organization_name="Lead Co")

        first = sync()
        contacts = first["streams"]["contacts"]
        assert (contacts["created"], contacts["rejected"]) == (2, 1)
        [rejected] = first["rejected"]
        assert rejected["record_id"] == f"contact:{bad['id']}"
        assert rejected["reason"]
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

        # S3.2: the user renames "Sell Person" in Outlook, which re-tags Ann with the new name.
        account = exchange.account()
        try:
            listed = master_categories.load(account)
            listed.rename(category_guid_text("Sell Person"), "People from Sell")
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
