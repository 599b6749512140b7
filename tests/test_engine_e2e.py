"""The one engine through real `meltano run two-way-sync`: a conflict's winner reaches both sides
in one round (S5.5) and both sides agree (S7.3), whichever side wrote last, over EWS and with both
Exchange plugins on Microsoft Graph; a merge of two fields; and `dry_run` (S14): the preview
writes nothing, and a real run then does what it listed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ews_sandbox.testing import exchange_settings
from exchange_mailbox.ews import link_property
from exchange_mailbox.ews.connection import connect
from exchangelib import Account, Contact
from exchangelib.indexed_properties import EmailAddress
from sandbox_common.clock import wait_past
from sell_sandbox.client import SellSandboxClient

from demo.agreement import disagreements
from tests.conftest import PASSWORD, demo_env, graph_demo_env, graph_sandbox_args, make_token

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano")]

KEPT_FIELD = "Overwritten values"  # the demo environment's overwritten_values_field


def _account(ews, mailbox: str) -> Account:
    """The user's own view (Outlook's, over EWS), over the sandbox's TLS when it has one."""
    tls = {"ca_bundle": str(ews.cafile)} if ews.cafile else {}
    link_property.register()
    return connect({**exchange_settings(ews, mailbox, PASSWORD), **tls})


class World:
    """One tenant: both sandboxes, the user's hands on both sides, and the Meltano project;
    ``protocol``: what both Exchange plugins use (``graph``: exchange-sandbox, msal over TLS)."""

    def __init__(self, project, sandboxes_factory, name: str, protocol: str = "ews") -> None:
        self.token, self.mailbox = make_token(name), f"user@{name}.example"
        graph = protocol == "graph"
        self.sell, self.ews = sandboxes_factory(
            ["--rate-limit", "0", "--token", self.token],
            ["--mailbox", f"{self.mailbox}:{PASSWORD}", *(graph_sandbox_args() if graph else [])],
            "exchange-sandbox" if graph else "ews-sandbox",
        )
        self.project = project
        project.env |= demo_env(self.sell, self.ews, self.token, self.mailbox)
        if graph:
            project.env |= graph_demo_env(self.ews)
        self.api = SellSandboxClient(self.sell.base_url, self.token)
        self.account = _account(self.ews, self.mailbox)

    def round(self, *extra: str) -> dict[str, Any]:
        """One `two-way-sync`; returns the writes each side received."""
        return self.round_of("two-way-sync", *extra)

    def round_of(self, *blocks: str) -> dict[str, Any]:
        """`meltano run BLOCKS...`; returns the writes each side received."""
        self.sell.reset()
        self.ews.reset()
        self.project.run("--environment=demo", "run", *blocks)
        return {"sell": self.sell.stats()["total_writes"], "ews": self.ews.stats()["total_writes"]}

    def exchange_contact(self, **fields: Any) -> Contact:
        item = Contact(account=self.account, folder=self.account.contacts, **fields)
        item.save()
        return item

    def exchange(self, item_id: str) -> Contact:
        [item] = list(self.account.fetch(ids=[(item_id, None)]))
        return item

    def sell_of(self, item: Contact) -> dict[str, Any]:
        link = getattr(self.exchange(item.id), link_property.FIELD_NAME)
        assert link, "the Exchange contact carries no Sell link"
        assert link.startswith("contact:"), link
        return self.api.get("contacts", int(link.split(":")[1]))

    def edit_exchange(self, item_id: str, **fields: Any) -> str:
        item = self.exchange(item_id)
        for name, value in fields.items():
            setattr(item, name, value)
        item.save(update_fields=list(fields))
        return self.exchange(item_id).last_modified_time.ewsformat()

    def agree(self) -> list[str]:
        return disagreements(self.api, self.account)


@pytest.fixture
def protocol() -> str:
    """EWS unless a test is parametrized over ``protocol``."""
    return "ews"


