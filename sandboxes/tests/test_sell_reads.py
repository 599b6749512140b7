"""Reference §13 items 1-4, 6 and 7: auth, error envelope, lists, single objects, sorting."""

from __future__ import annotations

import re

import pytest
import requests
from sandbox_common.process import running_sandbox
from sell_sandbox.testing import make_token, session

pytestmark = pytest.mark.subprocess

TOKEN = make_token("reads")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def sell_server():
    with running_sandbox(
        "sell-sandbox", ["--token", TOKEN, "--seed", "60", "--rate-limit", "0"]
    ) as sb:
        yield sb


@pytest.fixture(scope="module")
def sell_http(sell_server):
    return session(TOKEN)


def assert_error(resp: requests.Response, status: int, code: str) -> dict:
    """Checklist item 2: the exact error envelope, header and content type."""
    assert resp.status_code == status
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    body = resp.json()
    assert body["meta"]["type"] == "errors"
    assert body["meta"]["http_status"].startswith(f"{status} ")
    assert body["meta"]["logref"] == resp.headers["X-Request-Id"]
    assert UUID.match(body["meta"]["logref"])
    assert body["errors"], body
    for item in body["errors"]:
        assert item["meta"]["type"] == "error"
        assert {"code", "message", "details"} <= set(item["error"])
    assert body["errors"][0]["error"]["code"] == code
    return body


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer " + make_token("nobody")}, {"Authorization": "Basic xyz"}],
    ids=["missing", "unknown", "not-bearer"],
)
def test_bad_token_is_401_envelope(sell_server, headers):
    resp = requests.get(f"{sell_server.base_url}/v2/contacts", headers=headers, timeout=10)
    body = assert_error(resp, 401, "unauthorized")
    assert body["meta"]["http_status"] == "401 Unauthorized"
    assert "resource" not in body["errors"][0]["error"]


def test_list_envelope_and_links(sell_server, sell_http):
    resp = sell_http.get(f"{sell_server.base_url}/v2/contacts", params={"per_page": 7, "page": 2})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    body = resp.json()
    assert body["meta"]["type"] == "collection"
    assert body["meta"]["count"] == len(body["items"]) == 7
    links = body["meta"]["links"]
    assert set(links) == {"self", "first_page", "prev_page", "next_page"}
    assert "page=2" in links["self"]
    assert "per_page=7" in links["self"]
    assert "page=1" in links["first_page"]
    assert "page=1" in links["prev_page"]
    assert "page=3" in links["next_page"]
    for item in body["items"]:
        assert item["meta"]["type"] == "contact"
        assert item["meta"]["version"] >= 1
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", item["data"]["updated_at"])


def test_walking_next_page_visits_every_record_once(sell_server, sell_http):
    url, seen, pages = f"{sell_server.base_url}/v2/contacts?per_page=25", [], 0
    while url and pages < 20:
        body = sell_http.get(url).json()
        seen += [i["data"]["id"] for i in body["items"]]
        url, pages = body["meta"]["links"].get("next_page"), pages + 1
    assert len(seen) == len(set(seen)) == 60
    assert pages == 3  # 25 + 25 + 10: no next_page on the last page


def test_page_beyond_end_is_empty_200(sell_server, sell_http):
    resp = sell_http.get(f"{sell_server.base_url}/v2/contacts", params={"page": 99})
    assert resp.status_code == 200
    body = resp.json()
    assert body["items"] == []
    assert body["meta"]["count"] == 0
    assert "next_page" not in body["meta"]["links"]


@pytest.mark.parametrize("per_page", ["0", "101", "200", "x"])
def test_per_page_out_of_range_is_400(sell_server, sell_http, per_page):
    resp = sell_http.get(f"{sell_server.base_url}/v2/contacts", params={"per_page": per_page})
    body = assert_error(resp, 400, "invalid_param")
    assert body["errors"][0]["error"]["message"] == "invalid request query parameter"
    if per_page == "200":
        assert body["errors"][0]["error"]["details"] == (
            "The request query parameter 'per_page' is malformed, missing, or has an invalid"
            " value (must be between 1 and 100, given: 200)"
        )


@pytest.mark.parametrize(
    "path", ["/v2/contacts?unknown=1", "/v2/users/self?unknown=param", "/v2/deals?email=a"]
)
def test_unknown_query_parameter_is_400(sell_server, sell_http, path):
    assert_error(sell_http.get(sell_server.base_url + path), 400, "invalid_param")


def test_single_envelope_and_404(sell_server, sell_http):
    base = sell_server.base_url
    first = sell_http.get(f"{base}/v2/contacts", params={"per_page": 1}).json()["items"][0]
    resp = sell_http.get(f"{base}/v2/contacts/{first['data']['id']}")
    assert resp.status_code == 200
    assert resp.json() == {"data": first["data"], "meta": {"type": "contact"}}
    body = assert_error(sell_http.get(f"{base}/v2/contacts/1"), 404, "not_found")
    assert body["meta"]["http_status"] == "404 Not Found"
    assert_error(sell_http.get(f"{base}/v2/nothing-here"), 404, "incorrect_path")


