"""Shared fixtures: one small EWS sandbox for the session, and an in-process tap runner."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from exchange_mailbox.ews import connection
from exchangelib import Account
from sandbox_common.process import SandboxProcess, running_sandbox
from tap_exchange_contacts.tap import TapExchangeContacts

SERVER_VERSION = "15.1.2507.6"
MAILBOXES = {
    "sdk@example.com": "pw-sdk",
    "scope@example.com": "pw-scope",
    "errors@example.com": "pw-errors",
    "deletes@example.com": "pw-deletes",
    "inuse@example.com": "pw-inuse",
    "race@example.com": "pw-race",
}
OAUTH_TOKEN = "oauth-token-for-scope-mailbox-0123456789"
PRIVATE_FOLDERS = {
    "Contacts",
    "Contacts/Clients",
    "Contacts/Partners",
    "Contacts/Clients/Key Accounts",
}


@dataclass
class TapRun:
    messages: list[dict[str, Any]]
    stdout: str
    state: dict[str, Any] | None = None
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@pytest.fixture(scope="session")
def ews() -> Iterator[SandboxProcess]:
    args = ["--seed", "40"]
    for address, password in MAILBOXES.items():
        args += ["--mailbox", f"{address}:{password}"]
    args += ["--oauth-token", f"scope@example.com:{OAUTH_TOKEN}"]
    with running_sandbox("ews-sandbox", args) as sandbox:
        yield sandbox


def tap_config(sandbox: SandboxProcess, address: str, **extra: Any) -> dict[str, Any]:
    return {
        "primary_smtp_address": address,
        "password": MAILBOXES.get(address, "pw"),
        "auth_type": "basic",
        "service_endpoint": f"{sandbox.base_url}/EWS/Exchange.asmx",
        "server_version": SERVER_VERSION,
        "categories": ["Clients", "Partners"],
        **extra,
    }


def run_tap(config: dict[str, Any], state: dict[str, Any] | None = None) -> TapRun:
    """The tap in-process, as `tap-exchange-contacts --config … --state …` would run it."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        TapExchangeContacts(config=config, state=state, parse_env_config=False).sync_all()
    stdout = buffer.getvalue()
    run = TapRun(
        messages=[json.loads(line) for line in stdout.splitlines() if line.strip()], stdout=stdout
    )
    for message in run.messages:
        if message["type"] == "RECORD":
            run.records.setdefault(message["stream"], []).append(message["record"])
        elif message["type"] == "STATE":
            run.state = message["value"]
    return run


def account_for(sandbox: SandboxProcess, address: str) -> Account:
    """A separate exchangelib connection for the test's own reads and edits."""
    config = tap_config(sandbox, address)
    config.pop("categories")
    return connection.connect(config)


def private_contacts(account: Account) -> list[Any]:
    """Every Contact of the private folders, read independently of the tap (FindItem+GetItem)."""
    from exchange_mailbox.ews.folders import private_contact_folders
    from exchangelib import Contact

    found = []
    for folder in private_contact_folders(account):
        for item in folder.folder.all().only(
            "categories", "sell_link", "last_modified_time", "display_name"
        ):
            if isinstance(item, Contact):
                found.append(item)
    return found
