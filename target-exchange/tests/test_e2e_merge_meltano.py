"""S4, S5, S6 (and S7.2) end to end: ``meltano run tap-sell target-exchange`` against both
sandboxes, the Sell side changed through the Sell API and the user's edits made in Exchange
through exchangelib, as Outlook makes them. Each test has its own mailbox, Sell sandbox, Meltano
system directory (so its own ledger) and report path. Each runs with both Exchange plugins on
EWS and on Microsoft Graph (S13.1: exchange-sandbox serves one store over both protocols; ids in
reports are the protocol's own, so the Graph runs compare them translated)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from contact_mapping.ledger import Ledger
from contact_mapping.ledger_url import default_ledger_url
from exchange_mailbox.ews import link_property
from exchange_mailbox.ews.connection import disconnect
from exchangelib import Contact
from exchangelib.errors import ErrorItemNotFound
from exchangelib.indexed_properties import EmailAddress, PhoneNumber
from sandbox_common.clock import wait_past
from sandbox_common.meltano_project import MeltanoProject
from sandbox_common.process import running_sandbox
from sell_sandbox.client import SellSandboxClient

from .conftest import MAILBOXES, PASSWORD, Env, graph_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("meltano"),
    pytest.mark.parametrize("protocol", ["ews", "graph"]),
]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "m" * 64
OVERWRITTEN_FIELD = "Overwritten values"  # the demo environment's overwritten_values_field
# MAILBOXES[-1] and [-2] belong to test_e2e_meltano.py and test_e2e_rules_meltano.py; the
# in-process tests take theirs from index 0 up (conftest's ``env`` fixture).
MATCH_MAILBOX, MERGE_MAILBOX, DELETE_MAILBOX = MAILBOXES[-3], MAILBOXES[-4], MAILBOXES[-5]


class Outlook:
    """The mailbox owner's own edits, through EWS as Outlook makes them."""

    def __init__(self, env: Env) -> None:
        self.env = env

    @contextmanager
    def _account(self) -> Iterator[Any]:
        account = self.env.account()
        try:
            yield account
        finally:
            disconnect(account)

    @staticmethod
    def _fetch(account: Any, item_id: str) -> Contact | None:
        [item] = list(account.fetch(ids=[(item_id, None)]))
        if isinstance(item, ErrorItemNotFound):
            return None
        assert isinstance(item, Contact), item
        return item

    def key(self, item: Contact) -> str:
        """The id the sync knows ``item`` by (its Graph id when the plugins use Graph)."""
        return self.env.graph_id(item.id)

    def get(self, item_id: str) -> Contact | None:
        with self._account() as account:
            return self._fetch(account, item_id)

    def add(self, first: str, last: str, **fields: Any) -> Contact:
        with self._account() as account:
            item = Contact(
                account=account,
                folder=account.contacts,
                given_name=first,
                surname=last,
                display_name=f"{first} {last}",
                **fields,
            )
            item.save()
            return self._fetch(account, item.id)

    def edit(self, item_id: str, **fields: Any) -> Contact:
        with self._account() as account:
            item = self._fetch(account, item_id)
            assert item is not None
            for name, value in fields.items():
                setattr(item, name, value)
            item.save(update_fields=list(fields))
            return self._fetch(account, item_id)

    def delete(self, item_id: str, *, to_trash: bool) -> None:
        """Outlook's Delete moves to Deleted Items; Shift+Delete deletes for good."""
        with self._account() as account:
            item = self._fetch(account, item_id)
            assert item is not None
            if to_trash:
                item.move_to_trash()
            else:
                item.delete()

    def by_link(self) -> dict[str, list[Contact]]:
        """Contacts of the private folders by Sell link (``""``: unlinked)."""
        out: dict[str, list[Contact]] = {}
        for item in self.env.contacts():
            out.setdefault(getattr(item, link_property.FIELD_NAME, None) or "", []).append(item)
        return out

    def linked(self, sell_record: dict) -> Contact:
        [item] = self.by_link()[f"contact:{sell_record['id']}"]
        return item

    def writes(self) -> int:
        return self.env.ews.stats()["by_tenant"].get(self.env.mailbox, {}).get("total_writes", 0)


