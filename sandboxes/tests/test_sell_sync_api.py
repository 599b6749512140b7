"""Reference §7.2 and §13 item 10: the Sync API triad start / queue / ack."""

from __future__ import annotations

import uuid

import pytest
from sandbox_common.process import running_sandbox
from sell_sandbox.testing import make_token, session

pytestmark = pytest.mark.subprocess

LABELS = ("codes", "header", "events", "acks", "devices", "paging", "stats")
TOKENS = {label: make_token(f"sync {label}") for label in LABELS}
HEADER = "X-Basecrm-Device-UUID"


@pytest.fixture(scope="module")
def sell_server():
    args = ["--rate-limit", "0"]
    for token in TOKENS.values():
        args += ["--token", token]
    with running_sandbox("sell-sandbox", args) as sb:
        yield sb


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.http = session(token)

    def create(self, path: str, data: dict) -> dict:
        resp = self.http.post(f"{self.base}/v2/{path}", json={"data": data})
        assert resp.status_code == 200, resp.text
        return resp.json()["data"]

    def update(self, path: str, ident: int, data: dict) -> None:
        resp = self.http.put(f"{self.base}/v2/{path}/{ident}", json={"data": data})
        assert resp.status_code == 200, resp.text

    def delete(self, path: str, ident: int) -> None:
        assert self.http.delete(f"{self.base}/v2/{path}/{ident}").status_code == 204

    def start(self, device: str | None):
        headers = {HEADER: device} if device is not None else {}
        return self.http.post(f"{self.base}/v2/sync/start", headers=headers)

    def page(self, session_id: str, device: str | None):
        headers = {HEADER: device} if device is not None else {}
        return self.http.get(f"{self.base}/v2/sync/{session_id}/queues/main", headers=headers)

    def ack(self, device: str, keys: list[str]):
        body = {"data": {"ack_keys": keys}}
        return self.http.post(f"{self.base}/v2/sync/ack", json=body, headers={HEADER: device})

    def sync(self, device: str) -> list[dict]:
        """One full session: start and drain; [] when start answers 204."""
        resp = self.start(device)
        if resp.status_code == 204:
            return []
        assert resp.status_code == 201, resp.text
        session_id = resp.json()["data"]["id"]
        items: list[dict] = []
        while True:
            resp = self.page(session_id, device)
            if resp.status_code == 204:
                return items
            assert resp.status_code == 200, resp.text
            items += resp.json()["items"]


def api_for(server, label: str) -> Api:
    return Api(server.base_url, TOKENS[label])


def events(items: list[dict]) -> set[tuple[str, int, str]]:
    return {(i["meta"]["type"], i["data"]["id"], i["meta"]["sync"]["event_type"]) for i in items}


def keys(items: list[dict]) -> list[str]:
    return [i["meta"]["sync"]["ack_key"] for i in items]


def test_codes_and_envelopes(sell_server):
    api = api_for(sell_server, "codes")
    device = str(uuid.uuid4())
    assert api.start(device).status_code == 204  # nothing yet
    contact = api.create("contacts", {"last_name": "Sync"})
    lead = api.create("leads", {"last_name": "Lead"})

    resp = api.start(device)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["meta"] == {"type": "sync_session"}
    uuid.UUID(body["data"]["id"])
    assert body["data"]["queues"] == [
        {"data": {"name": "main", "pages": 1, "total_count": 2}, "meta": {"type": "sync_queue"}}
    ]

    resp = api.page(body["data"]["id"], device)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    page = resp.json()
    assert page["meta"] == {"type": "collection", "count": 2, "count_left": 0}
    by_id = {i["data"]["id"]: i for i in page["items"]}
    assert by_id[contact["id"]]["data"] == contact
    assert by_id[contact["id"]]["meta"] == {
        "type": "contact",
        "sync": {"event_type": "created", "ack_key": f"Contact-{contact['id']}-1", "revision": 1},
    }
    assert by_id[lead["id"]]["meta"]["type"] == "lead"

    assert api.page(body["data"]["id"], device).status_code == 204  # drained
    assert api.page(body["data"]["id"], device).status_code == 204
    ack = api.ack(device, keys(page["items"]))
    assert ack.status_code == 202
    assert ack.content == b""
    assert api.start(device).status_code == 204  # everything acked

    missing = api.page(str(uuid.uuid4()), device)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["error"]["code"] == "not_found"
    # A session belongs to its device.
    api.create("deals", {"name": "D", "contact_id": contact["id"]})
    other_session = api.start(device).json()["data"]["id"]
    assert api.page(other_session, str(uuid.uuid4())).status_code == 404


def test_device_header_required(sell_server):
    api = api_for(sell_server, "header")
    api.create("contacts", {"last_name": "H"})
    for resp in (
        api.start(None),
        api.start(""),
        api.page(str(uuid.uuid4()), None),
        api.http.post(f"{api.base}/v2/sync/ack", json={"data": {"ack_keys": []}}),
    ):
        assert resp.status_code == 400, resp.text
        body = resp.json()
        assert body["errors"][0]["error"]["code"] == "invalid_header"
        assert HEADER in body["errors"][0]["error"]["details"]
        assert body["meta"]["logref"] == resp.headers["X-Request-Id"]
    device = str(uuid.uuid4())
    bad = api.http.post(
        f"{api.base}/v2/sync/ack", json={"data": {"keys": []}}, headers={HEADER: device}
    )
    assert bad.status_code == 422


