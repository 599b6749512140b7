"""exchange_mailbox.ews.connection against tiny local HTTP(S) servers (no EWS needed).

Each failure must surface as one ExchangeSetupError naming the setting, quickly, with no secret
in the message or in any log line (even at DEBUG).
"""

from __future__ import annotations

import base64
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from exchange_mailbox.errors import ExchangeSetupError
from exchange_mailbox.ews import connection
from exchange_mailbox.ews.retry_policy import SyncRetryPolicy
from exchangelib import DELEGATE
from exchangelib.protocol import Protocol

PASSWORD = "pw-Sup3r-S3cret"
TOKEN = "tok-Sup3r-S3cret"


class _Unauthorized(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="test"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorized)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}/EWS/Exchange.asmx"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def config(endpoint: str, **extra: object) -> dict:
    return {
        "primary_smtp_address": "ada@example.com",
        "password": PASSWORD,
        "service_endpoint": endpoint,
        "server_version": "15.1.2507.6",
        **extra,
    }


def assert_no_secret(text: str) -> None:
    basic = base64.b64encode(f"ada@example.com:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, TOKEN, basic):
        assert secret not in text


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.mark.spec("S10.3", "S11")
def test_bad_credentials_name_password_without_leaking(debug_logs) -> None:
    with serve() as url:
        started = time.monotonic()
        with pytest.raises(ExchangeSetupError) as info:
            connection.connect(config(url))
    assert time.monotonic() - started < 10  # no back-off loop on a 401 at first contact
    assert info.value.setting == "password"
    assert "401" in str(info.value)
    assert "username and password" in str(info.value)
    assert_no_secret(str(info.value))
    assert_no_secret(debug_logs.text)
    assert any("POST" in r.getMessage() or "Request" in r.getMessage() for r in debug_logs.records)


@pytest.mark.spec("S10.3", "S11")
def test_bad_token_names_access_token(debug_logs) -> None:
    cfg = config("", auth_type="oauth2", password=None, access_token=TOKEN)
    with serve() as url:
        cfg["service_endpoint"] = url
        with pytest.raises(ExchangeSetupError) as info:
            connection.connect(cfg)
    assert info.value.setting == "access_token"
    assert_no_secret(str(info.value))
    assert_no_secret(debug_logs.text)


@pytest.mark.spec("S10.3")
def test_unreachable_server_names_the_endpoint_setting() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/EWS/Exchange.asmx"
    started = time.monotonic()
    with pytest.raises(ExchangeSetupError) as info:
        connection.connect(config(url))
    assert time.monotonic() - started < 10
    assert info.value.setting == "service_endpoint"
    assert "Cannot reach" in str(info.value)
    assert_no_secret(str(info.value))


@pytest.mark.subprocess
@pytest.mark.spec("S10.3", "S11")
def test_untrusted_certificate_is_a_tls_error_naming_ca_bundle(self_signed) -> None:
    cert, key = self_signed
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with serve(tls) as url:
        with pytest.raises(ExchangeSetupError) as info:
            connection.connect(config(url))
        assert info.value.setting == "ca_bundle"
        assert "TLS" in str(info.value)
        # The same server, trusted through ca_bundle: TLS passes and the 401 is what remains.
        with pytest.raises(ExchangeSetupError) as trusted:
            connection.connect(config(url, ca_bundle=str(cert)))
        assert trusted.value.setting == "password"
        with pytest.raises(ExchangeSetupError) as unverified:
            connection.connect(config(url, verify_ssl=False))
        assert unverified.value.setting == "password"


@pytest.mark.spec("S10.2")
def test_account_is_delegate_with_bounded_fault_tolerance_and_fresh_protocol() -> None:
    url = "http://127.0.0.1:9/EWS/Exchange.asmx"
    first = connection.connect(config(url, retry_max_wait=30), probe=False)
    assert first.access_type == DELEGATE
    policy = first.protocol.retry_policy
    assert isinstance(policy, SyncRetryPolicy)
    assert policy.max_wait == 30
    assert not policy.fail_fast
    # exchangelib caches protocols by (endpoint, credentials): a new connect must not inherit
    # the old retry policy, and disconnect must forget the cached protocol.
    second = connection.connect(config(url, retry_max_wait=60), probe=False)
    assert second.protocol is not first.protocol
    assert second.protocol.retry_policy.max_wait == 60
    connection.disconnect(second)
    with pytest.raises(KeyError):
        Protocol[second.protocol.config]
