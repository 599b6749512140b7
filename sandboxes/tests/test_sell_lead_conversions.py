"""Lead conversions (resource page D-lc; sandboxes/README.md lists the UNVERIFIED choices).

``POST /v2/lead_conversions`` makes the contacts and the deal, ``GET`` lists the records newest
first with its filters, ``page`` (up to 50) and ``cursor`` paging; a lead converts once; what the
lead becomes is ``--converted-leads removed|kept``.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sandbox_common.process import running_sandbox
from sell_sandbox import tenant_key
from sell_sandbox.client import SellSandboxClient
from sell_sandbox.testing import make_token, session

pytestmark = pytest.mark.subprocess

LABELS = ("alice", "bob", "paging", "fate")
TOKENS = {label: make_token(f"lead conversions {label}") for label in LABELS}
SYNC_HEADER = "X-Basecrm-Device-UUID"
FIELDS = {
    "first_name": "Zoë",
    "last_name": "Łukaszewicz",
    "title": "Einkäuferin",
    "email": "zoe@example.com",
    "phone": "+49 30 1234",
    "mobile": "+49 170 1234",
    "fax": "+49 30 1235",
    "website": "https://example.com",
    "description": "Met at the trade fair",
    "industry": "Logistics",
    "address": {"line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115"},
    "tags": ["trade-fair"],
    "custom_fields": {"Exchange ID": "AAMk-lead"},
}


def _args(mode: str) -> list[str]:
    args = ["--rate-limit", "0", "--converted-leads", mode]
    for token in TOKENS.values():
        args += ["--token", token]
    return args


@pytest.fixture(scope="module")
def removing():
    with running_sandbox("sell-sandbox", _args("removed")) as sb:
        yield sb


@pytest.fixture(scope="module")
def keeping():
    with running_sandbox("sell-sandbox", _args("kept")) as sb:
        yield sb


def client(server, label: str = "alice") -> SellSandboxClient:
    return SellSandboxClient(server.base_url, TOKENS[label])


def post(server, data: object, label: str = "alice") -> requests.Response:
    http = session(TOKENS[label])
    return http.post(f"{server.base_url}/v2/lead_conversions", json={"data": data})


def list_raw(server, label: str = "alice", **params: object) -> requests.Response:
    return session(TOKENS[label]).get(f"{server.base_url}/v2/lead_conversions", params=params)


def errors_of(resp: requests.Response, status: int) -> set[tuple[str | None, str]]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["meta"]["logref"] == resp.headers["X-Request-Id"]
    assert body["meta"]["http_status"].startswith(str(status))
    return {(e["error"].get("field"), e["error"]["code"]) for e in body["errors"]}


def unique(stem: str) -> str:
    return f"{stem} {uuid.uuid4().hex[:8]}"


def test_person_lead_with_a_new_organisation_and_a_deal(removing) -> None:
    api = client(removing)
    company = unique("Nordwind GmbH")
    lead = api.create("leads", organization_name=company, **FIELDS)

    resp = post(removing, {"lead_id": lead["id"], "create_deal": True})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["meta"] == {"type": "lead_conversion"}
    conversion = body["data"]
    assert set(conversion) == {
        "id",
        "lead_id",
        "individual_id",
        "organization_id",
        "deal_id",
        "creator_id",
        "created_at",
    }
    assert conversion["lead_id"] == lead["id"]
    assert conversion["creator_id"] == api.get("users", "self")["id"]

    person = api.get("contacts", conversion["individual_id"])
    for name in ("first_name", "last_name", "title", "email", "phone", "mobile", "fax"):
        assert person[name] == FIELDS[name], name
    for name in ("website", "description", "industry", "tags"):
        assert person[name] == FIELDS[name], name
    assert person["address"] == {**dict.fromkeys(("state", "country")), **FIELDS["address"]}
    assert person["name"] == "Zoë Łukaszewicz"
    assert person["is_organization"] is False
    assert person["custom_fields"] == {}  # the lead's own custom fields do not carry over
    assert person["owner_id"] == lead["owner_id"]

    organization = api.get("contacts", conversion["organization_id"])
    assert organization["is_organization"] is True
    assert organization["name"] == company
    assert organization["email"] is None  # the person holds the lead's details
    assert person["contact_id"] == organization["id"]

    deal = api.get("deals", conversion["deal_id"])
    assert deal["contact_id"] == person["id"]
    assert deal["organization_id"] == organization["id"]
    assert deal["stage_id"] == api.stage_ids()["incoming"]
    assert deal["name"] == company
    assert person["prospect_status"] == "current"
    assert organization["prospect_status"] == "current"


def test_the_organisation_of_that_exact_name_is_joined(removing) -> None:
    api = client(removing)
    company = unique("Acme Corp")
    existing = api.create("contacts", is_organization=True, name=company)
    api.create("contacts", is_organization=True, name=company.upper())  # another name
    lead = api.create("leads", last_name="Joiner", organization_name=company)
    before = {c["id"] for c in api.all("contacts", is_organization="true")}

    conversion = api.convert_lead(lead["id"], create_deal=False)

    assert {c["id"] for c in api.all("contacts", is_organization="true")} == before
    assert conversion["organization_id"] == existing["id"]
    assert api.get("contacts", conversion["individual_id"])["contact_id"] == existing["id"]
    assert conversion["deal_id"] is None

    other = api.create("leads", last_name="Other", organization_name=company.lower())
    made = api.convert_lead(other["id"], create_deal=False)
    assert made["organization_id"] not in before  # names match exactly, not case-insensitively
    assert api.get("contacts", made["organization_id"])["name"] == company.lower()


def test_company_lead_becomes_an_organisation_with_the_details(removing) -> None:
    api = client(removing)
    company = unique("Café Olé SARL")
    lead = api.create(
        "leads", organization_name=company, email="hola@cafe.example", phone="+34 1", tags=["b2b"]
    )
    users = api.all("users")
    conversion = api.convert_lead(lead["id"], create_deal=True, owner_id=users[1]["id"])

    assert conversion["individual_id"] is None
    organization = api.get("contacts", conversion["organization_id"])
    assert (organization["name"], organization["email"]) == (company, "hola@cafe.example")
    assert (organization["phone"], organization["tags"]) == ("+34 1", ["b2b"])
    assert organization["owner_id"] == users[1]["id"]
    deal = api.get("deals", conversion["deal_id"])
    assert (deal["contact_id"], deal["owner_id"]) == (organization["id"], users[1]["id"])
    assert organization["prospect_status"] == "current"


def test_without_a_deal_the_contact_is_no_prospect(removing) -> None:
    api = client(removing)
    lead = api.create("leads", first_name="Solo", last_name=unique("Person"))
    conversion = api.convert_lead(lead["id"], create_deal=False)
    assert (conversion["organization_id"], conversion["deal_id"]) == (None, None)
    person = api.get("contacts", conversion["individual_id"])
    assert (person["prospect_status"], person["contact_id"]) == ("none", None)
    assert api.all("deals", contact_id=person["id"]) == []


def test_create_deal_defaults_to_true(removing) -> None:
    api = client(removing)
    lead = api.create("leads", last_name=unique("Default"))
    resp = post(removing, {"lead_id": lead["id"]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["deal_id"] is not None


def test_converting_a_lead_twice_is_422_already_exists(removing, keeping) -> None:
    for server in (removing, keeping):
        api = client(server)
        lead = api.create("leads", last_name=unique("Twice"))
        first = api.convert_lead(lead["id"], create_deal=True)
        again = post(server, {"lead_id": lead["id"], "create_deal": True})
        assert errors_of(again, 422) == {("/lead_id", "already_exists")}
        assert str(first["id"]) in again.json()["errors"][0]["error"]["details"]
        assert again.json()["errors"][0]["error"]["resource"] == "lead_conversion"
        assert api.lead_conversions(lead_id=lead["id"]) == [first]  # nothing made twice
        assert len(api.all("deals", contact_id=first["individual_id"])) == 1


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, {("/lead_id", "missing")}),
        ({"lead_id": "12"}, {("/lead_id", "invalid_type")}),
        ({"lead_id": 1, "create_deal": "yes"}, {("/lead_id", "incorrect_value"),
                                                ("/create_deal", "invalid_type")}),
        ({"lead_id": 1, "owner_id": "me"}, {("/lead_id", "incorrect_value"),
                                            ("/owner_id", "invalid_type")}),
        ({"lead_id": 1, "deal_id": 5, "colour": "red"}, {("/lead_id", "incorrect_value"),
                                                         ("/deal_id", "unknown"),
                                                         ("/colour", "unknown")}),
    ],
)  # fmt: skip
def test_bad_bodies_are_422_with_every_problem(removing, data, expected) -> None:
    assert errors_of(post(removing, data), 422) == expected


def test_the_body_needs_the_data_envelope(removing) -> None:
    http = session(TOKENS["alice"])
    url = f"{removing.base_url}/v2/lead_conversions"
    assert errors_of(http.post(url, json={"lead_id": 1}), 422) == {(None, "incorrect_payload")}
    assert errors_of(http.post(url, data=b"{nope"), 400) == {(None, "invalid_payload")}
    assert errors_of(http.post(url + "?lead_id=1", json={"data": {}}), 400) == {
        (None, "invalid_param")
    }


def _device_events(server, label: str, device: str) -> set[tuple[str, int, str]]:
    """One Sync API session for ``device``, acked: (type, id, event) of every item."""
    http = session(TOKENS[label])
    headers = {SYNC_HEADER: device}
    start = http.post(f"{server.base_url}/v2/sync/start", headers=headers)
    if start.status_code == 204:
        return set()
    queue = f"{server.base_url}/v2/sync/{start.json()['data']['id']}/queues/main"
    items: list[dict] = []
    while (page := http.get(queue, headers=headers)).status_code == 200:
        items += page.json()["items"]
    keys = [i["meta"]["sync"]["ack_key"] for i in items]
    http.post(f"{server.base_url}/v2/sync/ack", json={"data": {"ack_keys": keys}}, headers=headers)
    return {(i["meta"]["type"], i["data"]["id"], i["meta"]["sync"]["event_type"]) for i in items}


def test_removed_lead_is_gone_like_a_deleted_one(removing) -> None:
    api = client(removing, "fate")
    device = str(uuid.uuid4())
    _device_events(removing, "fate", device)
    lead = api.create("leads", last_name=unique("Removed"))
    note = api.create("notes", content="called twice", resource_type="lead", resource_id=lead["id"])
    assert ("lead", lead["id"], "created") in _device_events(removing, "fate", device)

    conversion = api.convert_lead(lead["id"], create_deal=True)

    with pytest.raises(requests.HTTPError, match="404"):
        api.get("leads", lead["id"])
    assert lead["id"] not in api.all_ids("leads")
    with pytest.raises(requests.HTTPError, match="404"):
        api.update("leads", lead["id"], title="late edit")
    moved = api.get("notes", note["id"])
    assert (moved["resource_type"], moved["resource_id"]) == (
        "contact",
        conversion["individual_id"],
    )
    events = _device_events(removing, "fate", device)
    assert ("lead", lead["id"], "deleted") in events
    assert ("contact", conversion["individual_id"], "created") in events
    assert ("deal", conversion["deal_id"], "created") in events


def test_kept_lead_stays_unchanged(keeping) -> None:
    api = client(keeping, "fate")
    device = str(uuid.uuid4())
    lead = api.create("leads", last_name=unique("Kept"), organization_name=unique("Kept Co"))
    note = api.create("notes", content="kept", resource_type="lead", resource_id=lead["id"])
    _device_events(keeping, "fate", device)

    conversion = api.convert_lead(lead["id"], create_deal=True)

    assert api.get("leads", lead["id"]) == lead
    assert lead["id"] in api.all_ids("leads")
    assert api.get("notes", note["id"])["resource_type"] == "lead"
    events = _device_events(keeping, "fate", device)
    assert not any(kind == "lead" for kind, _, _ in events), events
    assert ("contact", conversion["individual_id"], "created") in events


def test_list_is_newest_first_filtered_and_paged_by_page_or_cursor(removing) -> None:
    api = client(removing, "paging")
    made = []
    for n in range(7):
        lead = api.create("leads", last_name=f"Paged {n}", organization_name=f"Paged Co {n % 2}")
        made.append(api.convert_lead(lead["id"], create_deal=n % 3 == 0))
    newest_first = sorted(made, key=lambda c: c["id"], reverse=True)

    assert api.lead_conversions() == newest_first
    for name in ("lead_id", "individual_id", "organization_id", "deal_id"):
        wanted = made[3][name]
        expected = [c for c in newest_first if c[name] == wanted]
        assert api.lead_conversions(**{name: wanted}) == expected, name
    assert len(api.lead_conversions(organization_id=made[0]["organization_id"])) == 4
    assert api.lead_conversions(deal_id=1) == []

    page2 = list_raw(removing, "paging", page=2, per_page=3).json()
    assert [i["data"] for i in page2["items"]] == newest_first[3:6]
    assert {i["meta"]["type"] for i in page2["items"]} == {"lead_conversion"}
    links = page2["meta"]["links"]
    assert page2["meta"]["type"] == "collection"
    assert page2["meta"]["count"] == 3
    assert set(links) == {"self", "first_page", "prev_page", "next_page"}
    assert parse_qs(urlsplit(links["prev_page"]).query) == {"page": ["1"], "per_page": ["3"]}

    # next_page carries a cursor: following the links walks the whole list once
    seen: list[dict] = []
    body = list_raw(removing, "paging", per_page=3).json()
    while True:
        seen += [i["data"] for i in body["items"]]
        next_page = body["meta"]["links"].get("next_page")
        if next_page is None:
            break
        query = parse_qs(urlsplit(next_page).query)
        assert set(query) == {"cursor", "per_page"}
        body = session(TOKENS["paging"]).get(next_page).json()
    assert seen == newest_first
    assert (
        "next_page" not in list_raw(removing, "paging", page=3, per_page=3).json()["meta"]["links"]
    )
    assert list_raw(removing, "paging", page=4, per_page=3).json()["items"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"page": 51},
        {"page": 0},
        {"per_page": 101},
        {"sort_by": "id:asc"},
        {"cursor": "not-a-cursor"},
        {"cursor": "bGVhZF9jb252ZXJzaW9uczpiZWZvcmU6MTA", "page": 1},
        {"contact_id": 5},
        {"lead_id": "x"},
    ],
)
def test_bad_list_parameters_are_400(removing, params) -> None:
    assert errors_of(list_raw(removing, **params), 400) == {(None, "invalid_param")}


def test_page_50_is_still_allowed(removing) -> None:
    assert list_raw(removing, page=50).json()["items"] == []


def test_tenants_are_apart_and_conversions_count_as_writes(removing) -> None:
    alice, bob = client(removing, "alice"), client(removing, "bob")
    lead = alice.create("leads", last_name=unique("Private"))
    assert errors_of(post(removing, {"lead_id": lead["id"]}, label="bob"), 422) == {
        ("/lead_id", "incorrect_value")
    }
    removing.reset()
    alice.convert_lead(lead["id"], create_deal=False)
    alice.lead_conversions()
    assert bob.lead_conversions() == []
    stats = removing.stats()
    assert stats["writes"] == {"POST /v2/lead_conversions": 1}
    assert stats["reads"] == {"GET /v2/lead_conversions": 2}
    assert alice.writes() == {"POST /v2/lead_conversions": 1}
    assert stats["by_tenant"][tenant_key(TOKENS["bob"])].get("writes", {}) == {}
