"""Status derivation (§13 item 9), tenants, stats/reset and ``--seed`` determinism."""

from __future__ import annotations

import collections

import pytest
import requests
from sandbox_common.process import running_sandbox
from sell_sandbox import tenant_key
from sell_sandbox.testing import make_token, session

pytestmark = pytest.mark.subprocess

ALICE, BOB = make_token("alice"), make_token("bob")


@pytest.fixture(scope="module")
def sell_server():
    args = ["--token", ALICE, "--token", BOB, "--seed", "200", "--rate-limit", "0"]
    with running_sandbox("sell-sandbox", args) as sb:
        yield sb


def _all(http, url, **params):
    items, page = [], 1
    while page < 50:
        got = http.get(url, params={**params, "per_page": 100, "page": page}).json()["items"]
        if not got:
            return items
        items += [i["data"] for i in got]
        page += 1
    raise AssertionError("too many pages")


def _stage_ids(http, base):
    return {s["category"]: s["id"] for s in _all(http, f"{base}/v2/stages")}


def test_statuses_follow_deals(sell_server):
    http, base = session(ALICE), sell_server.base_url
    stages = _stage_ids(http, base)
    contact = http.post(f"{base}/v2/contacts", json={"data": {"last_name": "Status"}}).json()[
        "data"
    ]
    cid = contact["id"]
    assert contact["billing_address"] is None

    def current():
        return http.get(f"{base}/v2/contacts/{cid}").json()["data"]

    deal = http.post(f"{base}/v2/deals", json={"data": {"name": "D1", "contact_id": cid}}).json()[
        "data"
    ]
    assert deal["stage_id"] == stages["incoming"]  # first stage of the default pipeline
    after_open = current()
    assert (after_open["prospect_status"], after_open["customer_status"]) == ("current", "none")
    assert after_open["updated_at"] >= contact["updated_at"]

    http.put(f"{base}/v2/deals/{deal['id']}", json={"data": {"stage_id": stages["lost"]}})
    after_lost = current()
    assert (after_lost["prospect_status"], after_lost["customer_status"]) == ("lost", "none")
    assert after_lost["updated_at"] >= after_open["updated_at"]

    http.put(f"{base}/v2/deals/{deal['id']}", json={"data": {"stage_id": stages["won"]}})
    won = current()
    assert won["customer_status"] == "current"
    assert won["prospect_status"] == "none"

    http.put(f"{base}/v2/deals/{deal['id']}", json={"data": {"stage_id": stages["unqualified"]}})
    assert current()["prospect_status"] == "lost"
    assert current()["customer_status"] == "none"

    # Past customer exists only when set explicitly, and survives deal changes without a win.
    resp = http.put(f"{base}/v2/contacts/{cid}", json={"data": {"customer_status": "past"}})
    assert resp.json()["data"]["customer_status"] == "past"
    http.post(f"{base}/v2/deals", json={"data": {"name": "D2", "contact_id": cid}})
    again = current()
    assert (again["prospect_status"], again["customer_status"]) == ("current", "past")
    billing = {"billing_address": {"city": "Kraków"}}
    resp = http.put(f"{base}/v2/contacts/{cid}", json={"data": billing})
    assert resp.json()["data"]["billing_address"]["city"] == "Kraków"  # a prospect may have one


def test_deleting_a_deal_rederives(sell_server):
    http, base = session(ALICE), sell_server.base_url
    cid = http.post(f"{base}/v2/contacts", json={"data": {"last_name": "Del"}}).json()["data"]["id"]
    deal = http.post(f"{base}/v2/deals", json={"data": {"name": "x", "contact_id": cid}}).json()
    assert http.get(f"{base}/v2/contacts/{cid}").json()["data"]["prospect_status"] == "current"
    assert http.delete(f"{base}/v2/deals/{deal['data']['id']}").status_code == 204
    assert http.get(f"{base}/v2/contacts/{cid}").json()["data"]["prospect_status"] == "none"