class Pipeline:
    """Both directions of the demo environment, pointed at this test's sandboxes and files."""

    def __init__(self, project: MeltanoProject, tmp: Path) -> None:
        self.project = project
        self.report_path = tmp / "sell-to-exchange.json"
        self.back_report_path = tmp / "exchange-to-sell.json"
        self.project.env |= {
            "TARGET_EXCHANGE_REPORT_PATH": str(self.report_path),
            "TARGET_SELL_CONTACTS_REPORT_PATH": str(self.back_report_path),
        }
        self.log = ""

    def sync(self, *options: str) -> dict:
        """``meltano run [options] tap-sell target-exchange``; its report (logs in ``self.log``)."""
        self.report_path.unlink(missing_ok=True)
        self.log = self.project.run("run", *options, "tap-sell", "target-exchange").stderr
        return json.loads(self.report_path.read_text())

    def sync_back(self) -> dict:
        """``meltano run tap-exchange-contacts target-sell-contacts``; its report."""
        self.back_report_path.unlink(missing_ok=True)
        self.project.run("run", "tap-exchange-contacts", "target-sell-contacts")
        return json.loads(self.back_report_path.read_text())

    def ledger(self) -> Ledger:
        """The ledger both targets share by default (in the isolated Meltano system dir)."""
        url = default_ledger_url({"MELTANO_SYS_DIR_ROOT": str(self.project.sys_dir)})
        return Ledger(url, "default")


@contextmanager
def scenario(
    request: Any, protocol: str, tmp_path: Path, mailbox: str
) -> Iterator[tuple[SellSandboxClient, Outlook, Pipeline]]:
    """A Sell sandbox of the test's own, its mailbox on the module's Exchange sandbox (EWS, or
    exchange-sandbox for Graph), and Meltano with both Exchange plugins on ``protocol``."""
    server = request.getfixturevalue("ews" if protocol == "ews" else "exchange")
    env = Env(server, mailbox, tmp_path, protocol)
    graph = {}
    if protocol == "graph":
        graph = graph_env(server) | graph_env(server, "TAP_EXCHANGE_CONTACTS")
    with running_sandbox("sell-sandbox", ["--token", TOKEN, "--rate-limit", "0"]) as sandbox:
        project = MeltanoProject.isolated(
            ROOT,
            tmp_path / "project",
            env={
                "MELTANO_ENVIRONMENT": "demo",
                "DEMO_SELL_URL": sandbox.base_url,
                "DEMO_SELL_TOKEN": TOKEN,
                "DEMO_EWS_ENDPOINT": env.endpoint,
                "DEMO_EWS_MAILBOX": mailbox,
                "DEMO_EWS_PASSWORD": PASSWORD,
                # The sync's own categories: present once target-exchange has run.
                "TAP_EXCHANGE_CONTACTS_CATEGORIES": json.dumps(["Sell Person"]),
                **graph,
            },
        )
        sell = SellSandboxClient(sandbox.base_url, TOKEN)
        yield sell, Outlook(env), Pipeline(project, tmp_path)


def person(sell: SellSandboxClient, first: str, last: str, **fields: Any) -> dict:
    """A salesperson adds a person in Sell."""
    return sell.create(
        "contacts", is_organization=False, first_name=first, last_name=last, **fields
    )


def email(address: str, label: str = "EmailAddress1") -> EmailAddress:
    return EmailAddress(label=label, email=address)


def phone(number: str, label: str = "BusinessPhone") -> PhoneNumber:
    return PhoneNumber(label=label, phone_number=number)


def emails(item: Contact) -> dict[str, str]:
    return {e.label: e.email for e in item.email_addresses or ()}


def phones(item: Contact) -> dict[str, str]:
    return {p.label: p.phone_number for p in item.phone_numbers or ()}


def untouched(outlook: Outlook, before: Contact) -> bool:
    """Still there, never written (same change key), carrying no Sell link."""
    now = outlook.get(before.id)
    return (
        now is not None
        and now.changekey == before.changekey
        and not getattr(now, link_property.FIELD_NAME, None)
    )


