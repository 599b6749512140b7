"""exchange_mailbox.ews.transport: answers reach exchangelib's parser in whole chunks."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from exchange_mailbox.ews.transport import (
    CONTENT_CHUNK,
    EndpointAdapter,
    WholeChunkResponse,
    ntlm_authenticate_leg,
    operation_of,
)

BODY = b"<x>" + b"a" * 100_000 + b"</x>"


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/EWS/Exchange.asmx"
    server.shutdown()
    server.server_close()


def _session() -> requests.Session:
    session = requests.Session()
    session.mount("http://", EndpointAdapter())
    return session


def test_an_answer_in_memory_is_handed_over_in_whole_chunks(url: str) -> None:
    response = _session().get(url, timeout=10)
    assert isinstance(response, WholeChunkResponse)
    # exchangelib calls iter_content() with no size: requests' default gives 100,007 pieces.
    chunks = list(response.iter_content())
    assert b"".join(chunks) == BODY
    assert len(chunks) == -(-len(BODY) // CONTENT_CHUNK)


def test_a_streamed_answer_keeps_the_default_chunk(url: str) -> None:
    response = _session().get(url, timeout=10, stream=True)
    first = next(response.iter_content())
    assert first == b"<"
    response.close()


SOAP_READ = (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    '<m:GetItem xmlns:m="urn:m"/></s:Body></s:Envelope>'
)


@pytest.mark.spec("S10.2")
def test_operation_is_read_from_str_or_bytes_bodies_only() -> None:
    assert operation_of(SOAP_READ) == "GetItem"
    assert operation_of(SOAP_READ.encode()) == "GetItem"
    # A streamed or empty body is never taken for a read (so never retried by this layer).
    assert operation_of(iter([SOAP_READ.encode()])) is None
    assert operation_of(b"") is None
    assert operation_of(None) is None


@pytest.mark.spec("S10.2")
def test_ntlm_type_3_is_recognised_in_str_and_bytes_headers() -> None:
    token = base64.b64encode(b"NTLMSSP\x00\x03\x00\x00\x00" + b"\x00" * 20).decode()
    for header in (f"NTLM {token}", f"NTLM {token}".encode(), f"Negotiate {token}"):
        request = requests.Request("POST", "http://127.0.0.1/", headers={"Authorization": header})
        assert ntlm_authenticate_leg(request.prepare()), header
    type_1 = base64.b64encode(b"NTLMSSP\x00\x01\x00\x00\x00").decode()
    for header in (f"NTLM {type_1}", "Basic dXNlcjpwdw==", ""):
        request = requests.Request("POST", "http://127.0.0.1/", headers={"Authorization": header})
        assert not ntlm_authenticate_leg(request.prepare()), header
