"""Reference §13 items 5, 6 and 8: bodies, validation, partial PUT, DELETE and upsert."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sandbox_common.process import running_sandbox
from sell_sandbox.testing import make_token, session

pytestmark = pytest.mark.subprocess

TOKEN = make_token("writes")


@pytest.fixture(scope="module")
def sell_server():
    args = ["--token", TOKEN, "--rate-limit", "0", "--custom-field", "contact:Exchange ID:string"]
    args += [
        "--custom-field",
        "contact:Notes log:text",
        "--custom-field",
        "deal:Tier:list:Gold|Silver",
    ]
    with running_sandbox("sell-sandbox", args) as sb:
        yield sb


@pytest.fixture(scope="module")
def sell_api(sell_server):
    http = session(TOKEN)
    base = sell_server.base_url

    class Api:
        def post(self, path, data=None, **kw):
            return http.post(base + path, json={"data": data} if data is not None else None, **kw)

        def put(self, path, data, **kw):
            return http.put(base + path, json={"data": data}, **kw)

        def get(self, path, **kw):
            return http.get(base + path, **kw)

        def delete(self, path):
            return http.delete(base + path)

        def raw(self, method, path, **kw):
            return http.request(method, base + path, **kw)

    return Api()


def errors_of(resp, status=422):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["meta"]["logref"] == resp.headers["X-Request-Id"]
    return {(e["error"].get("field"), e["error"]["code"]) for e in body["errors"]}


def test_create_and_read_back(sell_api):
    resp = sell_api.post(
        "/v2/contacts", {"first_name": "Zoë", "last_name": "Łukaszewicz", "tags": ["a", "b"]}
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["meta"]["type"] == "contact"
    data = body["data"]
    assert data["name"] == "Zoë Łukaszewicz"
    assert data["is_organization"] is False
    assert data["created_at"] == data["updated_at"]
    assert data["customer_status"] == data["prospect_status"] == "none"
    assert sell_api.get(f"/v2/contacts/{data['id']}").json()["data"] == data


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": b"{not json"}, 400, "invalid_payload"),
        ({"json": {"first_name": "x", "last_name": "y"}}, 422, "incorrect_payload"),
        ({"json": {"data": ["x"]}}, 422, "incorrect_payload"),
        ({"json": {"data": {"last_name": "y"}, "extra": 1}}, 422, "incorrect_payload"),
    ],
)
def test_body_must_be_data_envelope(sell_api, kwargs, status, code):
    resp = sell_api.raw("POST", "/v2/contacts", **kwargs)
    assert resp.status_code == status
    assert resp.json()["errors"][0]["error"]["code"] == code


def test_unknown_attribute_is_422_unknown(sell_api):
    resp = sell_api.post("/v2/contacts", {"last_name": "X", "invalid_field": 1})
    assert errors_of(resp) == {("/invalid_field", "unknown")}
    error = resp.json()["errors"][0]["error"]
    assert error["resource"] == "contact"
    assert error["message"] == "unknown attribute"
    assert resp.json()["meta"]["http_status"] == "422 Unprocessable Entity"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"first_name": "Only"}, {("/last_name", "missing")}),
        ({"last_name": "  "}, {("/last_name", "blank")}),
        ({"is_organization": True, "email": "a@b.c"}, {("/name", "missing")}),
        ({"is_organization": True, "name": ""}, {("/name", "blank")}),
        (
            {"last_name": 5, "tags": "x"},
            {("/last_name", "invalid_type"), ("/tags", "invalid_type")},
        ),
        ({"last_name": "X", "is_organization": "no"}, {("/is_organization", "invalid_type")}),
        (
            {"last_name": "X", "id": 5, "created_at": "x"},
            {("/id", "unknown"), ("/created_at", "unknown")},
        ),
        ({"last_name": "X", "customer_status": "vip"}, {("/customer_status", "incorrect_value")}),
        ({"last_name": "X", "address": {"town": "Y"}}, {("/address/town", "unknown")}),
        ({"last_name": "X", "custom_fields": {"Nope": "1"}}, {("/custom_fields/Nope", "unknown")}),
        (
            {"last_name": "X", "custom_fields": {"Exchange ID": 7}},
            {("/custom_fields/Exchange ID", "invalid_type")},
        ),
        ({"last_name": "X", "contact_id": 1}, {("/contact_id", "incorrect_value")}),
    ],
)
def test_contact_validation(sell_api, data, expected):
    assert errors_of(sell_api.post("/v2/contacts", data)) == expected


def test_email_syntax_and_long_strings_are_not_rejected(sell_api):
    # The reference documents neither rule, so the sandbox must not invent them.
    resp = sell_api.post("/v2/contacts", {"last_name": "L" * 5000, "email": "not an e-mail"})
    assert resp.status_code == 200


def test_put_is_partial_tags_replaced_custom_fields_by_name(sell_api):
    org = sell_api.post("/v2/contacts", {"is_organization": True, "name": "Müller GmbH"}).json()[
        "data"
    ]
    created = sell_api.post(
        "/v2/contacts",
        {
            "first_name": "Ana",
            "last_name": "Peña",
            "email": "ana@example.com",
            "tags": ["x", "y"],
            "contact_id": org["id"],
            "address": {"city": "Sevilla", "country": "ES"},
            "custom_fields": {"Exchange ID": "AAMk1", "Notes log": "first"},
        },
    ).json()["data"]
    assert created["address"] == {
        "line1": None,
        "city": "Sevilla",
        "postal_code": None,
        "state": None,
        "country": "ES",
    }
    resp = sell_api.put(
        f"/v2/contacts/{created['id']}",
        {
            "title": "CEO",
            "tags": ["z"],
            "custom_fields": {"Notes log": None},
            "address": {"line1": "Calle 1"},
        },
    )
    assert resp.status_code == 200
    updated = resp.json()["data"]
    assert updated["email"] == "ana@example.com"  # untouched attributes stay
    assert updated["title"] == "CEO"
    assert updated["tags"] == ["z"]  # replaced wholesale
    assert updated["custom_fields"] == {"Exchange ID": "AAMk1"}  # null clears one field
    assert updated["address"]["city"] == "Sevilla"
    assert updated["address"]["line1"] == "Calle 1"
    assert updated["contact_id"] == org["id"]
    assert updated["updated_at"] >= created["updated_at"]  # one-second resolution
    listed = sell_api.get("/v2/contacts", params={"ids": created["id"]}).json()["items"][0]
    assert listed["meta"]["version"] == 2


def test_is_organization_immutable(sell_api):
    person = sell_api.post("/v2/contacts", {"last_name": "Stay"}).json()["data"]
    assert errors_of(sell_api.put(f"/v2/contacts/{person['id']}", {"is_organization": True})) == {
        ("/is_organization", "incorrect_value")
    }
    # Re-sending the unchanged value (what fetch-and-update clients do) is accepted.
    assert (
        sell_api.put(f"/v2/contacts/{person['id']}", {"is_organization": False}).status_code == 200
    )
    assert errors_of(sell_api.put(f"/v2/contacts/{person['id']}", {"last_name": ""})) == {
        ("/last_name", "blank")
    }


def test_put_unknown_id_is_404(sell_api):
    assert sell_api.put("/v2/contacts/12", {"title": "x"}).status_code == 404


def test_delete_is_204_then_404(sell_api):
    contact = sell_api.post("/v2/contacts", {"last_name": "Gone"}).json()["data"]
    note = sell_api.post(
        "/v2/notes", {"resource_type": "contact", "resource_id": contact["id"], "content": "hi"}
    ).json()["data"]
    resp = sell_api.delete(f"/v2/contacts/{contact['id']}")
    assert resp.status_code == 204
    assert resp.content == b""
    assert sell_api.get(f"/v2/contacts/{contact['id']}").status_code == 404
    assert sell_api.get(f"/v2/notes/{note['id']}").status_code == 404
    assert sell_api.delete(f"/v2/contacts/{contact['id']}").status_code == 404


def test_updated_at_follows_the_wall_clock_and_never_goes_back(sell_api):
    before = datetime.now(UTC).replace(microsecond=0)
    stamps = [
        sell_api.post("/v2/leads", {"last_name": f"L{i}"}).json()["data"]["updated_at"]
        for i in range(20)
    ]
    after = datetime.now(UTC)
    assert stamps == sorted(stamps)
    assert len(set(stamps)) < 20  # 20 writes in well under 20 s: seconds are shared, like Sell's
    for stamp in stamps:  # never ahead of the wall clock (S5.2 compares it with Exchange's times)
        assert before <= datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) <= after


def test_upsert_creates_updates_and_refuses(sell_api):
    path = "/v2/contacts/upsert"
    params = {"custom_fields[Exchange ID]": "EX-42"}
    first = sell_api.post(
        path, {"last_name": "Up", "custom_fields": {"Exchange ID": "EX-42"}}, params=params
    )
    assert first.status_code == 200
    created = first.json()["data"]
    second = sell_api.post(path, {"title": "CTO"}, params=params)
    assert second.status_code == 200
    assert second.json()["data"]["id"] == created["id"]
    assert second.json()["data"]["title"] == "CTO"
    resp = sell_api.post(path, {"last_name": "x"})
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["error"]["code"] == "invalid_param"
    sell_api.post("/v2/contacts", {"last_name": "Twin", "email": "twin@example.com"})
    sell_api.post("/v2/contacts", {"last_name": "Twin", "email": "twin@example.com"})
    resp = sell_api.post(path, {"title": "x"}, params={"email": "twin@example.com"})
    assert resp.status_code == 409  # UNVERIFIED choice, see README
    assert resp.json()["errors"][0]["error"]["code"] == "conflict"
    resp = sell_api.post(path, {"title": "x"}, params={"custom_fields[Notes log]": "x"})
    assert resp.status_code == 400  # text fields are not filterable


def test_lead_upsert_and_validation(sell_api):
    lead = sell_api.post(
        "/v2/leads/upsert",
        {"organization_name": "Nordwind", "email": "n@x.org"},
        params={"email": "n@x.org"},
    )
    assert lead.status_code == 200
    assert lead.json()["data"]["status"] == "New"
    assert errors_of(sell_api.post("/v2/leads", {"first_name": "x"})) == {("/last_name", "missing")}
    assert errors_of(sell_api.post("/v2/leads", {"last_name": "x", "bogus": 1})) == {
        ("/bogus", "unknown")
    }


def test_deal_and_note_validation(sell_api):
    contact = sell_api.post("/v2/contacts", {"last_name": "Dealer"}).json()["data"]
    assert errors_of(sell_api.post("/v2/deals", {"name": "x"})) == {("/contact_id", "missing")}
    assert errors_of(
        sell_api.post("/v2/deals", {"name": "x", "contact_id": contact["id"], "stage_id": 1})
    ) == {("/stage_id", "incorrect_value")}
    deal = sell_api.post(
        "/v2/deals",
        {
            "name": "x",
            "contact_id": contact["id"],
            "value": 12.5,
            "custom_fields": {"Tier": "Gold"},
        },
    ).json()["data"]
    assert deal["value"] == "12.50"
    assert errors_of(
        sell_api.put(f"/v2/deals/{deal['id']}", {"custom_fields": {"Tier": "Bronze"}})
    ) == {("/custom_fields/Tier", "incorrect_value")}
    assert errors_of(
        sell_api.post("/v2/notes", {"resource_type": "task", "resource_id": 1, "content": "x"})
    ) == {("/resource_type", "incorrect_value")}
    assert errors_of(
        sell_api.post("/v2/notes", {"resource_type": "deal", "resource_id": 1, "content": "x"})
    ) == {("/resource_id", "incorrect_value")}
    note = sell_api.post(
        "/v2/notes", {"resource_type": "deal", "resource_id": deal["id"], "content": "Kept: é"}
    )
    assert note.status_code == 200
    found = sell_api.get(
        "/v2/notes", params={"resource_type": "deal", "resource_id": deal["id"]}
    ).json()
    assert [i["data"]["content"] for i in found["items"]] == ["Kept: é"]
