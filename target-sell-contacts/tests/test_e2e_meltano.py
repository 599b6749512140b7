"""Acceptance through real ``meltano run tap-exchange-contacts target-sell-contacts``.

Each test starts its own Sell and Exchange sandboxes and its own Meltano system directory, seeds
both sides, runs the pipeline and looks at Sell, the run report and ``/_sandbox/stats``. The first
test runs with the tap on EWS and on Microsoft Graph (exchange-sandbox, msal client credentials
over TLS; the user's contacts made over EWS as Outlook makes them, so the Graph run's ids are
compared translated).
"""

from __future__ import annotations

import json
from pathlib import Path

import exchangelib
import pytest
from ews_sandbox.testing import exchange_settings
from exchange_mailbox.ews.connection import connect
from exchangelib import Contact
from exchangelib.indexed_properties import EmailAddress, PhoneNumber
from graph_sandbox.testing import EWS_ONLY_SETTINGS, graph_id, graph_settings, plugin_env
from sandbox_common.meltano_project import MeltanoProject
from sandbox_common.process import running_sandbox
from sell_sandbox.client import SellSandboxClient

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano")]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2" + "m" * 62
MAILBOX = "owner@e2e-sell.example"
PASSWORD = "e2e-sell-password"
RUN = ("--environment=demo", "run", "tap-exchange-contacts", "target-sell-contacts")
# Microsoft Graph: an app registration of exchange-sandbox, and the tests' own delegated token.
APP = {"tenant": "e2e-sell-tenant", "client_id": "e2e-sell-app", "secret": "S3cret~e2e-sell-0"}
DELEGATED = "delegated-token-for-id-translation"


class Pipeline:
    def __init__(self, sell, ews, workdir: Path, protocol: str = "ews", **settings: str) -> None:
        self.sell, self.ews, self.api = sell, ews, SellSandboxClient(sell.base_url, TOKEN)
        self.protocol = protocol
        self.report_path = workdir / "report.json"
        env = {
            "DEMO_SELL_URL": sell.base_url,
            "DEMO_SELL_TOKEN": TOKEN,
            "DEMO_EWS_ENDPOINT": f"{ews.base_url}/EWS/Exchange.asmx",
            "DEMO_EWS_MAILBOX": MAILBOX,
            "DEMO_EWS_PASSWORD": PASSWORD,
            "TAP_EXCHANGE_CONTACTS_CATEGORIES": json.dumps(["Clients"]),
            "TARGET_SELL_CONTACTS_REPORT_PATH": str(self.report_path),
            "TARGET_SELL_CONTACTS_LEDGER_URL": f"sqlite:///{workdir / 'ledger.db'}",
            **{f"TARGET_SELL_CONTACTS_{k.upper()}": v for k, v in settings.items()},
        }
        if protocol == "graph":
            tap_settings = graph_settings(ews, **APP)
            env |= plugin_env("TAP_EXCHANGE_CONTACTS", tap_settings, blank=EWS_ONLY_SETTINGS)
        self.project = MeltanoProject.isolated(ROOT, workdir, env=env)
        tls = {"ca_bundle": str(ews.cafile)} if ews.cafile else {}
        self.account = connect({**exchange_settings(ews, MAILBOX, PASSWORD), **tls})

    def key(self, item: Contact) -> str:
        """The id the sync knows ``item`` by (its Graph id when the tap uses Graph)."""
        if self.protocol == "graph":
            return graph_id(self.ews, MAILBOX, DELEGATED, item.id)
        return item.id

    def contact(self, **fields) -> Contact:
        emails = fields.pop("emails", [])
        phones = fields.pop("phones", {})
        names = [fields.get("given_name"), fields.get("surname")]
        fields.setdefault("display_name", " ".join(n for n in names if n) or "?")
        contact = Contact(
            account=self.account,
            folder=self.account.contacts,
            email_addresses=[
                EmailAddress(label=f"EmailAddress{i}", email=e) for i, e in enumerate(emails, 1)
            ]
            or None,
            phone_numbers=[PhoneNumber(label=k, phone_number=v) for k, v in phones.items()] or None,
            **fields,
        )
        contact.save()
        return contact

    def run(self, *extra: str) -> dict:
        self.log = self.project.run(*RUN[:2], *extra, *RUN[2:]).stderr
        return json.loads(self.report_path.read_text())


