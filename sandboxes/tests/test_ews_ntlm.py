"""NTLM (``--auth ntlm``): exchangelib's requests_ntlm handshake against pyspnego's acceptor, and
the handshake state bound to one TCP connection."""

from __future__ import annotations

import asyncio
import base64
import http.client
import threading
import time
from asyncio import AbstractEventLoop
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import exchangelib
import pytest
import requests
import spnego
from aiohttp import web
from ews_sandbox.cli import build_parser, build_state
from ews_sandbox.server import STATE_KEY, build_app
from ews_sandbox.testing import BUILD, account, endpoint, validated_sandbox
from exchangelib import DELEGATE, NTLM, Account, Build, Configuration, Credentials, Version
from exchangelib.errors import UnauthorizedError
from requests_ntlm import HttpNtlmAuth

pytestmark = pytest.mark.subprocess

DEMO_PASSWORD = "demo-password"
BOB = "bob@example.org"
BOB_PASSWORD = "b:ö-pw"  # a colon and non-ASCII: the user file and the NT hash must cope
MAILBOXES = ["--mailbox", f"demo@example.com:{DEMO_PASSWORD}", "--mailbox", f"{BOB}:{BOB_PASSWORD}"]
GET_CONTACTS = b"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
 xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
<s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header>
<s:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>
<m:FolderIds><t:DistinguishedFolderId Id="contacts"/></m:FolderIds></m:GetFolder></s:Body>
</s:Envelope>"""
HEADERS = {"Content-Type": "text/xml; charset=utf-8"}


@pytest.fixture(scope="module")
def sandbox():
    with validated_sandbox(["--seed", "12", "--auth", "ntlm,basic", *MAILBOXES]) as sb:
        yield sb
    exchangelib.close_connections()


def ntlm_account(sandbox, address: str, password: str) -> Account:
    config = Configuration(
        service_endpoint=endpoint(sandbox),
        credentials=Credentials(address, password),
        auth_type=NTLM,
        version=Version(build=Build(*BUILD)),
    )
    return Account(address, config=config, autodiscover=False, access_type=DELEGATE)


def connection(sandbox) -> http.client.HTTPConnection:
    parts = urlsplit(sandbox.base_url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def post(conn: http.client.HTTPConnection, authorization: str | None = None):
    headers = dict(HEADERS, **({"Authorization": authorization} if authorization else {}))
    conn.request("POST", "/EWS/Exchange.asmx", body=GET_CONTACTS, headers=headers)
    resp = conn.getresponse()
    resp.read()
    return resp


def ntlm_client(user: str = "\\demo@example.com", password: str = DEMO_PASSWORD):
    return spnego.client(user, password, protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)


def b64(token: bytes) -> str:
    return base64.b64encode(token).decode()


def negotiate(conn: http.client.HTTPConnection, client) -> bytes:
    """Send the type 1 on ``conn``; return the type 3 answering the server's challenge."""
    challenge = post(conn, "NTLM " + b64(client.step()))
    assert challenge.status == 401
    [value] = challenge.headers.get_all("WWW-Authenticate")
    assert value.startswith("NTLM ")
    return client.step(base64.b64decode(value.removeprefix("NTLM ")))


