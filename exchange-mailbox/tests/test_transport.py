"""exchange_mailbox.ews.transport: answers reach exchangelib's parser in whole chunks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from exchange_mailbox.ews.transport import CONTENT_CHUNK, EndpointAdapter, WholeChunkResponse

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