@pytest.fixture
def pipeline_factory(tmp_path):
    stack = []

    def start(sell_args=(), protocol: str = "ews", **settings) -> Pipeline:
        sell_cm = running_sandbox(
            "sell-sandbox", ["--rate-limit", "0", "--token", TOKEN, *sell_args]
        )
        # --seed 0: the user categories (Clients, Partners, VIP) and folders, no contacts.
        ews_args = ["--seed", "0", "--mailbox", f"{MAILBOX}:{PASSWORD}"]
        exchange = "ews-sandbox"
        if protocol == "graph":  # the same store over EWS and Graph, as Exchange Online
            exchange = "exchange-sandbox"
            ews_args += ["--tls", "--app", ":".join(APP.values())]
            ews_args += ["--oauth-token", f"{MAILBOX}:{DELEGATED}"]
        ews_cm = running_sandbox(exchange, ews_args)
        stack.extend([sell_cm, ews_cm])
        sell, ews = sell_cm.__enter__(), ews_cm.__enter__()
        return Pipeline(sell, ews, tmp_path, protocol, **settings)

    yield start
    exchangelib.close_connections()
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


@pytest.mark.spec("S1.2", "S4.1", "S4.3", "S5.3", "S7.2", "S8", "S10.1", "S12")
@pytest.mark.parametrize("protocol", ["ews", "graph"])
def test_first_sync_scope_matching_rejection_and_replay(pipeline_factory, protocol) -> None:
    p = pipeline_factory(protocol=protocol)
    ann_sell = p.api.create(
        "contacts",
        last_name="Archer",
        first_name="Ann",
        email="ann@acme.example",
        phone="+1 212 555 0100",
    )
    alan_sell = p.api.create("contacts", last_name="Turing", email="alan@bletchley.example")
    ann = p.contact(
        given_name="Ann",
        surname="Archer",
        job_title="CTO",
        emails=[" ANN@Acme.example "],
        categories=["Clients"],
    )
    alan = p.contact(
        given_name="Alan",
        surname="Turing",
        emails=["alan@bletchley.example"],
        categories=["Clients"],
    )
    alan_dup = p.contact(
        given_name="Alan",
        surname="Turing",
        emails=["alan@bletchley.example"],
        categories=["Clients", "VIP"],
    )
    p.contact(given_name="Pat", surname="Private", emails=["pat@home.example"], categories=["VIP"])
    bad = p.contact(given_name="Nolastname", categories=["Clients"])
    dora = p.contact(
        given_name="Dora",
        surname="Diaz",
        company_name="Diaz & Co",
        phones={"MobilePhone": "+1 646 555 0142"},
        categories=["Clients"],
    )

    report = p.run()
    counts = report["streams"]["contacts"]
    people = {(c["first_name"], c["last_name"], c["email"]): c for c in p.api.people()}
    # S1.2: only the selected category reaches Sell.
    assert not any(last == "Private" for _, last, _ in people)
    # S4.1 / S5.3: Ann matched by e-mail; Sell's phone kept, Exchange's title filled in.
    got = p.api.get("contacts", ann_sell["id"])
    assert (got["title"], got["phone"]) == ("CTO", "+1 212 555 0100")
    assert got["custom_fields"]["Exchange ID"] == p.key(ann)
    # S4.3: the duplicate Alan became its own contact; the first linked to the existing one.
    turings = [c for c in p.api.people() if c["last_name"] == "Turing"]
    assert len(turings) == 2
    assert {c["custom_fields"].get("Exchange ID") for c in turings} == {
        p.key(alan),
        p.key(alan_dup),
    }
    assert alan_sell["id"] in {c["id"] for c in turings}
    # S8: the company became an organisation.
    diaz = next(c for c in p.api.people() if c["last_name"] == "Diaz")
    assert p.api.get("contacts", diaz["contact_id"])["name"] == "Diaz & Co"
    assert diaz["custom_fields"]["Exchange ID"] == p.key(dora)
    # S10.1: the invalid record is reported with Sell's reason, all others landed.
    assert counts["rejected"] == 1
    assert report["rejected"][0]["record_id"] == p.key(bad)
    assert "last_name" in report["rejected"][0]["reason"]
    assert counts["matched"] == 2
    assert counts["created"] == 2
    assert "target-sell-contacts report" in p.log  # S12: logged as well as written

    # S7.2: the same input again (full refresh of the tap) writes nothing to Sell.
    p.sell.reset()
    again = p.run("--full-refresh")
    assert p.api.writes() == {}
    assert again["streams"]["contacts"]["received"] >= 5


