"""Outlook's per app-and-mailbox limits, injected faults and latency over Graph (reference §6, §7).

SPEC S13.3 (429/503 carry Retry-After; at most 4 concurrent requests per mailbox).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from graph_sandbox.testing import (
    CLIENT_ID,
    SECRET,
    TENANT,
    app_token,
    http_session,
    schema_missing_reason,
    validated_exchange_sandbox,
)

pytestmark = pytest.mark.subprocess

MAILBOXES = ["--mailbox", "demo@example.com:pw", "--mailbox", "bob@example.org:pw"]
APP = ["--app", f"{TENANT}:{CLIENT_ID}:{SECRET}"]


@pytest.fixture(autouse=True)
def _needs_schema():
    reason = schema_missing_reason()
    if reason:
        pytest.skip(reason)


def _get_many(sandbox, urls: list[str]) -> list:
    token = app_token(sandbox)
    headers = {"Authorization": f"Bearer {token}"}

    def get(url: str):
        return http_session(sandbox).get(url, headers=headers, timeout=30)

    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(get, urls))


@pytest.mark.spec("S13.3")
def test_at_most_four_requests_in_flight_per_app_and_mailbox():
    args = ["--tls", "--seed", "3", "--latency-ms", "800", "--graph-retry-after", "2",
            *MAILBOXES, *APP]  # fmt: skip
    with validated_exchange_sandbox(args) as sandbox:
        demo = f"{sandbox.base_url}/v1.0/users/demo@example.com/contactFolders"
        bob = f"{sandbox.base_url}/v1.0/users/bob@example.org/contactFolders"
        answers = _get_many(sandbox, [demo] * 6 + [bob] * 2)
        stats = sandbox.stats()
    demo_statuses = sorted(a.status_code for a in answers[:6])
    assert demo_statuses == [200, 200, 200, 200, 429, 429]
    assert [a.status_code for a in answers[6:]] == [200, 200], "other mailboxes are not affected"
    throttled = next(a for a in answers if a.status_code == 429)
    assert throttled.headers["Retry-After"] == "2"
    assert throttled.json()["error"]["code"] == "ApplicationThrottled"
    assert throttled.json()["error"]["message"] == (
        "Application is over its MailboxConcurrency limit."
    )
    assert stats["by_tenant"]["demo@example.com"]["statuses"] == {"200": 4, "429": 2}


@pytest.mark.spec("S13.3")
def test_an_unordered_batch_holds_four_slots_of_its_mailbox():
    args = ["--tls", "--latency-ms", "800", *MAILBOXES, *APP]
    with validated_exchange_sandbox(args) as sandbox:
        token = app_token(sandbox)
        batch = {"requests": [{"id": str(n), "method": "GET",
                               "url": "/users/demo@example.com/contactFolders"}
                              for n in range(5)]}  # fmt: skip

        def post(_):
            return http_session(sandbox).post(
                f"{sandbox.base_url}/v1.0/$batch",
                json=batch,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(post, range(2)))
    assert [a.status_code for a in answers] == [200, 200]
    inner = sorted(sorted({r["status"] for r in a.json()["responses"]}) for a in answers)
    assert inner == [[200], [429]], "the second batch found no free slot for the mailbox"
    throttled = next(r for a in answers for r in a.json()["responses"] if r["status"] == 429)
    assert throttled["headers"]["Retry-After"] == "1"


def test_request_budget_per_app_and_mailbox():
    args = ["--tls", "--graph-budget", "3", *MAILBOXES, *APP]
    with validated_exchange_sandbox(args) as sandbox:
        token = app_token(sandbox)
        session = http_session(sandbox)
        url = f"{sandbox.base_url}/v1.0/users/demo@example.com/contactFolders"
        statuses = [
            session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            for _ in range(4)
        ]
        other = session.get(
            url.replace("demo@example.com", "bob@example.org"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    assert [s.status_code for s in statuses] == [200, 200, 200, 429]
    assert int(statuses[-1].headers["Retry-After"]) > 500  # the 10-minute window
    assert other.status_code == 200


@pytest.mark.spec("S13.3")
def test_injected_faults_over_graph():
    args = ["--tls", "--seed", "1", "--fault-rate", "1", "--fault-kinds", "http_503",
            "--backoff-ms", "1500", *MAILBOXES, *APP]  # fmt: skip
    with validated_exchange_sandbox(args) as sandbox:
        token = app_token(sandbox)
        resp = http_session(sandbox).get(
            f"{sandbox.base_url}/v1.0/users/demo@example.com/contacts",
            headers={"Authorization": f"Bearer {token}", "client-request-id": "mine-123"},
            timeout=10,
        )
        stats = sandbox.stats()
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "2"
    assert resp.headers["client-request-id"] == "mine-123"
    assert resp.json()["error"]["innerError"]["client-request-id"] == "mine-123"
    assert stats["faults"] == {"http_503": 1}
    busy = ["--tls", "--fault-rate", "1", "--fault-kinds", "server_busy", *MAILBOXES, *APP]
    with validated_exchange_sandbox(busy) as sandbox:
        token = app_token(sandbox)
        resp = http_session(sandbox).get(
            f"{sandbox.base_url}/v1.0/users/demo@example.com/contacts",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "1"


def test_latency_applies_to_graph():
    args = ["--tls", "--latency-ms", "300", *MAILBOXES, *APP]
    with validated_exchange_sandbox(args) as sandbox:
        token = app_token(sandbox)
        started = time.monotonic()
        resp = http_session(sandbox).get(
            f"{sandbox.base_url}/v1.0/users/demo@example.com/contactFolders",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        elapsed = time.monotonic() - started
    assert resp.status_code == 200
    assert elapsed >= 0.3