@pytest.mark.spec("S4.1", "S4.2", "S5.3")
def test_s4_matching_links_one_to_one_and_s53_first_link_fills_blanks(request, protocol, tmp_path):
    with scenario(request, protocol, tmp_path, MATCH_MAILBOX) as (sell, outlook, pipeline):
        # The user's contacts, in Exchange before the first sync.
        ann_x = outlook.add(
            "Ann", "Smith", job_title="CTO", email_addresses=[email("  ANN@Example.ORG ")]
        )
        bob_x = outlook.add("Bob", "Jones", phone_numbers=[phone("(212) 555-0101")])
        carl_x = outlook.add("Carl", "Brown", phone_numbers=[phone("212-555-0199")])
        dana_x = outlook.add("Dana", "White", email_addresses=[email("info@globex.example")])
        # Two candidates for Eve: the one created first is modified last, so it is the newest.
        eve_newer = outlook.add("Eve", "Adams", email_addresses=[email("eve@example.org")])
        eve_older = outlook.add("Eve", "Adams", email_addresses=[email("EVE@example.org")])
        wait_past(eve_older.last_modified_time)
        eve_newer = outlook.edit(eve_newer.id, department="Sales")
        assert eve_newer.last_modified_time > eve_older.last_modified_time
        fay_x = outlook.add("Fay", "Green", email_addresses=[email("fay@example.org")])

        # The salesperson's records in Sell.
        ann = person(sell, "Ann", "Smith", email="ann@example.org", phone="+1 212 555 0100")
        bob = person(sell, "Bob", "Jones", email="bob@sell.example", phone="+1-212-555-0101")
        carl = person(sell, "Carl", "Brown", phone="+1 212 555 0102")
        globex = sell.create(
            "contacts", is_organization=True, name="Globex", email="info@globex.example"
        )
        eve = person(sell, "Eve", "Adams", email="eve@example.org")
        fays = [
            person(sell, "Fay", "Green", email=a) for a in ("fay@example.org", "Fay@Example.org")
        ]

        report = pipeline.sync()
        counts = report["streams"]["contacts"]
        assert (counts["matched"], counts["created"], counts["rejected"]) == (4, 3, 0)
        matches = {m["record_id"]: m for m in report["matches"]}

        # S4.1 by e-mail, trimmed and case-insensitive: linked, no second Ann.
        assert matches[f"contact:{ann['id']}"]["matched_id"] == outlook.key(ann_x)
        assert matches[f"contact:{ann['id']}"]["rule"] == "email"
        ann_now = outlook.linked(ann)
        assert ann_now.id == ann_x.id
        assert "Sell Person" in ann_now.categories
        # S5.3: Sell's blank title leaves "CTO"; Sell's phone fills Exchange's blank one.
        assert ann_now.job_title == "CTO"
        assert phones(ann_now) == {"BusinessPhone": "+12125550100"}
        # S4.1 by full name + the same number written differently; Sell's e-mail fills the blank.
        assert matches[f"contact:{bob['id']}"]["matched_id"] == outlook.key(bob_x)
        assert matches[f"contact:{bob['id']}"]["rule"] == "name_phone"
        bob_now = outlook.linked(bob)
        assert bob_now.id == bob_x.id
        assert emails(bob_now) == {"EmailAddress1": "bob@sell.example"}
        # Same name, another phone: no match, a contact of its own; the user's Carl untouched.
        assert f"contact:{carl['id']}" not in matches
        assert outlook.linked(carl).id != carl_x.id
        assert untouched(outlook, carl_x)
        # A company never matches a person, even with the same e-mail.
        assert f"contact:{globex['id']}" not in matches
        globex_now = outlook.linked(globex)
        assert globex_now.id != dana_x.id
        assert "Sell Company" in globex_now.categories
        assert untouched(outlook, dana_x)

        # S4.2: the most recently modified candidate wins, the other stays as it was, and the
        # choice with its alternatives is in the report and in the Meltano log.
        eve_match = matches[f"contact:{eve['id']}"]
        assert (eve_match["matched_id"], eve_match["alternatives"]) == (
            outlook.key(eve_newer),
            [outlook.key(eve_older)],
        )
        assert outlook.linked(eve).id == eve_newer.id
        assert untouched(outlook, eve_older)
        assert not outlook.get(eve_older.id).categories
        [logged] = [
            line
            for line in pipeline.log.splitlines()
            if f"Sell contact:{eve['id']} matched Exchange" in line
        ]
        assert outlook.key(eve_newer) in logged
        assert outlook.key(eve_older) in logged
        # Links are one to one: of the two Sell Fays (same e-mail, same run) one links to the
        # user's Fay, the other gets a contact of its own.
        fay_refs = {f"contact:{f['id']}" for f in fays}
        [fay_match] = [m for ref, m in matches.items() if ref in fay_refs]
        assert (fay_match["matched_id"], fay_match["alternatives"]) == (outlook.key(fay_x), [])
        fay_items = {ref: outlook.by_link()[ref] for ref in fay_refs}
        assert sorted(len(items) for items in fay_items.values()) == [1, 1]
        assert fay_items[fay_match["record_id"]][0].id == fay_x.id
        assert len(outlook.env.contacts()) == 10  # 7 of the user's + Carl, Globex and a Fay

        # S7.2: everything delivered again (--full-refresh) writes nothing to Exchange.
        writes = outlook.writes()
        assert writes > 0  # the mailbox's own counter (the earlier runs wrote)
        again = pipeline.sync("--full-refresh")
        counts = again["streams"]["contacts"]
        assert (counts["received"], counts["created"], counts["updated"]) == (7, 0, 0)
        assert again["matches"] == []
        assert outlook.writes() == writes