@pytest.mark.spec("S5.1", "S5.2", "S5.4", "S6")
@pytest.mark.parametrize("custom_fields", [True, False], ids=["custom-field", "note-fallback"])
def test_merges_conflicts_and_deletions(pipeline_factory, custom_fields, wait_past) -> None:
    if custom_fields:
        p = pipeline_factory()
    else:  # no custom fields in the account: no exchange id, lost values go to notes
        p = pipeline_factory(["--no-custom-fields"], exchange_id_field="")
    kim = p.contact(
        given_name="Kim",
        surname="King",
        job_title="Dev",
        emails=["kim@x.example"],
        categories=["Clients"],
    )
    lou = p.contact(
        given_name="Lou",
        surname="Lane",
        job_title="Dev",
        emails=["lou@x.example"],
        categories=["Clients"],
    )
    gone = p.contact(
        given_name="Gus", surname="Gone", emails=["gus@x.example"], categories=["Clients"]
    )
    bye = p.contact(
        given_name="Bea", surname="Bye", emails=["bea@x.example"], categories=["Clients"]
    )
    # Outlook's Delete moves the contact to Deleted Items: gone for the sync all the same.
    trashed = p.contact(
        given_name="Tom", surname="Trash", emails=["tom@x.example"], categories=["Clients"]
    )
    p.run()
    sell = {c["email"]: c for c in p.api.people()}
    edited = p.api.update(
        "contacts", sell["kim@x.example"]["id"], title="Sell title", twitter="@kim"
    )
    p.api.update("contacts", sell["lou@x.example"]["id"], industry="Retail")
    p.api.delete("contacts", sell["gus@x.example"]["id"])
    # Exchange edits happen after the Sell edit, so Exchange is the newer side (S5.2); Sell
    # stamps whole seconds and a tie goes to Sell, so let the clock pass that second first.
    wait_past(edited["updated_at"])
    kim.job_title = "Exchange title"
    kim.save(update_fields=["job_title"])
    lou.job_title = "Lead Dev"
    lou.save(update_fields=["job_title"])
    gone.job_title = "Edited after Sell deleted it"
    gone.save(update_fields=["job_title"])
    gone_ids = {bye.id, trashed.id}  # exchangelib forgets an item's id once it is deleted
    bye.delete()
    trashed.move_to_trash()

    report = p.run()
    counts = report["streams"]["contacts"]
    kim_sell = p.api.get("contacts", sell["kim@x.example"]["id"])
    lou_sell = p.api.get("contacts", sell["lou@x.example"]["id"])
    # S5.1: one-sided change; S5.4: Sell-only fields untouched.
    assert (lou_sell["title"], lou_sell["industry"]) == ("Lead Dev", "Retail")
    # S5.2: conflict, newer Exchange wins, the Sell value is kept.
    assert (kim_sell["title"], kim_sell["twitter"]) == ("Exchange title", "@kim")
    if custom_fields:
        assert "Sell title" in kim_sell["custom_fields"]["Overwritten values"]
    else:
        notes = p.api.all("notes", resource_type="contact", resource_id=kim_sell["id"])
        assert [n for n in notes if "Sell title" in n["content"]]
    assert counts["conflicts"] == 1
    assert report["conflicts"][0]["overwritten"] == "Sell title"
    # S6: deleted in Sell -> not re-created; deleted in Exchange -> Sell record kept.
    emails = {c["email"] for c in p.api.people()}
    assert "gus@x.example" not in emails
    assert "bea@x.example" in emails
    assert "tom@x.example" in emails
    assert counts["links_retired"] == 3
    retired = {r["record_id"] for r in report["links_retired"]}
    assert gone_ids <= retired
    assert counts["created"] == 0


@pytest.mark.spec("S4.2")
def test_several_candidates_most_recent_wins_and_the_choice_is_logged(
    pipeline_factory, wait_past
) -> None:
    """S4.2 through Meltano: one Exchange contact, three Sell contacts sharing its e-mail.

    The middle-created one is updated last, so neither "first" nor "last created" can pass.
    """
    p = pipeline_factory()
    first, middle, last = (
        p.api.create("contacts", last_name="Fox", email=email)
        for email in ("fox@x.example", "FOX@x.example", "Fox@X.example")
    )
    stamps: dict[int, str] = {}
    previous = ""
    for number, contact in enumerate((first, last, middle)):
        if previous:  # Sell stamps whole seconds: keep the three updates in distinct seconds
            wait_past(previous)
        previous = p.api.update("contacts", contact["id"], title=f"t{number}")["updated_at"]
        stamps[contact["id"]] = previous
    finn = p.contact(
        given_name="Finn", surname="Fox", emails=["fox@x.example"], categories=["Clients"]
    )

    report = p.run()
    [choice] = report["matches"]
    assert choice["record_id"] == finn.id
    assert choice["matched_id"] == str(middle["id"])
    assert choice["alternatives"] == [str(last["id"]), str(first["id"])]  # most recent first
    # the choice is in the Meltano log too, with the others named
    [line] = [x for x in p.log.splitlines() if "matched Sell contact" in x and finn.id in x]
    for contact in (first, middle, last):
        assert str(contact["id"]) in line
    # one to one: only the winner is linked; the others are not changed; nothing was created
    assert p.api.get("contacts", middle["id"])["custom_fields"]["Exchange ID"] == finn.id
    for loser in (first, last):
        now = p.api.get("contacts", loser["id"])
        assert "Exchange ID" not in now["custom_fields"]
        assert now["updated_at"] == stamps[loser["id"]]
    assert len([c for c in p.api.people() if c["last_name"] == "Fox"]) == 3