@pytest.fixture
def world(isolated_project, sandboxes_factory, request, tmp_path: Path, protocol: str) -> World:
    name = request.node.name[:40].replace("[", "-").replace("]", "").replace("_", "-")
    isolated_project.env |= {
        "TARGET_SELL_CONTACTS_REPORT_PATH": str(tmp_path / "exchange-to-sell.json"),
        "TARGET_EXCHANGE_REPORT_PATH": str(tmp_path / "sell-to-exchange.json"),
        "TAP_EXCHANGE_CONTACTS_CATEGORIES": '["Clients"]',
    }
    return World(isolated_project, sandboxes_factory, name, protocol)


def _linked_ada(world: World) -> tuple[Contact, dict[str, Any]]:
    ada = world.exchange_contact(
        given_name="Ada",
        surname="Lovelace",
        display_name="Ada Lovelace",
        job_title="Analyst",
        email_addresses=[EmailAddress(label="EmailAddress1", email="ada@engines.example")],
        categories=["Clients"],
    )
    world.round()
    sell = world.sell_of(ada)
    assert sell["title"] == "Analyst"
    return ada, sell


@pytest.mark.spec("S5.2", "S5.5", "S7.1", "S7.3")
@pytest.mark.parametrize(
    ("last", "protocol"), [("sell", "ews"), ("exchange", "ews"), ("sell", "graph")]
)
def test_a_conflicts_winner_reaches_both_sides_in_one_round(world: World, last: str) -> None:
    """The title is edited on both sides; the later edit wins on BOTH sides after one round,
    the losing value is kept in Sell once, and a further round writes nothing."""
    ada, sell = _linked_ada(world)
    values = {"exchange": "Countess", "sell": "Mathematician"}
    if last == "sell":
        stamp = world.edit_exchange(ada.id, job_title=values["exchange"])
        wait_past(stamp)
        world.api.update("contacts", sell["id"], title=values["sell"])
    else:
        stamp = world.api.update("contacts", sell["id"], title=values["sell"])["updated_at"]
        wait_past(stamp)
        world.edit_exchange(ada.id, job_title=values["exchange"])
    loser = "exchange" if last == "sell" else "sell"

    world.round()

    assert world.exchange(ada.id).job_title == values[last]
    after = world.api.get("contacts", sell["id"])
    assert after["title"] == values[last]
    kept = after["custom_fields"].get(KEPT_FIELD) or ""
    assert kept.count(json.dumps(values[loser])) == 1, kept
    assert f"{loser} title" in kept
    assert world.agree() == []
    assert world.round() == {"sell": 0, "ews": 0}
    assert world.agree() == []


@pytest.mark.spec("S5.1", "S7.3")
def test_edits_of_two_fields_on_two_sides_both_arrive(world: World) -> None:
    ada, sell = _linked_ada(world)
    stamp = world.edit_exchange(ada.id, job_title="Countess")
    wait_past(stamp)
    world.api.update("contacts", sell["id"], mobile="+44 20 7946 0002")

    world.round()

    item, after = world.exchange(ada.id), world.api.get("contacts", sell["id"])
    assert item.job_title == after["title"] == "Countess"
    assert {p.label: p.phone_number for p in item.phone_numbers or ()}.get("MobilePhone")
    assert after["mobile"] == "+44 20 7946 0002"
    assert not after["custom_fields"].get(KEPT_FIELD)  # no conflict, nothing kept
    assert world.agree() == []
    assert world.round() == {"sell": 0, "ews": 0}


def _ledger_links(world: World) -> int:
    from contact_mapping.ledger import Ledger
    from contact_mapping.ledger_url import default_ledger_url

    url = default_ledger_url({"MELTANO_SYS_DIR_ROOT": str(world.project.sys_dir)})
    with Ledger(url) as ledger:
        return len(ledger.active_links())


