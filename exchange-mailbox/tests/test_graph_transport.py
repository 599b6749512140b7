"""Graph transport and $batch against a scripted local server (pytest-httpserver, plain http on
127.0.0.1 with a ready access token): Retry-After honoured, a busy spell bounded by
``retry_max_wait``, busy sub-requests as ``busy`` outcomes for writes and resent for reads,
immutable ids asked on every request and sub-request, at most 4 requests in flight.

SPEC S10.2 (back-off honouring the server, bounded), S13.2 (immutable ids), S13.3 (429/503
honour Retry-After; at most 4 concurrent requests per mailbox; $batch of 20).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from exchange_mailbox.graph.batch import SubRequest, read_all, send
from exchange_mailbox.graph.contact_json import GraphContact
from exchange_mailbox.graph.errors import GraphBusyError
from exchange_mailbox.graph.folders import GraphFolder
from exchange_mailbox.graph.transport import GraphTransport, MailboxSlots
from exchange_mailbox.graph.writer import GraphWriter
from exchange_mailbox.settings import ExchangeSettings
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TOKEN = "ready-token-0123456789"


def transport(server: HTTPServer, **extra: Any) -> GraphTransport:
    settings = ExchangeSettings.from_config(
        {
            "primary_smtp_address": "ann@example.com",
            "auth_type": "oauth2",
            "access_token": TOKEN,
            "graph_url": server.url_for("").rstrip("/"),
            **extra,
        }
    )
    return GraphTransport(settings)


def busy(retry_after: str = "1") -> Response:
    body = {"error": {"code": "ApplicationThrottled", "message": "MailboxConcurrency"}}
    return Response(
        json.dumps(body), status=429, headers={"Retry-After": retry_after},
        content_type="application/json",
    )  # fmt: skip


@pytest.mark.spec("S10.2", "S13.3")
def test_429_waits_retry_after_then_succeeds(httpserver: HTTPServer) -> None:
    answers = [busy("1"), Response(json.dumps({"value": []}), content_type="application/json")]
    seen: list[tuple[float, dict[str, str]]] = []

    def handler(request: Request) -> Response:
        seen.append((time.monotonic(), dict(request.headers)))
        return answers.pop(0)

    httpserver.expect_request("/v1.0/users/ann@example.com/contactFolders").respond_with_handler(
        handler
    )
    t = transport(httpserver)
    assert t.call("GET", f"{t.user}/contactFolders") == {"value": []}
    assert len(seen) == 2
    assert seen[1][0] - seen[0][0] >= 0.9  # Retry-After: 1 honoured
    for _, headers in seen:
        assert headers["Prefer"] == 'IdType="ImmutableId"'
        assert headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.spec("S10.2")
def test_a_busy_spell_longer_than_retry_max_wait_fails_naming_the_setting(
    httpserver: HTTPServer,
) -> None:
    calls = []

    def handler(request: Request) -> Response:
        calls.append(time.monotonic())
        return busy("1")

    httpserver.expect_request("/v1.0/users/ann@example.com/contacts").respond_with_handler(handler)
    t = transport(httpserver, retry_max_wait=2.5)
    started = time.monotonic()
    with pytest.raises(GraphBusyError, match="retry_max_wait"):
        t.call("GET", f"{t.user}/contacts")
    assert 2 <= len(calls) <= 4
    assert time.monotonic() - started < 4


def _batch_handler(answer_for: Any, log: list[dict[str, Any]]):
    def handler(request: Request) -> Response:
        body = json.loads(request.data)
        log.append(body)
        responses = [answer_for(r) for r in body["requests"]]
        return Response(json.dumps({"responses": responses}), content_type="application/json")

    return handler


@pytest.mark.spec("S13.3")
def test_busy_sub_requests_are_busy_outcomes_for_writes(httpserver: HTTPServer) -> None:
    log: list[dict[str, Any]] = []

    def answer(r: dict[str, Any]) -> dict[str, Any]:
        n = int(r["id"])
        if n == 1:
            return {"id": r["id"], "status": 429, "headers": {"Retry-After": "7"}, "body": {
                "error": {"code": "ApplicationThrottled", "message": "busy"}}}  # fmt: skip
        if n == 2:
            return {"id": r["id"], "status": 400, "body": {
                "error": {"code": "ErrorInvalidProperty", "message": "bad title"}}}  # fmt: skip
        if n == 3:
            return {"id": r["id"], "status": 500, "body": {"error": {"code": "generalException"}}}
        return {"id": r["id"], "status": 201, "body": {"id": f"new{n}", "changeKey": "k"}}

    httpserver.expect_request("/v1.0/$batch", method="POST").respond_with_handler(
        _batch_handler(answer, log)
    )
    t = transport(httpserver)
    writer = GraphWriter(t)
    folder = GraphFolder("f1", f"{t.user}/contactFolders/f1")
    items = [(n, GraphContact(changes={"givenName": f"N{n}"})) for n in range(25)]
    outcomes = writer.create(folder, items)
    assert len(log) == 2  # 25 creates: 20 + 5
    assert [len(b["requests"]) for b in log] == [20, 5]
    assert outcomes[0].kind == "ok"
    assert outcomes[0].item_id == "graph:new0"
    assert (outcomes[1].kind, outcomes[1].back_off) == ("busy", 7.0)
    assert outcomes[2].kind == "rejected"
    assert "bad title" in (outcomes[2].reason or "")
    assert outcomes[3].kind == "uncertain"
    for request in log[0]["requests"]:
        assert request["headers"]["Prefer"] == 'IdType="ImmutableId"'
        assert request["url"] == "/users/ann@example.com/contactFolders/f1/contacts"


@pytest.mark.spec("S13.3", "S5.1")
def test_updates_carry_if_match_and_map_412_and_404(httpserver: HTTPServer) -> None:
    log: list[dict[str, Any]] = []

    def answer(r: dict[str, Any]) -> dict[str, Any]:
        status = {"0": 200, "1": 412, "2": 404}[r["id"]]
        body = {"id": "c0", "changeKey": "k2"} if status == 200 else {"error": {"code": "x"}}
        return {"id": r["id"], "status": status, "body": body}

    httpserver.expect_request("/v1.0/$batch", method="POST").respond_with_handler(
        _batch_handler(answer, log)
    )
    writer = GraphWriter(transport(httpserver))
    items = [
        (n, GraphContact(id=f"c{n}", change_key=f"k{n}", changes={"jobTitle": "x"}), ["job_title"])
        for n in range(3)
    ]
    outcomes = writer.update(items)
    assert [outcomes[n].kind for n in range(3)] == ["ok", "conflict", "not_found"]
    assert outcomes[0].change_key == "k2"
    assert [r["headers"]["If-Match"] for r in log[0]["requests"]] == ['W/"k0"', 'W/"k1"', 'W/"k2"']
    assert [r["method"] for r in log[0]["requests"]] == ["PATCH"] * 3


@pytest.mark.spec("S10.2")
def test_busy_reads_in_a_batch_are_resent_after_retry_after(httpserver: HTTPServer) -> None:
    log: list[dict[str, Any]] = []
    first = {"done": False}

    def answer(r: dict[str, Any]) -> dict[str, Any]:
        if r["id"] == "1" and not first["done"]:
            first["done"] = True
            return {"id": r["id"], "status": 503, "headers": {"Retry-After": "1"}, "body": {}}
        return {"id": r["id"], "status": 200, "body": {"id": r["id"]}}

    httpserver.expect_request("/v1.0/$batch", method="POST").respond_with_handler(
        _batch_handler(answer, log)
    )
    t = transport(httpserver)
    requests = [SubRequest(id=str(n), method="GET", url=f"/users/x/contacts/{n}") for n in range(3)]
    answers = read_all(t, requests)
    assert {k: a.status for k, a in answers.items()} == {"0": 200, "1": 200, "2": 200}
    assert [len(b["requests"]) for b in log] == [3, 1]
    with pytest.raises(ValueError, match="at most 20"):
        send(t, [SubRequest(id=str(n), method="GET", url="/x") for n in range(21)], read=True)


@pytest.mark.spec("S13.3")
def test_at_most_four_requests_in_flight_and_a_batch_takes_all_four() -> None:
    slots = MailboxSlots()
    in_flight, peak = [0], [0]
    lock = threading.Lock()

    def worker(weight: int) -> None:
        with slots.hold(weight):
            with lock:
                in_flight[0] += weight
                peak[0] = max(peak[0], in_flight[0])
            time.sleep(0.02)
            with lock:
                in_flight[0] -= weight

    threads = [threading.Thread(target=worker, args=(4 if n % 5 == 0 else 1,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak[0] == 4