def test_tenants_are_isolated(sell_server):
    alice, bob, base = session(ALICE), session(BOB), sell_server.base_url
    mine = alice.post(f"{base}/v2/contacts", json={"data": {"last_name": "Mine"}}).json()["data"]
    assert bob.get(f"{base}/v2/contacts/{mine['id']}").status_code == 404
    assert bob.put(f"{base}/v2/contacts/{mine['id']}", json={"data": {}}).status_code == 404
    assert not _all(bob, f"{base}/v2/contacts", last_name="Mine")
    alice_ids = {c["id"] for c in _all(alice, f"{base}/v2/contacts")}
    bob_contacts = _all(bob, f"{base}/v2/contacts")
    assert not alice_ids & {c["id"] for c in bob_contacts}
    assert len(bob_contacts) == 200  # Bob's seeded data is untouched by Alice's writes


def test_stats_by_operation_and_tenant_and_reset(sell_server):
    http, base = session(BOB), sell_server.base_url
    requests.post(f"{base}/_sandbox/reset", timeout=10).raise_for_status()
    first = http.get(f"{base}/v2/contacts", params={"per_page": 1}).json()["items"][0]["data"]
    http.get(f"{base}/v2/contacts/{first['id']}")
    http.put(f"{base}/v2/contacts/{first['id']}", json={"data": {"title": "x"}})
    http.post(
        f"{base}/v2/contacts/upsert",
        params={"email": "new@x.org"},
        json={"data": {"last_name": "N"}},
    )
    requests.get(f"{base}/v2/users/self", timeout=10)  # 401: counted, but for no tenant
    stats = requests.get(f"{base}/_sandbox/stats", timeout=10).json()
    assert stats["reads"] == {
        "GET /v2/contacts": 1,
        "GET /v2/contacts/{id}": 1,
        "GET /v2/users/self": 1,
    }
    assert stats["writes"] == {"PUT /v2/contacts/{id}": 1, "POST /v2/contacts/upsert": 1}
    mine = stats["by_tenant"][tenant_key(BOB)]
    assert mine["total_reads"] == 2
    assert mine["total_writes"] == 2
    assert tenant_key(ALICE) not in stats["by_tenant"]
    assert stats["statuses"] == {"200": 4, "401": 1}
    assert BOB not in str(stats)  # the tenant key is not the secret
    requests.post(f"{base}/_sandbox/reset", timeout=10).raise_for_status()
    assert requests.get(f"{base}/_sandbox/stats", timeout=10).json()["total"] == 0


def test_seeded_data_is_realistic(sell_server):
    http, base = session(BOB), sell_server.base_url
    contacts = _all(http, f"{base}/v2/contacts")
    seeded = [c for c in contacts if c["created_at"] < "2025"]
    assert len(seeded) == 200
    companies = [c for c in seeded if c["is_organization"]]
    assert len(companies) == 40
    people = [c for c in seeded if not c["is_organization"]]
    company_ids = {c["id"] for c in companies}
    assert sum(p["contact_id"] in company_ids for p in people) > len(people) / 2
    names = " ".join(c["name"] for c in seeded)
    for char in ("é", "ü", "ł", "ñ"):
        assert char in names.lower() + names
    assert any("\u4e00" <= ch <= "\u9fff" for ch in names)
    assert any(c["email"] is None for c in people)
    twins = collections.Counter((p["first_name"], p["last_name"], p["email"]) for p in people)
    assert max(twins.values()) >= 2
    assert {c["prospect_status"] for c in seeded} == {"none", "current", "lost"}
    assert "current" in {c["customer_status"] for c in seeded}
    assert len(_all(http, f"{base}/v2/leads")) == 50
    deals = _all(http, f"{base}/v2/deals")
    assert len(deals) >= 100
    assert len({d["stage_id"] for d in deals}) == 7


def test_seed_is_deterministic_per_token(sell_server):
    base = sell_server.base_url
    with running_sandbox(
        "sell-sandbox", ["--token", ALICE, "--token", BOB, "--seed", "200"]
    ) as other:
        for token in (BOB,):
            ours = _all(session(token), f"{base}/v2/leads")
            theirs = _all(session(token), f"{other.base_url}/v2/leads")
            assert ours == theirs
        alice_theirs = _all(session(ALICE), f"{other.base_url}/v2/leads")
    bob_theirs = _all(session(BOB), f"{base}/v2/leads")
    assert [lead["email"] for lead in alice_theirs] != [lead["email"] for lead in bob_theirs]
