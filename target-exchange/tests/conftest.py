"""Fixtures: an EWS sandbox per module, a fresh mailbox + ledger per test, and a runner that
feeds hand-made Singer messages (Sell ``data`` objects) to the target in-process."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import exchangelib
import pytest
from exchange_mailbox.ews.connection import connect, disconnect
from graph_sandbox.testing import EWS_ONLY_SETTINGS, graph_id, graph_settings, plugin_env
from sandbox_common.process import running_sandbox
from target_exchange.target import TargetExchange

PASSWORD = "pw-secret-123"
_counter = itertools.count()
MAILBOXES = [f"user{n}@example.com" for n in range(40)]
# Microsoft Graph (S13.1): an app registration of exchange-sandbox, and a delegated token per
# mailbox for the tests' own id translation (the product never translates ids, S13.2).
TENANT, CLIENT_ID, CLIENT_SECRET = "graph-tenant", "graph-client", "S3cret~graph-target-0123"
DELEGATED = "delegated-token-for-tests-"
APP = {"tenant": TENANT, "client_id": CLIENT_ID, "secret": CLIENT_SECRET}

CONTACT_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
    "additionalProperties": True,
}


@pytest.fixture(scope="module")
def ews():
    args = []
    for address in MAILBOXES:
        args += ["--mailbox", f"{address}:{PASSWORD}"]
    with running_sandbox("ews-sandbox", args) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def exchange():
    """exchange-sandbox over TLS with an app registration: the same store over EWS and Graph."""
    args = ["--tls", "--app", f"{TENANT}:{CLIENT_ID}:{CLIENT_SECRET}"]
    for n, address in enumerate(MAILBOXES):
        args += ["--mailbox", f"{address}:{PASSWORD}", "--oauth-token", f"{address}:{DELEGATED}{n}"]
    with running_sandbox("exchange-sandbox", args) as sandbox:
        yield sandbox


def graph_env(sandbox: Any, prefix: str = "TARGET_EXCHANGE") -> dict[str, str]:
    """Graph settings as Meltano environment variables, the demo environment's EWS ones blanked."""
    return plugin_env(prefix, graph_settings(sandbox, **APP), blank=EWS_ONLY_SETTINGS)


@dataclass
class Env:
    ews: Any
    mailbox: str
    tmp: Path
    protocol: str = "ews"

    @property
    def endpoint(self) -> str:
        return f"{self.ews.base_url}/EWS/Exchange.asmx"

    def ews_config(self) -> dict[str, Any]:
        """The test's own EWS access to the mailbox (Outlook's view), over either sandbox."""
        tls = {"ca_bundle": str(self.ews.cafile)} if getattr(self.ews, "cafile", None) else {}
        return {
            "service_endpoint": self.endpoint,
            "primary_smtp_address": self.mailbox,
            "password": PASSWORD,
            "auth_type": "basic",
            "server_version": "15.1.2507.6",
            **tls,
        }

    def config(self, **extra: Any) -> dict[str, Any]:
        own = {
            "tenant": "t1",
            "ledger_url": f"sqlite:///{self.tmp / 'ledger.db'}",
            "report_path": str(self.tmp / "report.json"),
        }
        if self.protocol == "graph":
            return {**graph_settings(self.ews, self.mailbox, **APP), **own, **extra}
        return {**self.ews_config(), **own, **extra}

    def graph_id(self, ews_id: str) -> str:
        """The id target-exchange knows an item by over this protocol (tests only)."""
        if self.protocol != "graph":
            return ews_id
        delegated = f"{DELEGATED}{MAILBOXES.index(self.mailbox)}"
        return graph_id(self.ews, self.mailbox, delegated, ews_id)

    def run(self, streams: Mapping[str, Iterable[Mapping[str, Any]]], **extra: Any) -> dict:
        """Run the target over SCHEMA/RECORD/STATE messages; return the JSON report."""
        lines = []
        for stream, records in streams.items():
            lines.append(
                {
                    "type": "SCHEMA",
                    "stream": stream,
                    "schema": CONTACT_SCHEMA,
                    "key_properties": ["id"],
                }
            )
            lines.extend({"type": "RECORD", "stream": stream, "record": dict(r)} for r in records)
        lines.append({"type": "STATE", "value": {"bookmarks": {"x": 1}}})
        target = TargetExchange(config=self.config(**extra))
        target.listen(io.StringIO("\n".join(json.dumps(m) for m in lines) + "\n"))
        return json.loads((self.tmp / "report.json").read_text())

    def account(self):
        return connect(self.ews_config())

    def contacts(self) -> list[exchangelib.Contact]:
        """Every contact of the private folders, all fields the tests look at."""
        from exchange_mailbox.ews.folders import private_contact_folders
        from exchange_mailbox.ews.records import FETCH_FIELDS
        from exchangelib.folders import FolderCollection

        account = self.account()
        try:
            folders = [f.folder for f in private_contact_folders(account)]
            items = FolderCollection(account=account, folders=folders).all().only(*FETCH_FIELDS)
            return [i for i in items if isinstance(i, exchangelib.Contact)]
        finally:
            disconnect(account)


@pytest.fixture
def env(ews, tmp_path) -> Env:
    return Env(ews, MAILBOXES[next(_counter) % len(MAILBOXES)], tmp_path)


def person(i: int, **over: Any) -> dict[str, Any]:
    record = {
        "id": i,
        "is_organization": False,
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "email": f"person{i}@example.org",
        "phone": "+1 212 555 0100",
        "title": "Engineer",
        "contact_id": None,
        "prospect_status": "none",
        "customer_status": "none",
        "updated_at": "2025-01-01T10:00:00Z",
        "address": {
            "line1": f"{i} Main St",
            "city": "Springfield",
            "postal_code": "12345",
            "state": "IL",
            "country": "US",
        },
    }
    record.update(over)
    return record


def company(i: int, name: str, **over: Any) -> dict[str, Any]:
    record = {
        "id": i,
        "is_organization": True,
        "name": name,
        "email": None,
        "prospect_status": "none",
        "customer_status": "none",
        "updated_at": "2025-01-01T10:00:00Z",
    }
    record.update(over)
    return record


def lead(i: int, **over: Any) -> dict[str, Any]:
    record = {
        "id": i,
        "first_name": f"Lead{i}",
        "last_name": "Person",
        "organization_name": "LeadCo",
        "email": f"lead{i}@example.org",
        "updated_at": "2025-01-01T10:00:00Z",
    }
    record.update(over)
    return record
