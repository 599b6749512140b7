"""Shared test helpers: a scripted HTTP server (retries, pacing) and Sell sandbox fixtures."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

#: A scripted answer: (status, body, headers), or "drop" to close the socket without answering.
Answer = tuple[int, dict | None, dict[str, str]] | str


@dataclass
class Seen:
    method: str
    path: str
    body: dict | None
    at: float


@dataclass
class Script:
    answers: list[Answer] = field(default_factory=list)
    default: Callable[[Seen], Answer] = lambda seen: (200, {"data": {"id": 1}}, {})
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, seen: Seen) -> Answer:
        with self.lock:
            self.seen.append(seen)
            return self.answers.pop(0) if self.answers else self.default(seen)


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            answer = script.next(Seen(self.command, self.path, body, time.monotonic()))
            if answer == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            status, payload, headers = answer  # type: ignore[misc]
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _answer  # noqa: N815 - http.server names

    return Handler


@contextmanager
def scripted_server(script: Script) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def error(status: int, code: str, details: str, field_name: str | None = None) -> Answer:
    err = {"code": code, "message": code, "details": details}
    if field_name:
        err["field"] = field_name
        err["resource"] = "contact"
    return (
        status,
        {
            "errors": [{"error": err, "meta": {"type": "error"}}],
            "meta": {"type": "errors", "http_status": str(status), "logref": "ref-1"},
        },
        {},
    )


@pytest.fixture
def scripted() -> Iterator[Callable[..., tuple[Script, str]]]:
    """Start scripted servers: ``script, url = scripted(answer, ...)``."""
    stack = ExitStack()

    def start(*answers: Answer, default: Callable[[Seen], Answer] | None = None):
        script = Script(answers=list(answers))
        if default is not None:
            script.default = default
        url = stack.enter_context(scripted_server(script))
        return script, url

    with stack:
        yield start


@pytest.fixture
def sell_error() -> Callable[..., Answer]:
    """Build a Sell error envelope answer: ``sell_error(422, "invalid", "details", "/email")``."""
    return error
