"""Shared test helpers: a scripted HTTP server (retries, pacing) and Sell sandbox fixtures."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from werkzeug import Request, Response

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

    def respond(self, request: Request) -> Response:
        """pytest-httpserver's handler: the next scripted answer to whatever was asked."""
        from werkzeug import Response  # late: see the scripted fixture

        query = request.query_string.decode()
        path = f"{request.path}?{query}" if query else request.path
        body = json.loads(request.data) if request.data else None
        answer = self.next(Seen(request.method, path, body, time.monotonic()))
        if answer == "drop":
            # Cut the TCP connection: the client gets no answer at all (werkzeug then fails to
            # write the response below and treats that as a dropped connection).
            request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
            return Response(status=500)
        status, payload, headers = answer  # type: ignore[misc]
        data = json.dumps(payload) if payload is not None else b""
        return Response(
            data, status=status, headers=headers, content_type="application/json; charset=utf-8"
        )


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
    """A pytest-httpserver server per test: ``script, url = scripted(answer, ...)``.

    Threaded, so the pacing test's concurrent requests reach it as they are sent. Imported here
    so a venv set up before pytest-httpserver was added fails only the tests that use it.
    """
    from pytest_httpserver import HTTPServer

    with HTTPServer(threaded=True) as server:

        def start(*answers: Answer, default: Callable[[Seen], Answer] | None = None):
            script = Script(answers=list(answers))
            if default is not None:
                script.default = default
            server.expect_request(re.compile("^/")).respond_with_handler(script.respond)
            return script, server.url_for("/").rstrip("/")

        yield start
        server.check_handler_errors()


@pytest.fixture
def sell_error() -> Callable[..., Answer]:
    """Build a Sell error envelope answer: ``sell_error(422, "invalid", "details", "/email")``."""
    return error


# -- Sell sandbox and in-process target runs ---------------------------------------------------

import io  # noqa: E402
import itertools  # noqa: E402
from contextlib import redirect_stdout  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

from exchange_mailbox.ews.records import contact_schema  # noqa: E402
from sandbox_common.clock import wait_past as _wait_past  # noqa: E402
from sandbox_common.process import running_sandbox  # noqa: E402
from sell_sandbox.client import SellSandboxClient  # noqa: E402
from target_sell_contacts.target import TargetSellContacts  # noqa: E402

TOKENS = [f"{i:02d}" + "k" * 62 for i in range(40)]
SCHEMA = contact_schema().to_dict()
_serial = itertools.count(1)


def exchange_record(ident: str | None = None, **fields: Any) -> dict:
    """A tap-exchange-contacts ``contacts`` record (the fixed shape) with sensible blanks."""
    n = next(_serial)
    modified = fields.pop("modified", None) or datetime.now(UTC) - timedelta(minutes=5)
    record = {
        "id": ident or f"AAMkAD-{n:06d}=",
        "change_key": f"CK-{n}",
        "folder_id": "FOLDER-CONTACTS",
        "folder_path": "Contacts",
        "given_name": None,
        "middle_name": None,
        "surname": None,
        "display_name": None,
        "file_as": None,
        "company_name": None,
        "department": None,
        "job_title": None,
        "email_address_1": None,
        "email_address_2": None,
        "email_address_3": None,
        "phone_numbers": {},
        "physical_addresses": {},
        "business_home_page": None,
        "body": None,
        "categories": ["Clients"],
        "created_time": "2024-01-02T03:04:05+00:00",
        "last_modified_time": modified.isoformat() if isinstance(modified, datetime) else modified,
        "sell_link": None,
    }
    record.update(fields)
    return record


def deletion(ident: str) -> dict:
    return {
        "id": ident,
        "folder_id": "FOLDER-CONTACTS",
        "_sdc_deleted_at": datetime.now(UTC).isoformat(),
    }