@pytest.mark.spec("S5.1", "S5.2", "S5.4", "S10.1")
def test_s5_three_way_merge_conflicts_both_ways_and_kept_values_reach_sell(
    request, protocol, tmp_path
):
    with scenario(request, protocol, tmp_path, MERGE_MAILBOX) as (sell, outlook, pipeline):
        common = {"title": "Engineer", "phone": "+1 212 555 0100"}
        mia = person(sell, "Mia", "Lopez", email="mia@example.org", **common)
        nick = person(sell, "Nick", "Cole", email="nick@example.org", **common)
        olga = person(sell, "Olga", "Berg", email="olga@example.org", **common)
        assert pipeline.sync()["streams"]["contacts"]["created"] == 3
        mia_x, nick_x = outlook.linked(mia), outlook.linked(nick)

        # Exchange side. Mia: a mapped field (title) and fields Sell has no counterpart for
        # (department, EmailAddress2 and 3, BusinessPhone2, HomePhone): as many e-mail addresses
        # and business phones as Microsoft Graph takes (3 and 2). Nick: the title, before Sell
        # changes it.
        mia_x = outlook.edit(
            mia_x.id,
            job_title="Lead Engineer",
            department="R&D",
            email_addresses=[
                *mia_x.email_addresses,
                email("mia@home.example", "EmailAddress2"),
                email("mia@club.example", "EmailAddress3"),
            ],
            phone_numbers=[
                *mia_x.phone_numbers,
                phone("+1 303 555 0177", "BusinessPhone2"),
                phone("+1 303 555 0188", "HomePhone"),
            ],
        )
        nick_x = outlook.edit(nick_x.id, job_title="Exchange Title")
        wait_past(max(mia_x.last_modified_time, nick_x.last_modified_time))
        # Sell side: Mia's mobile, e-mail and work phone (EmailAddress1 and BusinessPhone of a
        # contact at Graph's caps); Nick's and Olga's title (Nick's is the newer edit).
        sell.update(
            "contacts",
            mia["id"],
            mobile="+1 415 555 0123",
            email="mia@new.example",
            phone="+1 212 555 0111",
        )
        sell.update("contacts", nick["id"], title="Sell Title")
        olga = sell.update("contacts", olga["id"], title="Sell Title")
        # Olga's title changes in Exchange after Sell's edit: Exchange is the newer side.
        wait_past(olga["updated_at"])
        outlook.edit(outlook.linked(olga).id, job_title="Exchange Title")

        report = pipeline.sync()
        # S5.1: each side's own change survives; S5.4: Exchange-only fields are kept. S10.1:
        # the sync writes only EmailAddress1 and BusinessPhone (S8), so a contact at Graph's
        # caps stays within them: written whole over both protocols, nothing refused, no
        # value dropped.
        mia_now = outlook.linked(mia)
        assert phones(mia_now) == {
            "BusinessPhone": "+12125550111",
            "BusinessPhone2": "+1 303 555 0177",
            "MobilePhone": "+14155550123",
            "HomePhone": "+1 303 555 0188",
        }
        assert mia_now.job_title == "Lead Engineer"
        assert mia_now.department == "R&D"
        assert emails(mia_now) == {
            "EmailAddress1": "mia@new.example",
            "EmailAddress2": "mia@home.example",
            "EmailAddress3": "mia@club.example",
        }
        assert report["rejected"] == []
        # S5.2: the newer side wins, in both directions, and each conflict is reported.
        assert outlook.linked(nick).job_title == "Sell Title"
        assert outlook.linked(olga).job_title == "Exchange Title"
        conflicts = {
            c["record_id"]: (
                c["field"],
                c["kept"],
                c["kept_origin"],
                c["overwritten"],
                c["overwritten_origin"],
            )
            for c in report["conflicts"]
        }
        assert conflicts == {
            f"contact:{nick['id']}": ("title", "Sell Title", "sell", "Exchange Title", "exchange"),
            f"contact:{olga['id']}": ("title", "Exchange Title", "exchange", "Sell Title", "sell"),
        }
        assert report["streams"]["contacts"]["conflicts"] == 2
        # The losing values wait in the ledger for target-sell-contacts to keep them in Sell.
        ledger = pipeline.ledger()
        try:
            queued = {(q.sell_id, q.field, q.value, q.origin) for q in ledger.pending_overwritten()}
        finally:
            ledger.close()
        assert queued == {
            (nick["id"], "title", "Exchange Title", "exchange"),
            (olga["id"], "title", "Sell Title", "sell"),
        }

        # The other direction delivers them: nothing is silently lost.
        back = pipeline.sync_back()
        delivered = {(d["sell"], d["value"], d["origin"]) for d in back["overwritten_delivered"]}
        assert delivered == {
            (f"contact:{nick['id']}", "Exchange Title", "exchange"),
            (f"contact:{olga['id']}", "Sell Title", "sell"),
        }
        nick_sell, olga_sell = sell.get("contacts", nick["id"]), sell.get("contacts", olga["id"])
        assert "Exchange Title" in nick_sell["custom_fields"][OVERWRITTEN_FIELD]
        assert nick_sell["title"] == "Sell Title"
        assert "Sell Title" in olga_sell["custom_fields"][OVERWRITTEN_FIELD]
        assert olga_sell["title"] == "Exchange Title"
        assert sell.get("contacts", mia["id"])["title"] == "Lead Engineer"

        # S7.2 / S7.1: Sell's changes made by the sync itself, and every record delivered
        # again, write nothing to Exchange.
        writes = outlook.writes()
        assert writes > 0  # the mailbox's own counter (the earlier runs wrote)
        again = pipeline.sync("--full-refresh")
        counts = again["streams"]["contacts"]
        assert (counts["created"], counts["updated"], counts["conflicts"]) == (0, 0, 0)
        assert outlook.writes() == writes
        assert outlook.linked(olga).job_title == "Exchange Title"


