"""exchange_mailbox.ews.retry_policy: a busy spell is bounded in TOTAL by ``retry_max_wait``.

exchangelib's ``FaultTolerance`` bounds each single back-off only, so a server that keeps asking
for short ones was retried for ever; the policy every Exchange connection uses (probe included)
must give up with a message naming the setting.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from exchange_mailbox.ews import connection
from exchange_mailbox.ews.retry_policy import SyncRetryPolicy
from exchangelib import FaultTolerance
from exchangelib.errors import ErrorServerBusy, RateLimitError, UnauthorizedError

BUSY_FAULT = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
    b'<faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">'
    b"a:ErrorServerBusy</faultcode><faultstring>The server cannot service this request right "
    b"now. Try again later.</faultstring><detail>"
    b'<e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">'
    b"ErrorServerBusy</e:ResponseCode>"
    b'<e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">'
    b"The server cannot service this request right now. Try again later.</e:Message>"
    b'<t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
    b'<t:Value Name="BackOffMilliseconds">50</t:Value></t:MessageXml>'
    b"</detail></s:Fault></s:Body></s:Envelope>"
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(time, "monotonic", fake)  # the module retry_policy reads
    return fake


def response(status: int, content: bytes = b"") -> SimpleNamespace:
    url = "https://mail.example.com/EWS/Exchange.asmx"
    return SimpleNamespace(status_code=status, url=url, headers={}, content=content)


def back_offs_until_failure(policy: FaultTolerance, clock: FakeClock, seconds: float) -> int:
    """How many back-offs of ``seconds`` (each one waited out) the policy grants; at most 1000."""
    for granted in range(1000):
        try:
            policy.back_off(seconds)
        except RateLimitError:
            return granted
        clock.now += seconds
    return 1000


@pytest.mark.spec("S10.2")
def test_short_back_offs_are_bounded_in_total_where_fault_tolerance_never_stops(clock) -> None:
    # The gap this policy closes: 200 ms again and again passes FaultTolerance's check for ever.
    assert back_offs_until_failure(FaultTolerance(max_wait=1.0), clock, 0.25) == 1000
    policy = SyncRetryPolicy(1.0)
    assert back_offs_until_failure(policy, clock, 0.25) == 4
    with pytest.raises(RateLimitError, match=r"setting 'retry_max_wait' = 1 s") as info:
        policy.back_off(2.0)
    assert info.value.wait == 2.0


@pytest.mark.spec("S10.2")
def test_an_answer_with_http_200_ends_the_spell(clock) -> None:
    def three_back_offs(policy: SyncRetryPolicy) -> None:
        for _ in range(3):
            policy.back_off(0.25)
            clock.now += 0.25

    policy = SyncRetryPolicy(1.0)
    three_back_offs(policy)
    policy.raise_response_errors(response(200))
    assert back_offs_until_failure(policy, clock, 0.25) == 4  # a fresh spell, not 1
    # A busy SOAP fault comes as HTTP 500 with XML: it does not end the spell.
    policy = SyncRetryPolicy(1.0)
    three_back_offs(policy)
    policy.raise_response_errors(response(500, BUSY_FAULT))
    assert back_offs_until_failure(policy, clock, 0.25) == 1


@pytest.mark.spec("S10.2")
def test_one_back_off_longer_than_the_bound_fails_at_once(clock) -> None:
    with pytest.raises(RateLimitError, match="retry_max_wait"):
        SyncRetryPolicy(300.0).back_off(301.0)
    with pytest.raises(RateLimitError, match="retry_max_wait"):
        SyncRetryPolicy(30.0).back_off(None)  # no hint: exchangelib's 60 s default


@pytest.mark.spec("S10.2", "S10.3")
def test_401_means_bad_credentials_until_the_server_has_accepted_us() -> None:
    policy = SyncRetryPolicy(300.0)
    with pytest.raises(UnauthorizedError):
        policy.raise_response_errors(response(401))
    policy.raise_response_errors(response(200))
    with pytest.raises(ErrorServerBusy):  # later a 401 is throttling: retried
        policy.raise_response_errors(response(401))


@pytest.mark.spec("S10.2")
def test_policy_copies_like_exchangelibs_own() -> None:
    # exchangelib's policies and protocols drop their locks for pickling/copying; ours too.
    policy = SyncRetryPolicy(42.0)
    policy.authenticated = True
    clone = copy.deepcopy(policy)
    assert (clone.max_wait, clone.authenticated) == (42.0, True)
    clone.back_off(0.1)


class _AlwaysBusy(BaseHTTPRequestHandler):
    requests = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).requests += 1
        self.send_response(500)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(BUSY_FAULT)))
        self.end_headers()
        self.wfile.write(BUSY_FAULT)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def always_busy() -> Iterator[tuple[str, type[_AlwaysBusy]]]:
    handler = type("Handler", (_AlwaysBusy,), {"requests": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/EWS/Exchange.asmx", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.spec("S10.2")
@pytest.mark.timeout(60)  # without the bound the probe retries for ever: fail, do not hang
def test_connection_probe_against_a_server_that_stays_busy_gives_up_within_the_bound() -> None:
    with always_busy() as (url, handler):
        config = {
            "primary_smtp_address": "ada@example.com",
            "password": "pw",
            "service_endpoint": url,
            "server_version": "15.1.2507.6",
            "retry_max_wait": 1,
        }
        started = time.monotonic()
        with pytest.raises(RateLimitError, match="retry_max_wait") as info:
            connection.connect(config)
        elapsed = time.monotonic() - started
    assert elapsed < 10, elapsed
    assert handler.requests >= 5  # 50 ms back-offs were honoured, then the spell ran out
    assert "stayed busy" in str(info.value)
