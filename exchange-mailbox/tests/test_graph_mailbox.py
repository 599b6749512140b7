"""``GraphMailbox`` is the ``interface.Mailbox`` over Microsoft Graph, end to end against
``exchange-sandbox --tls --app …`` (one store over EWS and Graph), with msal tokens.

SPEC S1.1 (private folders only), S13.1 (the same records over both protocols), S13.2 (the link
property is one MAPI named property; immutable ids), S13.3 (app-only, $batch, Retry-After),
S10.1 (caps reported), S10.3 (clear errors), S11 (no secret in any log), S3.2 over Graph.
"""

from __future__ import annotations

import inspect
import json
import logging
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from exchange_mailbox.errors import ExchangeSetupError
from exchange_mailbox.ews import EwsMailbox
from exchange_mailbox.graph import GraphMailbox
from exchange_mailbox.graph.contact_json import GraphContact
from exchange_mailbox.graph.errors import GraphError
from exchange_mailbox.interface import FolderRefusedError, ForeignIdError, Mailbox, id_protocol
from exchangelib import Contact
from exchangelib.indexed_properties import EmailAddress, PhoneNumber
from sandbox_common.process import SandboxProcess, running_sandbox

pytestmark = pytest.mark.subprocess

ADDRESS, PASSWORD = "graph@example.com", "pw-graph"
OTHER = "other@example.com"
TENANT, CLIENT, SECRET = "tenant-g", "client-g", "S3cret~graph-client"
READER, READER_SECRET = "reader-g", "S3cret~reader"
NO_SETTINGS, NO_SETTINGS_SECRET = "nosettings-g", "S3cret~nosettings"
SCOPED, SCOPED_SECRET = "scoped-g", "S3cret~scoped"
PRIVATE = ["Contacts", "Contacts/Clients", "Contacts/Partners", "Contacts/Clients/Key Accounts"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    args = [
        "--tls", "--seed", "30",
        "--mailbox", f"{ADDRESS}:{PASSWORD}", "--mailbox", f"{OTHER}:pw-other",
        "--app", f"{TENANT}:{CLIENT}:{SECRET}",
        "--app", f"{TENANT}:{READER}:{READER_SECRET}",
        "--app-permissions", f"{READER}:Contacts.Read,MailboxSettings.Read",
        "--app", f"{TENANT}:{NO_SETTINGS}:{NO_SETTINGS_SECRET}",
        "--app-permissions", f"{NO_SETTINGS}:Contacts.ReadWrite",
        "--app", f"{TENANT}:{SCOPED}:{SCOPED_SECRET}",
        "--app-scope", f"{SCOPED}:{OTHER}",
    ]  # fmt: skip
    with running_sandbox("exchange-sandbox", args) as sb:
        yield sb


def graph_config(sb: SandboxProcess, **extra: Any) -> dict[str, Any]:
    return {
        "primary_smtp_address": ADDRESS,
        "auth_type": "oauth2",
        "client_id": CLIENT,
        "client_secret": SECRET,
        "tenant_id": TENANT,
        "graph_url": sb.base_url,
        "authority_url": sb.base_url,
        "ca_bundle": sb.cafile,
        **extra,
    }


def ews_config(sb: SandboxProcess, **extra: Any) -> dict[str, Any]:
    return {
        "primary_smtp_address": ADDRESS,
        "password": PASSWORD,
        "service_endpoint": f"{sb.base_url}/EWS/Exchange.asmx",
        "server_version": "15.1.2507.6",
        "ca_bundle": sb.cafile,
        **extra,
    }


@pytest.fixture
def graph(sandbox: SandboxProcess) -> Iterator[GraphMailbox]:
    box = GraphMailbox(graph_config(sandbox))
    yield box
    box.close()


@pytest.fixture
def ews(sandbox: SandboxProcess) -> Iterator[EwsMailbox]:
    box = EwsMailbox(ews_config(sandbox))
    yield box
    box.close()


def graph_requests(sb: SandboxProcess) -> Counter[str]:
    """Graph requests by operation (batched sub-requests apart, under ``batched:``)."""
    stats = sb.stats()
    out: Counter[str] = Counter()
    for kind in ("reads", "writes"):
        for op, n in (stats.get(kind) or {}).items():
            if "/v1.0/" in op:
                out[op] += n
    for ops in (stats.get("batched") or {}).values():
        for op, n in ops.items():
            out[f"batched:{op}"] += n
    return out


def http_total(counts: Counter[str]) -> int:
    return sum(n for op, n in counts.items() if not op.startswith("batched:"))


def read_all(box: Mailbox, states: dict[str, str | None] | None = None):
    """Every folder's records and new sync states."""
    states = dict(states or {})
    records: list[dict[str, Any]] = []
    syncs = {}
    for folder in box.private_folders(known=list(states)):
        sync = box.folder_changes(folder, states.get(folder.id))
        records += list(sync.records())
        states[folder.id] = sync.sync_state
        syncs[folder.path] = sync
    return records, states, syncs


def _public(cls: type) -> set[str]:
    return {n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")}


@pytest.mark.spec("S13.1")
def test_graph_mailbox_implements_every_method_of_the_interface(graph: GraphMailbox) -> None:
    assert isinstance(graph, Mailbox)
    for name in _public(Mailbox):
        ours, theirs = getattr(GraphMailbox, name), getattr(Mailbox, name)
        assert list(inspect.signature(ours).parameters) == list(
            inspect.signature(theirs).parameters
        ), name
        assert list(inspect.signature(getattr(EwsMailbox, name)).parameters) == list(
            inspect.signature(theirs).parameters
        ), name


@pytest.mark.spec("S1.1")
def test_private_folders_only_and_one_request_when_the_tree_is_known(sandbox, graph, ews):
    sandbox.reset()
    folders = graph.private_folders()
    assert [f.path for f in folders] == PRIVATE
    assert [f.path for f in folders] == [f.path for f in ews.private_folders()]
    first = graph_requests(sandbox)
    assert set(first) <= {
        "POST /v1.0/$batch",
        "batched:GET /v1.0/users/{id}/contactFolders/{id}",
        "batched:GET /v1.0/users/{id}/contactFolders",
        "batched:GET /v1.0/users/{id}/contactFolders/{id}/childFolders",
    }, first
    assert http_total(first) == 3  # one batch per level of the tree
    sandbox.reset()
    again = GraphMailbox(graph_config(sandbox))
    assert [f.path for f in again.private_folders(known=[f.id for f in folders])] == PRIVATE
    assert http_total(graph_requests(sandbox)) == 1
    again.close()
    assert set(sandbox.stats()["by_tenant"]) == {ADDRESS}  # never another mailbox


@pytest.mark.spec("S13.1")
def test_records_are_the_ews_records_field_for_field(sandbox, graph, ews):
    """Same keys, same values; only the ids (Graph ids are not EWS ids) differ."""
    graph_records, _, _ = read_all(graph)
    ews_records, _, _ = read_all(ews)
    assert len(graph_records) == len(ews_records) > 10

    def comparable(record: dict[str, Any]) -> str:
        rest = {k: v for k, v in record.items() if k not in ("id", "change_key", "folder_id")}
        return json.dumps(rest, sort_keys=True)

    assert all(set(g) == set(ews_records[0]) for g in graph_records)
    # ids say their protocol (interface.id_protocol): Graph's carry "graph:", EWS's do not
    assert all(r["id"].startswith("graph:") for r in graph_records)
    assert not any(r["id"].startswith("graph:") for r in ews_records)
    assert Counter(map(comparable, graph_records)) == Counter(map(comparable, ews_records))


@pytest.mark.spec("S13.2", "S9")
def test_incremental_reads_links_deletions_and_a_quiet_round(sandbox, graph, ews):
    before, states, _ = read_all(graph)
    marker = uuid.uuid4().hex[:8]
    link = f"contact:{int(marker, 16)}"
    contacts = ews.account.contacts
    gone = next(c for c in contacts.all() if isinstance(c, Contact))
    gone_graph_id = next(r["id"] for r in before if r["display_name"] == gone.display_name)
    Contact(
        folder=contacts,
        display_name=f"Grace {marker}",
        given_name="Grace",
        surname=marker,
        email_addresses=[EmailAddress(label="EmailAddress2", email=f"{marker}@two.example")],
        phone_numbers=[PhoneNumber(label="BusinessFax", phone_number="+1 555 0100")],
        sell_link=link,
    ).save()
    gone.delete()
    sandbox.reset()
    records, states, _ = read_all(GraphMailbox(graph_config(sandbox)), states)
    counts = graph_requests(sandbox)
    new = [r for r in records if r.get("surname") == marker]
    assert len(new) == 1
    assert new[0]["sell_link"] == link
    assert new[0]["phone_numbers"] == {"BusinessFax": "+1 555 0100"}
    assert new[0]["email_address_1"] is None  # the slot stays the slot
    assert new[0]["email_address_2"] == f"{marker}@two.example"
    deleted = [r for r in records if r.get("_sdc_deleted_at")]
    assert [r["id"] for r in deleted] == [gone_graph_id]
    assert set(deleted[0]) == {"id", "folder_id", "_sdc_deleted_at"}
    assert counts["GET /v1.0/users/{id}/contactFolders/{id}/contacts/delta"] == len(PRIVATE)
    sandbox.reset()
    quiet, _, _ = read_all(GraphMailbox(graph_config(sandbox)), states)
    counts = graph_requests(sandbox)
    assert quiet == []
    assert counts["GET /v1.0/users/{id}/contactFolders/{id}/contacts/delta"] == len(PRIVATE)
    assert http_total(counts) == len(PRIVATE) + 1  # the folder tree, known: one batch


@pytest.mark.spec("S13.2")
def test_an_expired_delta_token_reads_the_folder_in_full(sandbox, graph):
    first, states, _ = read_all(graph)
    session = __import__("requests").Session()
    session.post(
        f"{sandbox.base_url}/_sandbox/graph/expire-delta-tokens",
        params={"mailbox": ADDRESS},
        verify=sandbox.cafile,
        timeout=10,
    ).raise_for_status()
    again, _, syncs = read_all(GraphMailbox(graph_config(sandbox)), states)
    assert all(s.stats.restarted for s in syncs.values() if s.stats.created_or_updated)
    assert sorted(r["id"] for r in again) == sorted(r["id"] for r in first)


@pytest.mark.spec("S13.2")
def test_ews_sync_states_start_a_full_delta_read(sandbox, graph, ews):
    _, ews_states, _ = read_all(ews)
    folders = graph.private_folders()
    by_path = {f.path: f.id for f in ews.private_folders()}
    folder = folders[0]
    sync = graph.folder_changes(folder, ews_states[by_path[folder.path]])
    records = list(sync.records())
    assert records
    assert sync.sync_state.startswith(f"{sandbox.base_url}/v1.0/")


@pytest.mark.spec("S13.3", "S13.2", "S10.1")
def test_batched_writes_one_outcome_each(sandbox, graph, ews):
    folder = graph.private_folders()[1]
    marker = uuid.uuid4().hex[:8]
    items = []
    for n in range(23):
        item = graph.new_item(folder.folder)
        graph.apply_fields(
            item,
            {
                "given_name": f"W{n}",
                "surname": marker,
                "display_name": f"W{n} {marker}",
                "email_addresses": {"EmailAddress1": f"w{n}.{marker}@example.com"},
                "phone_numbers": {"BusinessPhone": f"+1 555 {n:04d}", "BusinessFax": "+1 9"},
                "physical_addresses": {"Business": {"city": "Oslo", "zipcode": "0150"}},
                "body": "notes",
            },
        )
        graph.set_item_categories(item, ["Sell Person"])
        graph.set_item_link(item, f"contact:{n + 1}{marker[:3]}")
        items.append((f"k{n}", item))
    too_many = graph.new_item(folder.folder)
    graph.apply_fields(too_many, {"given_name": "Caps", "surname": marker})
    too_many.changes["businessPhones"] = ["+1 1", "+1 2", "+1 3"]
    sandbox.reset()
    outcomes = graph.create(folder.folder, [*items, ("caps", too_many)])
    assert http_total(graph_requests(sandbox)) == 2  # 23 creates in two $batch requests
    assert [outcomes[k].kind for k, _ in items] == ["ok"] * 23
    assert outcomes["caps"].kind == "rejected"
    assert "+1 3" in outcomes["caps"].reason
    assert "businessPhones" in outcomes["caps"].reason
    on_ews = {c.surname and c.given_name: c for c in ews.account.contacts.walk().all()
              if isinstance(c, Contact) and c.surname == marker}  # fmt: skip
    assert set(on_ews) == {f"W{n}" for n in range(23)}
    w0 = on_ews["W0"]
    assert w0.sell_link == f"contact:1{marker[:3]}"
    assert {p.label: p.phone_number for p in w0.phone_numbers} == {
        "BusinessPhone": "+1 555 0000",
        "BusinessFax": "+1 9",
    }
    assert w0.categories == ["Sell Person"]
    # updates: a stale If-Match is a conflict, a gone item not_found, the rest ok
    ids = [outcomes[k].item_id for k, _ in items[:3]]
    an_ews_id = next(c.id for c in on_ews.values())
    current = graph.fetch([*ids, "graph:AAkA-not-a-contact", an_ews_id])
    assert isinstance(current["graph:AAkA-not-a-contact"], GraphError)  # gone (404/400)
    assert isinstance(current[an_ews_id], ForeignIdError)  # not gone: another protocol's id
    assert isinstance(ews.fetch([ids[0]])[ids[0]], ForeignIdError)
    first, second, third = (current[i] for i in ids)
    assert graph.item_link(first) == f"contact:1{marker[:3]}"
    record = graph.item_record(first)
    assert record["email_address_1"] == f"w0.{marker}@example.com"
    assert record["physical_addresses"]["Business"]["postal_code"] == "0150"
    second.change_key = "stale"
    fields = graph.apply_fields(first, {"job_title": "Admiral"})
    graph.apply_fields(second, {"job_title": "Admiral"})
    graph.apply_fields(third, {"job_title": "Admiral"})
    on_ews["W2"].delete()
    result = graph.update([("a", first, fields), ("b", second, fields), ("c", third, fields)])
    assert (result["a"].kind, result["b"].kind, result["c"].kind) == (
        "ok",
        "conflict",
        "not_found",
    )
    assert result["a"].change_key != record["change_key"]
    assert id_protocol(result["a"].item_id) == "graph"
    found = graph.find_by_links([f.folder for f in graph.private_folders()], [
        f"contact:1{marker[:3]}", f"contact:2{marker[:3]}", "contact:404",
    ])  # fmt: skip
    assert {k: len(v) for k, v in found.items()} == {
        f"contact:1{marker[:3]}": 1,
        f"contact:2{marker[:3]}": 1,
    }
    graph.delete_copies(found[f"contact:2{marker[:3]}"])
    purged = graph.fetch([ids[1]])[ids[1]]
    private = {f.id for f in graph.private_folders()}
    assert isinstance(purged, Exception) or graph.item_record(purged)["folder_id"] not in private


@pytest.mark.spec("S13.2")
def test_a_long_round_lists_the_links_and_sends_again_what_changed_meanwhile(sandbox, graph, ews):
    """More than ``FEW`` contacts: the link and fax come from filtered listings (not one GET per
    contact), and a link set while the round is read comes out with the contact again."""
    folder = next(f for f in graph.private_folders() if f.path == "Contacts/Partners")
    marker = uuid.uuid4().hex[:8]
    items = []
    for n in range(130):
        item = graph.new_item(folder.folder)
        graph.apply_fields(item, {"given_name": f"L{n}", "surname": marker})
        if n % 10 == 0:
            graph.set_item_link(item, f"lead:{n + 1}")
        items.append((n, item))
    assert {o.kind for o in graph.create(folder.folder, items).values()} == {"ok"}
    sandbox.reset()
    sync = graph.folder_changes(folder, None)
    records = sync.records()
    first = next(records)
    late = next(
        c
        for c in ews.account.contacts.walk().all()
        if isinstance(c, Contact) and c.surname == marker and c.given_name == "L5"
    )
    late.sell_link = "lead:999"
    late.save(update_fields=["sell_link"])
    rest = [first, *records]
    counts = graph_requests(sandbox)
    ours = [r for r in rest if r.get("surname") == marker]
    assert {r["given_name"]: r["sell_link"] for r in ours if r["sell_link"]} == {
        **{f"L{n}": f"lead:{n + 1}" for n in range(0, 130, 10)},
        "L5": "lead:999",
    }
    assert [r["sell_link"] for r in ours if r["given_name"] == "L5"][-1] == "lead:999"
    assert counts["GET /v1.0/users/{id}/contactFolders/{id}/contacts/delta"] == 1
    assert counts["GET /v1.0/users/{id}/contactFolders/{id}/contacts"] == 4  # 2 listings, twice
    assert http_total(counts) <= 7


@pytest.mark.spec("S3.2")
def test_master_categories_edited_like_the_ews_list(sandbox, graph, ews):
    marker = uuid.uuid4().hex[:6]
    listed = graph.load_master_categories()
    listed.add(f"Sell Test {marker}", color=9)
    listed.add(f"Other {marker}", color=3)
    graph.save_master_categories(listed, exists=True)
    on_ews = {c.name: c for c in ews.master_categories()}
    assert on_ews[f"Sell Test {marker}"].color == 9
    listed = graph.load_master_categories()
    guid = next(c.guid for c in listed.categories() if c.name == f"Sell Test {marker}")
    # Graph cannot rename: the category is deleted and made again with the same colour
    assert listed.rename(guid, f"Sell Renamed {marker}") == f"Sell Test {marker}"
    assert listed.set_color(f"Other {marker}", 4)
    graph.save_master_categories(listed, exists=True)
    after = {c.name: c for c in graph.master_categories()}
    assert f"Sell Test {marker}" not in after
    assert after[f"Sell Renamed {marker}"].color == 9
    assert after[f"Other {marker}"].color == 4
    assert {c.name: c.color for c in ews.master_categories()}[f"Other {marker}"] == 4


@pytest.mark.spec("S1.2")
def test_carried_categories_reads_the_contacts_categories(sandbox, graph, ews):
    marker = uuid.uuid4().hex[:6]
    folder = graph.private_folders()[2]
    item = graph.new_item(folder.folder)
    graph.apply_fields(item, {"given_name": "Tagged", "surname": marker})
    graph.set_item_categories(item, [f"Imported {marker}"])
    assert graph.create(folder.folder, [("t", item)])["t"].kind == "ok"
    carried = graph.carried_categories(
        graph.private_folders(), [f"imported {marker}", "Nowhere At All"]
    )
    assert carried == [f"imported {marker}"]


# -- S10.3 and S11 ------------------------------------------------------------------------------
@pytest.mark.spec("S10.3", "S11")
def test_a_wrong_secret_names_client_secret_and_never_shows_it(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng~secret-value"
    box = GraphMailbox(graph_config(sandbox, client_secret=wrong))
    with pytest.raises(ExchangeSetupError) as caught:
        box.private_folders()
    assert caught.value.setting == "client_secret"
    assert "client_secret" in str(caught.value)
    assert wrong not in str(caught.value)
    assert wrong not in caplog.text


@pytest.mark.spec("S10.3")
def test_missing_permissions_are_named(sandbox):
    reader = GraphMailbox(graph_config(sandbox, client_id=READER, client_secret=READER_SECRET))
    reader.check(write=False)
    with pytest.raises(ExchangeSetupError, match=r"Contacts\.ReadWrite"):
        reader.check(write=True)
    # A token naming no MailboxSettings permission may hold it through RBAC for Applications:
    # the service's refusal of the first request says which permission is missing.
    no_settings = GraphMailbox(
        graph_config(sandbox, client_id=NO_SETTINGS, client_secret=NO_SETTINGS_SECRET)
    )
    no_settings.check(write=False)
    with pytest.raises(ExchangeSetupError, match=r"MailboxSettings\.Read\b"):
        no_settings.master_categories()
    no_settings.check(write=True)
    with pytest.raises(ExchangeSetupError, match=r"MailboxSettings\.ReadWrite") as caught:
        no_settings.load_master_categories()
    assert caught.value.setting == "client_id"


@pytest.mark.spec("S10.3", "S15.3")
def test_a_mailbox_outside_the_access_policy_is_named(sandbox):
    scoped = GraphMailbox(graph_config(sandbox, client_id=SCOPED, client_secret=SCOPED_SECRET))
    with pytest.raises(ExchangeSetupError, match="outside the application access policy") as c:
        scoped.private_folders()
    assert c.value.setting == "primary_smtp_address"
    assert ADDRESS in str(c.value)


@pytest.mark.spec("S10.3")
def test_unknown_tenant_and_untrusted_ca(sandbox):
    with pytest.raises(ExchangeSetupError) as caught:
        GraphMailbox(graph_config(sandbox, tenant_id="no-such-tenant")).private_folders()
    assert caught.value.setting == "tenant_id"
    config = graph_config(sandbox)
    del config["ca_bundle"]
    with pytest.raises(ExchangeSetupError) as caught:
        GraphMailbox(config).private_folders()
    assert caught.value.setting == "ca_bundle"


@pytest.mark.spec("S11")
def test_debug_logs_carry_no_secret_and_no_token(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    box = GraphMailbox(graph_config(sandbox))
    read_all(box)
    token = box.transport.tokens.token("https://graph.microsoft.com/.default")
    box.close()
    assert "Graph GET" in caplog.text  # the requests are logged, by method and path
    assert SECRET not in caplog.text
    assert token not in caplog.text
    assert token[:40] not in caplog.text


# -- EWS through the same msal token path ------------------------------------------------------
@pytest.mark.spec("S13.3")
def test_ews_oauth2_client_credentials_come_from_msal(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    box = EwsMailbox(
        {
            "primary_smtp_address": ADDRESS,
            "auth_type": "oauth2",
            "protocol": "ews",
            "client_id": CLIENT,
            "client_secret": SECRET,
            "tenant_id": TENANT,
            "authority_url": sandbox.base_url,
            "service_endpoint": f"{sandbox.base_url}/EWS/Exchange.asmx",
            "server_version": "15.1.2507.6",
            "ca_bundle": sandbox.cafile,
        }
    )
    before = sandbox.stats()["touched"].get("identity", {})
    assert [f.path for f in box.private_folders()] == PRIVATE
    records = [r for f in box.private_folders() for r in box.folder_changes(f, None).records()]
    assert records
    after = sandbox.stats()["touched"]["identity"]
    token_calls = "POST /{tenant}/oauth2/v2.0/token"
    assert after[token_calls] - before.get(token_calls, 0) == 1  # msal's cache serves the rest
    box.close()
    assert SECRET not in caplog.text
    wrong = EwsMailbox(
        {
            "primary_smtp_address": ADDRESS,
            "auth_type": "oauth2",
            "client_id": CLIENT,
            "client_secret": "Wr0ng~ews-secret",
            "tenant_id": TENANT,
            "authority_url": sandbox.base_url,
            "service_endpoint": f"{sandbox.base_url}/EWS/Exchange.asmx",
            "server_version": "15.1.2507.6",
            "ca_bundle": sandbox.cafile,
        }
    )
    with pytest.raises(ExchangeSetupError) as caught:
        wrong.private_folders()
    assert caught.value.setting == "client_secret"
    assert "Wr0ng~ews-secret" not in caplog.text


@pytest.mark.spec("S8", "S13.1")
def test_graph_contact_items_round_trip_without_a_server() -> None:
    item = GraphContact.from_json(
        {
            "id": "x",
            "changeKey": "k",
            "parentFolderId": "f",
            "businessPhones": ["+1 1", "+1 2"],
            "emailAddresses": [{"address": "a@example.com", "name": "Ann"}],
        }
    )
    touched = GraphMailbox.apply_fields(
        None,  # type: ignore[arg-type]
        item,
        {"phone_numbers": {"BusinessPhone": "+1 9"}, "email_addresses": {"EmailAddress1": None}},
    )
    assert touched == ["phone_numbers", "email_addresses"]
    assert item.body() == {"businessPhones": ["+1 9", "+1 2"], "emailAddresses": []}
    record = item.record()
    assert record["phone_numbers"] == {"BusinessPhone": "+1 9", "BusinessPhone2": "+1 2"}
    assert record["email_address_1"] is None


@pytest.mark.spec("S4.1", "S13.1")
def test_matching_records_and_category_search_agree_over_both(sandbox, graph, ews):
    """What a target matches on and re-tags by, read over Graph as over EWS."""

    def comparable(records):
        return Counter(
            json.dumps({k: v for k, v in r.items() if k != "id"}, sort_keys=True) for r in records
        )

    over_graph = list(graph.matching_records(graph.private_folders()))
    over_ews = list(ews.matching_records(ews.private_folders()))
    assert len(over_graph) == len(over_ews) > 10
    keys = set(over_ews[0])
    assert comparable({k: r.get(k) for k in keys} for r in over_graph) == comparable(over_ews)
    tagged_graph = graph.find_by_categories(graph.private_folders(), ["vip"])
    tagged_ews = ews.find_by_categories(ews.private_folders(), ["VIP"])
    assert len(tagged_graph) == len(tagged_ews) > 0
    assert all("VIP" in graph.item_categories(item) for item in tagged_graph)


@pytest.mark.spec("S1.3")
def test_folders_are_created_below_contacts_and_below_a_subfolder(sandbox, graph, ews):
    marker = uuid.uuid4().hex[:6]
    root = graph.private_folders()[0]
    top = graph.create_folder(root, f"Sell {marker}")
    below = graph.create_folder(top, "Leads")
    assert (top.path, below.path) == (f"Contacts/Sell {marker}", f"Contacts/Sell {marker}/Leads")
    assert {f"Contacts/Sell {marker}", f"Contacts/Sell {marker}/Leads"} <= {
        f.path for f in GraphMailbox(graph_config(sandbox)).private_folders()
    }
    item = graph.new_item(below.folder)
    graph.apply_fields(item, {"given_name": "In", "surname": marker})
    assert graph.create(below.folder, [("k", item)])["k"].kind == "ok"
    assert [f.path for f in ews.private_folders() if f.path.endswith(marker + "/Leads")]
    with pytest.raises(FolderRefusedError):
        graph.create_folder(root, f"Sell {marker}")  # the name is taken


@pytest.mark.spec("S3.1")
def test_category_lists_remove_and_set_guid_over_both(sandbox, graph, ews):
    marker = uuid.uuid4().hex[:6]
    over_ews = ews.load_master_categories() or ews.new_master_categories()
    over_ews.add(f"Guided {marker}", color=2)
    guid = "{" + str(uuid.uuid4()) + "}"
    assert over_ews.set_guid(f"Guided {marker}", guid)
    assert not over_ews.set_guid(f"Guided {marker}", guid)
    ews.save_master_categories(over_ews, exists=True)
    over_graph = graph.load_master_categories()
    assert not over_graph.set_guid(f"Guided {marker}", guid)  # Graph assigns ids itself
    assert over_graph.remove(guid)
    assert not over_graph.remove(guid)
    graph.save_master_categories(over_graph, exists=True)
    assert f"Guided {marker}" not in {c.name for c in ews.master_categories()}
