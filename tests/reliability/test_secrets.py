"""S11: secrets never reach a log line, a report, Meltano state or a ledger row.

A full two-way sync runs through Meltano at DEBUG log level (Meltano's and the plugins' own,
``LOGLEVEL``) with distinctive secrets, then every place a secret could leak is searched for them:
over EWS the mailbox password and the Basic-auth header it makes; over Microsoft Graph the app's
client secret and every access token msal got for it (a JWT, ``eyJ…``, as Entra issues them).
"""

from __future__ import annotations

import base64
import hashlib
import re
import sqlite3
from pathlib import Path

import pytest
from graph_sandbox.testing import app_token

from tests.conftest import demo_env, graph_demo_env, graph_sandbox_args

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano"), pytest.mark.spec("S11")]

TOKEN = "c4n4ry" + hashlib.sha256(b"canary sell token").hexdigest()[:58]
PASSWORD = "Canary-Pa55w0rd-7f3e9c-do-not-log"  # a test canary, not a secret
MAILBOX = "canary@secrets.example"
APP = {"tenant": "canary-tenant", "client_id": "canary-app", "secret": "Canary~AppSecret-9d41b7"}
# An access token as Entra (and exchange-sandbox) issues them: a signed JWT.
JWT = re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")


def _needles(protocol: str) -> dict[str, str]:
    basic = base64.b64encode(f"{MAILBOX}:{PASSWORD}".encode()).decode()
    needles = {"sell token": TOKEN, "sell token (first 20)": TOKEN[:20]}
    if protocol == "graph":
        return needles | {
            "client secret": APP["secret"],
            "client secret (first 12)": APP["secret"][:12],
        }
    return needles | {"mailbox password": PASSWORD, "basic auth header": basic}


def _ledger_dump(path: Path) -> str:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            repr(row)
            for table in tables
            for row in db.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from sqlite_master
        )


@pytest.mark.parametrize("protocol", ["ews", "graph"])
def test_no_secret_in_logs_reports_state_or_ledger(
    isolated_project, sandboxes_factory, tmp_path, protocol
):
    mailbox_args = ["--seed", "25", "--mailbox", f"{MAILBOX}:{PASSWORD}"]
    if protocol == "graph":
        sell, ews = sandboxes_factory(
            ["--rate-limit", "0", "--seed", "25", "--token", TOKEN],
            [*mailbox_args, *graph_sandbox_args(APP)],
            "exchange-sandbox",
        )
    else:
        sell, ews = sandboxes_factory(
            ["--rate-limit", "0", "--seed", "25", "--token", TOKEN], mailbox_args
        )
    env = demo_env(sell, ews, TOKEN, MAILBOX, PASSWORD)
    if protocol == "graph":
        env |= graph_demo_env(ews, APP)
    ledger = tmp_path / "ledger.db"
    reports = tmp_path / "reports"
    for target in ("TARGET_SELL_CONTACTS", "TARGET_EXCHANGE"):
        env[f"{target}_LEDGER_URL"] = f"sqlite:///{ledger}"
        env[f"{target}_REPORT_PATH"] = str(reports / f"{target.lower()}.json")
    isolated_project.env |= env

    logs = []
    for _ in range(2):
        proc = isolated_project.run(
            "--log-level=debug",
            "--environment=demo",
            "run",
            "two-way-sync",
            extra_env={"LOGLEVEL": "DEBUG"},
        )
        logs.append(proc.stdout + proc.stderr)
    assert sell.stats()["total_writes"] > 0  # the run really synced something
    assert ews.stats()["total_writes"] > 0
    if protocol == "graph":  # the plugins got tokens (msal), shaped as the pattern looks for
        assert ews.stats()["touched"].get("identity"), ews.stats()["touched"]
        assert JWT.fullmatch(app_token(ews, **APP))

    places = {"meltano and plugin logs": "\n".join(logs)}
    report_files = sorted(reports.glob("*.json"))
    assert len(report_files) == 2
    places |= {f"report {p.name}": p.read_text() for p in report_files}
    for state_id in (
        "demo:tap-exchange-contacts-to-target-sell-contacts",
        "demo:tap-sell-to-target-exchange",
    ):
        state = isolated_project.run("state", "get", state_id).stdout
        assert "bookmarks" in state
        places[f"state {state_id}"] = state
    places["ledger rows"] = _ledger_dump(ledger)
    assert (
        "DEBUG" in places["meltano and plugin logs"] or "debug" in places["meltano and plugin logs"]
    )

    leaks = [
        f"{what} in {where}"
        for where, text in places.items()
        for what, needle in _needles(protocol).items()
        if needle in text
    ]
    leaks += [f"an access token in {where}" for where, text in places.items() if JWT.search(text)]
    assert not leaks, leaks