def test_created_updated_deleted_and_freshest_only(sell_server):
    api = api_for(sell_server, "events")
    device = str(uuid.uuid4())
    person = api.create("contacts", {"last_name": "One"})
    company = api.create("contacts", {"name": "Org", "is_organization": True})
    deal = api.create("deals", {"name": "Deal", "contact_id": company["id"]})
    api.update("contacts", person["id"], {"last_name": "Two"})
    api.update("contacts", person["id"], {"last_name": "Three"})

    first = api.sync(device)
    assert events(first) == {
        ("contact", person["id"], "created"),
        ("contact", company["id"], "created"),
        ("deal", deal["id"], "created"),
    }
    fresh = next(i for i in first if i["data"]["id"] == person["id"])
    assert fresh["data"]["last_name"] == "Three"  # only the freshest version, no history
    assert fresh["meta"]["sync"]["revision"] == 3
    assert fresh["meta"]["sync"]["ack_key"] == f"Contact-{person['id']}-3"
    assert api.ack(device, keys(first)).status_code == 202

    api.update("contacts", person["id"], {"first_name": "Ann"})
    api.delete("deals", deal["id"])
    second = api.sync(device)
    # Deleting the open deal also re-derives the company's statuses (an update).
    assert events(second) == {
        ("contact", person["id"], "updated"),
        ("deal", deal["id"], "deleted"),
        ("contact", company["id"], "updated"),
    }
    gone = next(i for i in second if i["meta"]["sync"]["event_type"] == "deleted")
    assert gone["data"] == {"id": deal["id"]}
    assert gone["meta"]["sync"]["revision"] == 2
    assert api.ack(device, keys(second)).status_code == 202
    assert api.sync(device) == []


def test_ack_semantics(sell_server):
    api = api_for(sell_server, "acks")
    device = str(uuid.uuid4())
    a = api.create("contacts", {"last_name": "A"})
    b = api.create("leads", {"last_name": "B"})
    first = api.sync(device)
    assert len(first) == 2
    acked = [k for k in keys(first) if k.startswith("Contact-")]
    assert api.ack(device, acked).status_code == 202

    # Un-acked items come again in the next session; acked ones do not.
    second = api.sync(device)
    assert events(second) == {("lead", b["id"], "created")}
    assert events(api.sync(device)) == events(second)  # still un-acked: resent again

    # A change after the ack queues the record again.
    api.update("contacts", a["id"], {"last_name": "A2"})
    third = api.sync(device)
    assert events(third) == {("contact", a["id"], "updated"), ("lead", b["id"], "created")}
    assert api.ack(device, keys(third)).status_code == 202
    assert api.start(device).status_code == 204

    # Unknown or malformed keys are ignored; an old ack does not un-ack a newer revision.
    assert api.ack(device, ["User-1-1", "nonsense", f"Contact-{a['id']}-1"]).status_code == 202
    assert api.start(device).status_code == 204

    # A record the device was sent but never acked, then deleted ⇒ deleted event.
    c = api.create("contacts", {"last_name": "C"})
    assert events(api.sync(device)) == {("contact", c["id"], "created")}
    api.delete("contacts", c["id"])
    assert events(api.sync(device)) == {("contact", c["id"], "deleted")}


def test_two_devices_are_independent(sell_server):
    api = api_for(sell_server, "devices")
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    first = api.create("contacts", {"last_name": "First"})
    items_one = api.sync(one)
    api.ack(one, keys(items_one))
    second = api.create("contacts", {"last_name": "Second"})
    assert events(api.sync(one)) == {("contact", second["id"], "created")}
    # A brand-new device gets everything, regardless of the other device's acks.
    assert events(api.sync(two)) == {
        ("contact", first["id"], "created"),
        ("contact", second["id"], "created"),
    }
    api.ack(two, keys(api.sync(two)))
    assert api.start(two).status_code == 204
    assert api.start(one).status_code == 201  # device one never acked "Second"
    # Another tenant sees nothing of this one.
    assert api_for(sell_server, "stats").start(one).status_code == 204


def test_pages_of_at_most_100(sell_server):
    api = api_for(sell_server, "paging")
    device = str(uuid.uuid4())
    for n in range(150):
        api.create("leads", {"last_name": f"L{n}"})
    resp = api.start(device)
    queue = resp.json()["data"]["queues"][0]["data"]
    assert queue == {"name": "main", "pages": 2, "total_count": 150}
    session_id = resp.json()["data"]["id"]
    page1 = api.page(session_id, device).json()
    assert page1["meta"] == {"type": "collection", "count": 100, "count_left": 50}
    page2 = api.page(session_id, device).json()
    assert page2["meta"] == {"type": "collection", "count": 50, "count_left": 0}
    assert api.page(session_id, device).status_code == 204
    ids = {i["data"]["id"] for i in page1["items"] + page2["items"]}
    assert len(ids) == 150


def test_stats_count_sync_operations(sell_server):
    api = api_for(sell_server, "stats")
    device = str(uuid.uuid4())
    sell_server.reset()
    api.create("contacts", {"last_name": "S"})
    items = api.sync(device)
    api.ack(device, keys(items))
    stats = sell_server.stats()
    assert stats["writes"]["POST /v2/sync/start"] == 1
    assert stats["writes"]["POST /v2/sync/ack"] == 1
    assert stats["reads"]["GET /v2/sync/{session_id}/queues/main"] == 2
