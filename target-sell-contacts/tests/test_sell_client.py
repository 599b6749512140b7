"""The Sell client: error envelopes, which failures are retried, ambiguity of creates, pacing."""

from __future__ import annotations

import threading
import time

import pytest
from target_sell_contacts.sell_client import (
    AmbiguousWriteError,
    AuthError,
    NotFoundError,
    RejectedError,
    SellClient,
    TransientError,
)

TOKEN = "a" * 64


def client(url: str, **kwargs: object) -> SellClient:
    options: dict = {"requests_per_second": 0, "backoff_factor": 0.01, "max_retries": 3}
    options.update(kwargs)
    return SellClient(url, TOKEN, **options)


def test_get_unwraps_and_sends_bearer(scripted) -> None:
    script, url = scripted((200, {"data": {"id": 7, "name": "Ann"}}, {}))
    assert client(url).self_user() == {"id": 7, "name": "Ann"}
    assert script.seen[0].path == "/v2/users/self"


@pytest.mark.spec("S10.2")
def test_429_is_retried_after_retry_after(scripted) -> None:
    script, url = scripted((429, None, {"Retry-After": "1"}), (200, {"data": {"id": 1}}, {}))
    started = time.monotonic()
    client(url).get("users/self")
    assert len(script.seen) == 2
    assert time.monotonic() - started >= 0.9


@pytest.mark.spec("S10.2")
def test_5xx_and_dropped_connection_retried_for_reads_and_updates(scripted, sell_error) -> None:
    script, url = scripted(
        sell_error(503, "temporarily_unavailable", "busy"),
        "drop",
        (200, {"data": {"id": 5, "email": "x@y.z"}}, {}),
    )
    assert client(url).update("contacts", 5, {"email": "x@y.z"})["id"] == 5
    assert [s.method for s in script.seen] == ["PUT", "PUT", "PUT"]


@pytest.mark.spec("S7.2")
@pytest.mark.parametrize("answer", ["drop", "500"])
def test_plain_create_is_not_blindly_retried(scripted, sell_error, answer) -> None:
    first = sell_error(500, "server_error", "boom") if answer == "500" else answer
    script, url = scripted(first, (200, {"data": {"id": 2}}, {}))
    with pytest.raises(AmbiguousWriteError):
        client(url).create("contacts", {"last_name": "Once"})
    assert len(script.seen) == 1


@pytest.mark.spec("S10.2")
def test_plain_create_retried_on_429(scripted) -> None:
    script, url = scripted((429, None, {"Retry-After": "0"}), (200, {"data": {"id": 2}}, {}))
    assert client(url).create("contacts", {"last_name": "Once"})["id"] == 2
    assert len(script.seen) == 2


@pytest.mark.spec("S10.1")
def test_422_is_a_rejection_with_sell_details(scripted, sell_error) -> None:
    _, url = scripted(sell_error(422, "invalid", "The attribute '/email' is invalid.", "/email"))
    with pytest.raises(RejectedError) as caught:
        client(url).create("contacts", {"email": "nope"})
    assert "/email: The attribute '/email' is invalid." in caught.value.reason()
    assert caught.value.status == 422


@pytest.mark.spec("S10.3")
def test_401_is_an_auth_error_and_404_not_found(scripted, sell_error) -> None:
    _, url = scripted(
        sell_error(401, "unauthorized", "Required access token is missing"),
        sell_error(404, "not_found", "gone"),
    )
    c = client(url)
    with pytest.raises(AuthError):
        c.self_user()
    with pytest.raises(NotFoundError):
        c.get("contacts/1")


@pytest.mark.spec("S10.2")
def test_retries_run_out_as_transient_sell_error(scripted, sell_error) -> None:
    _, url = scripted(default=lambda seen: sell_error(503, "temporarily_unavailable", "busy"))
    with pytest.raises(TransientError) as caught:
        client(url, max_retries=2).get("contacts")
    assert not isinstance(caught.value, AmbiguousWriteError)


def test_paging_stops_at_last_page(scripted) -> None:
    def page(seen) -> tuple:
        number = int(seen.path.split("page=")[-1].split("&")[0])
        items = [{"data": {"id": number * 100 + i}} for i in range(100 if number < 3 else 7)]
        links = {"next_page": "x"} if number < 3 else {}
        return (200, {"items": items, "meta": {"links": links}}, {})

    script, url = scripted(default=page)
    ids = [r["id"] for r in client(url).iter_all("contacts")]
    assert len(ids) == 207
    assert len(script.seen) == 3


@pytest.mark.spec("S9")
def test_pacing_is_shared_by_threads(scripted) -> None:
    script, url = scripted()
    c = client(url, requests_per_second=10)
    threads = [
        threading.Thread(target=lambda: [c.get("users/self") for _ in range(6)]) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    times = sorted(s.at for s in script.seen)
    assert len(times) == 24
    # No second holds more than 10 requests (0.1 s of slack for the send-time jitter of busy
    # machines; unpaced, all 24 would arrive within a few milliseconds).
    assert all(sum(1 for u in times if t <= u < t + 0.9) <= 10 for t in times), (
        "more than 10 requests in one second"
    )
    assert times[-1] - times[0] >= 2.0