def test_401_offers_ntlm_next_to_basic(sandbox):
    anonymous = requests.post(endpoint(sandbox), data=GET_CONTACTS, headers=HEADERS, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.raw.headers.getlist("WWW-Authenticate") == [
        "NTLM",
        'Basic realm="ews-sandbox"',
    ]


def test_exchangelib_ntlm_reads_its_own_mailbox(sandbox):
    sandbox.reset()
    over_ntlm = ntlm_account(sandbox, BOB, BOB_PASSWORD)
    over_basic = account(sandbox, BOB, BOB_PASSWORD)
    ntlm_ids = {c.id for c in over_ntlm.contacts.all().only("display_name")}
    assert ntlm_ids
    assert ntlm_ids == {c.id for c in over_basic.contacts.all().only("display_name")}
    assert over_ntlm.protocol.auth_type == NTLM
    assert set(sandbox.stats()["by_tenant"]) == {BOB}
    exchangelib.close_connections()


def test_auth_guessing_picks_ntlm_once_it_is_offered(sandbox):
    exchangelib.close_connections()
    guessed = account(sandbox, guess=True)
    assert guessed.contacts.total_count > 0
    assert guessed.protocol.auth_type == NTLM  # exchangelib prefers ntlm over basic
    exchangelib.close_connections()


def test_wrong_ntlm_password_is_unauthorized(sandbox):
    with pytest.raises(UnauthorizedError):
        _ = ntlm_account(sandbox, BOB, "not-" + BOB_PASSWORD).root
    # Not a matter of the user-name form: DOMAIN\\address is not a sandbox NTLM user either.
    with pytest.raises(UnauthorizedError):
        _ = ntlm_account(sandbox, f"EXAMPLE\\{BOB}", BOB_PASSWORD).root
    exchangelib.close_connections()


def test_an_authenticated_connection_stays_so_and_no_other_connection_is(sandbox):
    sandbox.reset()
    with requests.Session() as session:
        session.auth = HttpNtlmAuth(f"\\{BOB}", BOB_PASSWORD)
        for _ in range(3):
            done = session.post(endpoint(sandbox), data=GET_CONTACTS, headers=HEADERS, timeout=10)
            assert done.status_code == 200
        # One handshake (anonymous 401, challenge 401, type 3) for the keep-alive connection,
        # then the requests without Authorization act as Bob on it.
        stats = sandbox.stats()
        assert stats["reads"]["GetFolder"] == 5
        assert stats["by_tenant"][BOB]["reads"]["GetFolder"] == 3
        # Meanwhile a client without credentials on its own connection is refused.
        anonymous = requests.post(endpoint(sandbox), data=GET_CONTACTS, headers=HEADERS, timeout=10)
        assert anonymous.status_code == 401
        assert session.post(endpoint(sandbox), data=GET_CONTACTS, timeout=10).status_code == 200


def test_handshake_state_belongs_to_its_connection(sandbox):
    first, second = connection(sandbox), connection(sandbox)
    try:
        # A type 3 on another connection than its challenge proves nothing.
        authenticate = negotiate(first, ntlm_client())
        assert post(second, "NTLM " + b64(authenticate)).status == 401
        assert post(first).status == 401
        # The whole handshake on one connection authenticates that connection only.
        assert post(first, "NTLM " + b64(negotiate(first, ntlm_client()))).status == 200
        assert post(first).status == 200
        assert post(second).status == 401
    finally:
        first.close()
        second.close()
    # A new connection starts unauthenticated (the closed one's state is gone).
    third = connection(sandbox)
    try:
        assert post(third).status == 401
    finally:
        third.close()


@pytest.mark.parametrize(
    "authorization",
    [
        "NTLM",
        "NTLM not-base64!",
        "NTLM " + b64(b"hello, not NTLMSSP"),
        "NTLM " + b64(b"NTLMSSP\x00\x03\x00\x00\x00" + b"\x00" * 60),  # type 3 without a type 1
        "NTLM " + b64(b"NTLMSSP\x00\x01\x00\x00\x00"),  # truncated type 1
    ],
)
def test_malformed_ntlm_messages_are_401_not_500(sandbox, authorization):
    conn = connection(sandbox)
    try:
        resp = post(conn, authorization)
        assert resp.status == 401
        assert resp.headers.get_all("WWW-Authenticate") == ["NTLM", 'Basic realm="ews-sandbox"']
    finally:
        conn.close()


def test_wrong_password_type_3_is_401_and_leaves_the_connection_unauthenticated(sandbox):
    conn = connection(sandbox)
    try:
        bad = negotiate(conn, ntlm_client(password="wrong"))
        assert post(conn, "NTLM " + b64(bad)).status == 401
        assert post(conn).status == 401
    finally:
        conn.close()


def test_ntlm_is_off_by_default_and_basic_can_be_switched_off():
    with validated_sandbox() as default, validated_sandbox(["--auth", "ntlm"]) as ntlm_only:
        conn = connection(default)
        try:
            resp = post(conn, "NTLM " + b64(ntlm_client().step()))
            assert resp.status == 401
            assert resp.headers.get_all("WWW-Authenticate") == ['Basic realm="ews-sandbox"']
        finally:
            conn.close()
        assert ntlm_account(ntlm_only, "demo@example.com", DEMO_PASSWORD).contacts.total_count == 0
        exchangelib.close_connections()  # protocols are cached by endpoint and credentials
        with pytest.raises(UnauthorizedError):
            _ = account(ntlm_only).root  # Basic with the right password
        refused = requests.post(
            endpoint(ntlm_only), data=GET_CONTACTS, headers=HEADERS, timeout=10,
            auth=("demo@example.com", DEMO_PASSWORD),
        )  # fmt: skip
        assert refused.raw.headers.getlist("WWW-Authenticate") == ["NTLM"]
    exchangelib.close_connections()


def test_unknown_auth_scheme_is_a_usage_error(capsys: pytest.CaptureFixture[str]):
    parser = build_parser()
    with pytest.raises(SystemExit) as exit_info:
        build_state(parser, parser.parse_args(["--auth", "basic,kerberos"]))
    assert exit_info.value.code == 2
    assert "--auth: expected a comma-separated subset of basic,ntlm" in capsys.readouterr().err


@contextmanager
def served_in_process(argv: list[str]) -> Iterator[tuple[web.Application, AbstractEventLoop, int]]:
    """The app served in this process (own loop thread), to look at its per-connection state."""
    parser = build_parser()
    app = build_app(build_state(parser, parser.parse_args(argv)))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = web.AppRunner(app, access_log=None, handle_signals=False)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return site._server.sockets[0].getsockname()[1]

    try:
        yield app, loop, asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_closed_connections_are_forgotten_and_the_user_file_holds_no_password():
    with served_in_process(["--auth", "ntlm", *MAILBOXES]) as (app, loop, port):
        ntlm = app[STATE_KEY].ntlm
        user_file = ntlm.user_file
        text = user_file.read_text()
        assert BOB in text
        assert DEMO_PASSWORD not in text
        assert "b:ö" not in text

        def live_connections() -> int:
            async def count() -> int:
                return len(ntlm)

            return asyncio.run_coroutine_threadsafe(count(), loop).result(10)

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert post(conn, "NTLM " + b64(negotiate(conn, ntlm_client()))).status == 200
        assert post(conn).status == 200
        assert live_connections() == 1
        conn.close()
        deadline = time.monotonic() + 5
        while live_connections() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live_connections() == 0
    assert not user_file.exists()