@pytest.mark.spec("S14")
def test_dry_run_writes_nothing_and_the_real_run_does_what_it_listed(
    world: World, tmp_path: Path
) -> None:
    """Each direction previewed through meltano: no write to Sell or Exchange, no link moved in
    the ledger; the real run (same input) then creates, matches, updates and decides conflicts
    exactly as the preview listed."""
    world.api.create("contacts", first_name="Grace", last_name="Hopper", email="grace@navy.example",
                     title="Rear Admiral")  # fmt: skip
    world.api.create("leads", first_name="Linus", last_name="Torvalds", email="linus@x.example")
    wait_past(world.api.all("leads")[0]["updated_at"])
    world.exchange_contact(
        given_name="Grace",
        surname="Hopper",
        display_name="Grace Hopper",
        job_title="Commodore",
        email_addresses=[EmailAddress(label="EmailAddress1", email="grace@navy.example")],
        categories=["Clients"],
    )
    world.exchange_contact(
        given_name="Alan", surname="Turing", display_name="Alan Turing", categories=["Clients"]
    )
    directions = [
        ("tap-exchange-contacts", "target-sell-contacts", "TARGET_SELL_CONTACTS"),
        ("tap-sell", "target-exchange", "TARGET_EXCHANGE"),
    ]
    for tap, target, prefix in directions:
        report = tmp_path / f"{target}.json"
        world.project.env[f"{prefix}_REPORT_PATH"] = str(report)
        links = _ledger_links(world)

        world.project.env[f"{prefix}_DRY_RUN"] = "true"
        assert world.round_of(tap, target) == {"sell": 0, "ews": 0}
        preview = json.loads(report.read_text())
        assert preview["dry_run"] is True
        assert preview["planned"], f"{target}: nothing planned"
        assert _ledger_links(world) == links

        world.project.env[f"{prefix}_DRY_RUN"] = "false"
        writes = world.round_of(tap, target, "--full-refresh")
        real = json.loads(report.read_text())
        assert "planned" not in real
        assert real["streams"] == preview["streams"], target
        assert sum(writes.values()) > 0
        for listed in ("matches", "conflicts", "rejected", "links_retired"):
            assert [(e["record_id"], e.get("field")) for e in real[listed]] == [
                (e["record_id"], e.get("field")) for e in preview[listed]
            ], (target, listed)
        created = {p["record_id"] for p in preview["planned"] if p["action"] == "create"}
        assert len(created) == sum(c.get("created", 0) for c in real["streams"].values())


@pytest.mark.spec("S6", "S2", "S5.1", "S7.3")
def test_a_converted_lead_keeps_its_exchange_contact(world: World) -> None:
    """A lead synced to Exchange and edited there, then converted in Sell with a deal: after one
    round its ONE Exchange contact is linked to the new Sell contact, tagged Sell Person and Sell
    Current Prospect, and carries the Exchange edit, also in Sell; nothing is duplicated, and
    the next round writes nothing."""
    world.exchange_contact(given_name="Pat", surname="Doe", display_name="Pat Doe",
                           categories=["Clients"])  # fmt: skip
    lead = world.api.create(
        "leads", first_name="Linus", last_name="Torvalds", email="linus@transmeta.example",
        title="Engineer", organization_name="Transmeta",
    )  # fmt: skip
    world.round()
    [item] = [i for i in world.account.contacts.all() if i.display_name == "Linus Torvalds"]
    assert getattr(item, link_property.FIELD_NAME) == f"lead:{lead['id']}"
    assert "Sell Lead" in item.categories
    stamp = world.edit_exchange(item.id, job_title="Fellow")
    wait_past(stamp)
    conversion = world.api.convert_lead(lead["id"], create_deal=True)

    world.round()

    person = f"contact:{conversion['individual_id']}"
    linus = [i for i in world.account.contacts.all() if i.display_name == "Linus Torvalds"]
    assert [i.id for i in linus] == [item.id], "the lead's Exchange contact is the only one"
    now = world.exchange(item.id)
    assert getattr(now, link_property.FIELD_NAME) == person
    assert "Sell Lead" not in now.categories
    assert {"Sell Person", "Sell Current Prospect"} <= set(now.categories)
    assert now.job_title == "Fellow"
    contact = world.api.get("contacts", conversion["individual_id"])
    assert contact["title"] == "Fellow"
    people = [c for c in world.api.all("contacts") if c.get("last_name") == "Torvalds"]
    assert len(people) == 1, "no duplicate in Sell"
    assert world.agree() == []
    assert world.round() == {"sell": 0, "ews": 0}