def test_head_answers_without_body(sell_server, sell_http):
    resp = sell_http.head(f"{sell_server.base_url}/v2/contacts")
    assert resp.status_code == 200
    assert resp.content == b""


def test_unsupported_accept_is_406(sell_server, sell_http):
    resp = sell_http.get(f"{sell_server.base_url}/v2/contacts", headers={"Accept": "text/xml"})
    assert_error(resp, 406, "invalid_header")


def _all(http, url, **params):
    items, page = [], 1
    while page < 50:
        got = http.get(url, params={**params, "per_page": 100, "page": page}).json()["items"]
        if not got:
            return items
        items += [i["data"] for i in got]
        page += 1
    raise AssertionError("too many pages")


@pytest.mark.parametrize(
    ("path", "default_field"),
    [("contacts", "last_name"), ("leads", "updated_at"), ("deals", "id"), ("users", "id")],
)
def test_default_sort_per_resource(sell_server, sell_http, path, default_field):
    records = _all(sell_http, f"{sell_server.base_url}/v2/{path}")
    assert records
    present = [r for r in records if r[default_field] is not None]
    keys = [
        (
            r[default_field].casefold() if isinstance(r[default_field], str) else r[default_field],
            r["id"],
        )
        for r in present
    ]
    assert keys == sorted(keys)
    assert records[: len(present)] == present  # nulls (companies' last_name) come last


def test_sort_desc_with_id_tiebreak(sell_server, sell_http):
    records = _all(sell_http, f"{sell_server.base_url}/v2/contacts", sort_by="updated_at:desc")
    stamps = [r["updated_at"] for r in records]
    assert stamps == sorted(stamps, reverse=True)
    by_name = _all(sell_http, f"{sell_server.base_url}/v2/contacts", sort_by="first_name")
    pairs = [(r["first_name"].casefold(), r["id"]) for r in by_name if r["first_name"]]
    assert pairs == sorted(pairs)  # equal first names: ascending id
    resp = sell_http.get(f"{sell_server.base_url}/v2/contacts", params={"sort_by": "nope:asc"})
    assert_error(resp, 400, "invalid_param")


def test_filters(sell_server, sell_http):
    url = f"{sell_server.base_url}/v2/contacts"
    everything = _all(sell_http, url)
    person = next(r for r in everything if r["email"] and not r["is_organization"])
    by_email = _all(sell_http, url, email=person["email"].upper())
    assert person["id"] in {r["id"] for r in by_email}
    assert all(r["email"].casefold() == person["email"].casefold() for r in by_email)
    orgs = _all(sell_http, url, is_organization="true")
    assert orgs
    assert all(r["is_organization"] for r in orgs)
    assert len(orgs) == sum(r["is_organization"] for r in everything)
    members = _all(sell_http, url, contact_id=person["contact_id"]) if person["contact_id"] else []
    assert all(r["contact_id"] == person["contact_id"] for r in members)
    ids = [everything[0]["id"], everything[5]["id"]]
    got = _all(sell_http, url, ids=",".join(map(str, ids)))
    assert sorted(r["id"] for r in got) == sorted(ids)
    either = _all(sell_http, url, ids=str(ids[0]), email=person["email"], inclusive="false")
    assert {ids[0], person["id"]} <= {r["id"] for r in either}
    lost = _all(sell_http, url, prospect_status="lost")
    assert all(r["prospect_status"] == "lost" for r in lost)
    assert_error(sell_http.get(url, params={"is_organization": "maybe"}), 400, "invalid_param")


def test_reference_resources(sell_server, sell_http):
    base = sell_server.base_url
    stages = _all(sell_http, f"{base}/v2/stages")
    assert [s["category"] for s in stages] == [
        "incoming", "in_progress", "in_progress", "in_progress", "won", "lost", "unqualified",
    ]  # fmt: skip
    pipelines = _all(sell_http, f"{base}/v2/pipelines")
    assert {s["pipeline_id"] for s in stages} == {p["id"] for p in pipelines}
    me = sell_http.get(f"{base}/v2/users/self").json()
    assert me["meta"]["type"] == "user"
    assert me["data"]["status"] == "active"
    assert sell_http.get(f"{base}/v2/users/{me['data']['id']}").json()["data"] == me["data"]
    account = sell_http.get(f"{base}/v2/accounts/self").json()
    assert account["meta"]["type"] == "account"
    assert account["data"]["currency"]
    fields = sell_http.get(f"{base}/v2/contact/custom_fields").json()
    assert {i["data"]["name"]: i["data"]["type"] for i in fields["items"]} == {
        "Exchange ID": "string",
        "Overwritten values": "text",
    }
    assert all(i["meta"]["type"] == "custom_field" for i in fields["items"])
    assert sell_http.get(f"{base}/v2/deal/custom_fields").json()["items"] == []
    assert sell_http.post(f"{base}/v2/stages", json={"data": {}}).status_code == 405