@pytest.mark.spec("S6")
def test_s6_deletions_retire_links_and_are_never_propagated(request, protocol, tmp_path):
    with scenario(request, protocol, tmp_path, DELETE_MAILBOX) as (sell, outlook, pipeline):
        ray = person(sell, "Ray", "Diaz", email="ray@example.org", title="Engineer")
        sam = person(sell, "Sam", "Kerr", email="sam@example.org", title="Engineer")
        tia = person(sell, "Tia", "Moss", email="tia@example.org", title="Engineer")
        assert pipeline.sync()["streams"]["contacts"]["created"] == 3
        ray_x, sam_x, tia_x = (outlook.linked(r) for r in (ray, sam, tia))
        keys = {f"contact:{r['id']}": outlook.key(x) for r, x in ((ray, ray_x), (sam, sam_x))}

        # Ray deleted for good (Shift+Delete), Sam moved to Deleted Items (Delete) in Outlook;
        # Tia deleted in Sell. Ray and Sam then change in Sell, so the tap delivers them.
        outlook.delete(ray_x.id, to_trash=False)
        outlook.delete(sam_x.id, to_trash=True)
        sell.delete("contacts", tia["id"])
        sell.update("contacts", ray["id"], title="Changed")
        sell.update("contacts", sam["id"], title="Changed")

        report = pipeline.sync()
        counts = report["streams"]["contacts"]
        assert (counts["links_retired"], counts["created"], counts["updated"]) == (2, 0, 0)
        retired = {r["record_id"]: r["destination"] for r in report["links_retired"]}
        assert retired == keys
        # Not re-created in Exchange; Tia's Exchange contact is not deleted nor touched.
        assert set(outlook.by_link()) == {f"contact:{tia['id']}"}
        assert outlook.linked(tia).changekey == tia_x.changekey
        # Sell keeps Ray and Sam as they are (the sync never deletes there either).
        assert (
            sell.get("contacts", ray["id"])["title"]
            == sell.get("contacts", sam["id"])["title"]
            == "Changed"
        )

        # Later syncs, with more Sell changes and everything delivered again: still nothing
        # re-created, nothing written, Tia still in Exchange.
        sell.update("contacts", ray["id"], title="Changed again")
        writes = outlook.writes()
        assert writes > 0  # the mailbox's own counter (the earlier runs wrote)
        again = pipeline.sync("--full-refresh")
        counts = again["streams"]["contacts"]
        assert (counts["received"], counts["created"], counts["updated"]) == (2, 0, 0)
        assert counts["links_retired"] == 0
        assert outlook.writes() == writes
        assert set(outlook.by_link()) == {f"contact:{tia['id']}"}
        assert outlook.linked(tia).changekey == tia_x.changekey
