"""Graph writes: PATCH, ETags, deletes, folders, master categories, $batch, id translation.

Driven by msgraph-sdk where it exposes the call, plain requests otherwise, exchangelib for the
EWS view of the same mailbox. SPEC S3 (master categories over both protocols), S13.3 ($batch).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from graph_sandbox.testing import (
    CLIENT_ID,
    SECRET,
    TENANT,
    app_token,
    graph_client,
    http_session,
)
from lxml import etree
from msgraph.generated.models.category_color import CategoryColor
from msgraph.generated.models.contact_folder import ContactFolder
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.outlook_category import OutlookCategory

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.subprocess,
]
USER, PASSWORD = "demo@example.com", "demo-password"
DELEGATED = "delegated-token-0123456789"
ARGS = ["--tls", "--seed", "8", "--mailbox", f"{USER}:{PASSWORD}",
        "--oauth-token", f"{USER}:{DELEGATED}",
        "--app", f"{TENANT}:{CLIENT_ID}:{SECRET}"]  # fmt: skip


@pytest.fixture
def graph(sandbox):
    """(session, headers, base url of the user) for plain requests with an app token."""
    headers = {"Authorization": f"Bearer {app_token(sandbox)}"}
    return http_session(sandbox), headers, f"{sandbox.base_url}/v1.0/users/{USER}"


def run(coro):
    return asyncio.run(coro)


def test_patch_is_partial_null_clears_and_caps_are_enforced(graph, ews):
    session, headers, base = graph
    marker = uuid.uuid4().hex[:8]
    created = session.post(
        f"{base}/contacts",
        json={"givenName": "Ada", "surname": marker, "jobTitle": "Engineer",
              "businessPhones": ["+1 1", "+1 2"], "homeAddress": {"city": "London"}},
        headers=headers, timeout=10,
    ).json()  # fmt: skip
    url = f"{base}/contacts/{created['id']}"
    patched = session.patch(
        url, json={"jobTitle": None, "businessPhones": ["+1 9"], "homeAddress": {"street": "1 Rd"}},
        headers=headers, timeout=10,
    )  # fmt: skip
    assert patched.status_code == 200
    body = patched.json()
    assert body["givenName"] == "Ada"
    assert body["jobTitle"] is None
    assert body["businessPhones"] == ["+1 9"]
    assert body["homeAddress"] == {"street": "1 Rd", "city": "London"}
    assert body["changeKey"] != created["changeKey"]
    over_ews = ews.contacts.get(surname=marker)
    assert over_ews.job_title is None
    assert {p.label: p.phone_number for p in over_ews.phone_numbers} == {"BusinessPhone": "+1 9"}
    emails = [{"address": f"{n}@example.com"} for n in range(4)]
    for body_json in ({"emailAddresses": emails}, {"businessPhones": ["1", "2", "3"]}):
        too_many = session.patch(url, json=body_json, headers=headers, timeout=10)
        assert too_many.status_code == 400
        assert "exceeds the max allowed value" in too_many.json()["error"]["message"]
    for bad in ({"id": "x"}, {"nickname": "typo"}, {"givenName": 5}):
        assert session.patch(url, json=bad, headers=headers, timeout=10).status_code == 400


def test_etag_and_if_match(graph):
    session, headers, base = graph
    created = session.post(
        f"{base}/contacts", json={"givenName": "Etag"}, headers=headers, timeout=10
    )
    etag = created.json()["@odata.etag"]
    assert etag == f'W/"{created.json()["changeKey"]}"'
    assert created.headers["ETag"] == etag
    url = f"{base}/contacts/{created.json()['id']}"
    first = session.patch(
        url, json={"surname": "One"}, headers={**headers, "If-Match": etag}, timeout=10
    )
    assert first.status_code == 200
    stale = session.patch(
        url, json={"surname": "Two"}, headers={**headers, "If-Match": etag}, timeout=10
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "ErrorIrresolvableConflict"
    stale_delete = session.delete(url, headers={**headers, "If-Match": etag}, timeout=10)
    assert stale_delete.status_code == 412
    fresh = session.delete(
        url, headers={**headers, "If-Match": first.json()["@odata.etag"]}, timeout=10
    )
    assert fresh.status_code == 204


def test_delete_goes_to_deleted_items_and_permanent_delete_to_purges(graph, ews):
    session, headers, base = graph
    marker = uuid.uuid4().hex[:8]
    for surname in (f"soft-{marker}", f"hard-{marker}"):
        session.post(f"{base}/contacts", json={"surname": surname}, headers=headers, timeout=10)
    soft = ews.contacts.get(surname=f"soft-{marker}")
    found = session.get(
        f"{base}/contacts",
        params={"$filter": "emailAddresses/any(a:a/address eq 'nobody@example.com')"},
        headers=headers,
        timeout=10,
    )
    assert found.json()["value"] == []
    ids = {
        c["surname"]: c["id"]
        for c in session.get(f"{base}/contacts?$top=1000", headers=headers, timeout=10).json()[
            "value"
        ]
        if c["surname"] and marker in c["surname"]
    }
    assert session.delete(f"{base}/contacts/{ids[f'soft-{marker}']}", headers=headers).ok
    purge = session.post(
        f"{base}/contacts/{ids[f'hard-{marker}']}/permanentDelete", headers=headers, timeout=10
    )
    assert purge.status_code == 204
    assert ews.trash.get(id=soft.id).surname == f"soft-{marker}"
    assert not ews.contacts.filter(surname=f"hard-{marker}").exists()
    assert not ews.trash.filter(surname=f"hard-{marker}").exists()


def test_folders_create_children_and_refuse_duplicates(sandbox, ews):
    name = f"Sync {uuid.uuid4().hex[:6]}"

    async def create():
        client = graph_client(sandbox)
        folders = client.users.by_user_id(USER).contact_folders
        made = await folders.post(ContactFolder(display_name=name))
        child = await folders.by_contact_folder_id(made.id).child_folders.post(
            ContactFolder(display_name="Inner")
        )
        try:
            await folders.post(ContactFolder(display_name=name.upper()))
        except ODataError as err:
            return made, child, err
        return made, child, None

    made, child, duplicate = run(create())
    assert child.parent_folder_id == made.id
    assert duplicate is not None
    assert duplicate.response_status_code == 409
    assert duplicate.error.code == "ErrorFolderExists"
    ews_folder = next(f for f in ews.contacts.children if f.name == name)
    assert [f.name for f in ews_folder.children] == ["Inner"]


def _ews_category_names(ews) -> list[str]:
    config = ews.calendar.get_user_configuration(name="CategoryList", properties="XmlData")
    root = etree.fromstring(config.xml_data)
    return [c.get("name") for c in root]


@pytest.mark.spec("S3.1", "S3.2")
def test_master_categories_are_the_list_ews_reads(sandbox, ews):
    name = f"Sell {uuid.uuid4().hex[:6]}"

    async def categories():
        client = graph_client(sandbox)
        master = client.users.by_user_id(USER).outlook.master_categories
        listed = await master.get()
        made = await master.post(OutlookCategory(display_name=name, color=CategoryColor.Preset7))
        recoloured = await master.by_outlook_category_id(made.id).patch(
            OutlookCategory(color=CategoryColor.Preset9)
        )
        try:
            await master.by_outlook_category_id(made.id).patch(
                OutlookCategory(display_name=f"{name} renamed")
            )
        except ODataError as err:
            rename_error = err
        return listed, made, recoloured, rename_error

    listed, made, recoloured, rename_error = run(categories())
    assert {c.display_name for c in listed.value} == set(_ews_category_names(ews)) - {name}
    assert {"Clients", "Partners", "VIP", "Red category"} <= {c.display_name for c in listed.value}
    assert made.color == CategoryColor.Preset7
    assert recoloured.color == CategoryColor.Preset9
    assert rename_error.response_status_code == 400
    assert name in _ews_category_names(ews)

    async def delete():
        client = graph_client(sandbox)
        await (
            client.users.by_user_id(USER)
            .outlook.master_categories.by_outlook_category_id(made.id)
            .delete()
        )

    run(delete())
    assert name not in _ews_category_names(ews)


@pytest.mark.spec("S13.3")
def test_batch_of_twenty_depends_on_and_stats(sandbox, graph):
    session, headers, _ = graph
    sandbox.reset()
    marker = uuid.uuid4().hex[:8]
    requests_ = [
        {"id": str(n), "method": "POST", "url": f"/users/{USER}/contacts",
         "headers": {"Content-Type": "application/json"},
         "body": {"givenName": f"Batch{n}", "surname": marker}}
        for n in range(20)
    ]  # fmt: skip
    answer = session.post(
        f"{sandbox.base_url}/v1.0/$batch", json={"requests": requests_}, headers=headers
    )
    assert answer.status_code == 200
    responses = answer.json()["responses"]
    assert sorted(int(r["id"]) for r in responses) == list(range(20))
    assert {r["status"] for r in responses} == {201}
    assert all(r["body"]["surname"] == marker for r in responses)
    too_many = session.post(
        f"{sandbox.base_url}/v1.0/$batch",
        json={"requests": [*requests_, {**requests_[0], "id": "20"}]},
        headers=headers,
    )
    assert too_many.status_code == 400
    chain = [
        {"id": "a", "method": "GET", "url": f"/users/{USER}/contacts/AAMkAGnope"},
        {"id": "b", "method": "GET", "url": f"/users/{USER}/contacts", "dependsOn": ["a"]},
    ]
    chained = session.post(
        f"{sandbox.base_url}/v1.0/$batch", json={"requests": chain}, headers=headers
    ).json()["responses"]
    assert [(r["id"], r["status"]) for r in chained] == [("a", 400), ("b", 424)]
    stats = sandbox.stats()
    mine = stats["by_tenant"][USER]
    assert mine["writes"] == {"POST /v1.0/$batch": 1}
    assert mine["batched"]["writes"] == {"POST /v1.0/users/{id}/contacts": 20}
    assert stats["batched"]["reads"] == {"GET /v1.0/users/{id}/contacts/{id}": 1,
                                         "GET /v1.0/users/{id}/contacts": 1}  # fmt: skip
    assert stats["reads"]["POST /v1.0/$batch"] == 2  # the refused one and the read-only chain


def test_translate_exchange_ids_only_for_delegated_tokens(sandbox, graph, ews):
    session, headers, base = graph
    ews_id = ews.contacts.all().only("id")[0].id
    body = {"inputIds": [ews_id], "sourceIdType": "ewsId", "targetIdType": "restImmutableEntryId"}
    refused = session.post(f"{base}/translateExchangeIds", json=body, headers=headers, timeout=10)
    assert refused.status_code == 403
    delegated = {"Authorization": f"Bearer {DELEGATED}"}
    translated = session.post(
        f"{sandbox.base_url}/v1.0/me/translateExchangeIds", json=body, headers=delegated
    )
    assert translated.status_code == 200
    target = translated.json()["value"][0]["targetId"]
    same = session.get(
        f"{base}/contacts/{target}",
        headers={**headers, "Prefer": 'IdType="ImmutableId"'},
        timeout=10,
    )
    assert same.status_code == 200
    assert same.json()["id"] == target


def test_bad_requests_get_clear_errors_in_the_envelope(sandbox, graph):
    session, headers, base = graph
    cases = [
        ("POST", f"{base}/contacts", b"{not json", 400),
        ("POST", f"{base}/contacts", b"[1, 2]", 400),
        ("GET", f"{base}/contacts?$top=many", None, 400),
        ("GET", f"{base}/contacts?$orderby=displayName", None, 400),
        ("GET", f"{base}/contacts?$filter=givenName eq 'Ada'", None, 400),
        ("GET", f"{base}/calendars", None, 400),
        ("PUT", f"{base}/contacts", b"{}", 405),
        ("DELETE", f"{base}/outlook/masterCategories/00000000-0000-0000-0000-000000000000", None,
         404),
    ]  # fmt: skip
    for method, url, data, status in cases:
        resp = session.request(
            method,
            url,
            data=data,
            headers={**headers, "Content-Type": "application/json"},
            timeout=10,
        )
        assert resp.status_code == status, (method, url, resp.text)
        error = resp.json()["error"]
        assert error["code"]
        assert error["message"]
        assert error["innerError"]["request-id"] == resp.headers["request-id"]