def singer_lines(
    records: list[dict],
    stream: str = "contacts",
    state: dict | None = None,
    schema: dict | None = None,
) -> str:
    lines = [
        {"type": "SCHEMA", "stream": stream, "schema": schema or SCHEMA, "key_properties": ["id"]},
        *({"type": "RECORD", "stream": stream, "record": r} for r in records),
        {"type": "STATE", "value": state or {"bookmarks": {stream: {"n": len(records)}}}},
    ]
    return "\n".join(json.dumps(line) for line in lines) + "\n"


@dataclass
class TargetRun:
    stdout: str
    report: dict

    @property
    def states(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def count(self, name: str, stream: str = "contacts") -> int:
        return self.report.get("streams", {}).get(stream, {}).get(name, 0)


@dataclass
class Tenant:
    api: SellSandboxClient  # seeds Sell and shows what the target wrote
    config: dict
    sandbox: Any  # the sell-sandbox process: whole-sandbox stats() and reset()

    def run(self, records: list[dict] | str, **overrides: Any) -> TargetRun:
        config = {**self.config, **overrides}
        text = records if isinstance(records, str) else singer_lines(records)
        target = TargetSellContacts(config=config, validate_config=True)
        out = io.StringIO()
        with redirect_stdout(out):
            target.listen(io.StringIO(text))
        report = json.loads(Path(config["report_path"]).read_text())
        return TargetRun(out.getvalue(), report)


@pytest.fixture(scope="session")
def sell_sandbox() -> Iterator[Any]:
    args = ["--rate-limit", "0"]
    for token in TOKENS:
        args += ["--token", token]
    with running_sandbox("sell-sandbox", args) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def bare_sell_sandbox() -> Iterator[Any]:
    """An account without any custom field: notes fallback and the intent protocol."""
    args = ["--rate-limit", "0", "--no-custom-fields"]
    for token in TOKENS[:10]:
        args += ["--token", token]
    with running_sandbox("sell-sandbox", args) as sandbox:
        yield sandbox


_free_tokens = {"full": iter(TOKENS), "bare": iter(TOKENS[:10])}


def _tenant(sandbox: Any, kind: str, tmp_path: Path, **extra: Any) -> Tenant:
    return tenant_for(sandbox, next(_free_tokens[kind]), tmp_path, **extra)


@pytest.fixture
def tenant(sell_sandbox: Any, tmp_path: Path) -> Tenant:
    """A fresh Sell account with the default custom fields, and the target's config for it."""
    return _tenant(
        sell_sandbox,
        "full",
        tmp_path,
        exchange_id_field="Exchange ID",
        overwritten_values_field="Overwritten values",
    )


@pytest.fixture
def bare_tenant(bare_sell_sandbox: Any, tmp_path: Path) -> Tenant:
    """A fresh Sell account without custom fields (no exchange id, notes for lost values)."""
    return _tenant(bare_sell_sandbox, "bare", tmp_path)


@pytest.fixture
def make_record() -> Callable[..., dict]:
    return exchange_record


@pytest.fixture
def make_deletion() -> Callable[[str], dict]:
    return deletion


@pytest.fixture
def lines() -> Callable[..., str]:
    return singer_lines


def tenant_for(sandbox: Any, token: str, workdir: Path, **extra: Any) -> Tenant:
    config = {
        "api_token": token,
        "api_url": sandbox.base_url,
        "tenant": f"t-{token[:2]}",
        "ledger_url": f"sqlite:///{workdir / 'ledger.db'}",
        "report_path": str(workdir / "report.json"),
        "requests_per_second": 0,
        "max_retries": 3,
        **extra,
    }
    return Tenant(SellSandboxClient(sandbox.base_url, token), config, sandbox)


@pytest.fixture(scope="session")
def tenant_factory() -> Callable[..., Tenant]:
    """``tenant_factory(sandbox, token, workdir, **settings)`` for tests with their own sandbox."""
    return tenant_for


@pytest.fixture(scope="session")
def spare_token() -> str:
    """A token no shared-sandbox test uses, for a test's own sandbox."""
    return "zz" + "q" * 62


@pytest.fixture
def wait_past() -> Callable[[str], None]:
    """Wait (bounded) until the wall clock is past the second of a Sell ``updated_at``."""
    return _wait_past
