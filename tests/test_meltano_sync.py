"""Two-way sync through real `meltano run`: tenants, convergence (S7.1), `meltano el`/`elt`.

These are the acceptance tests of the two-way-sync issue; each starts its own sandboxes and its
own Meltano system directory, so they can run next to the other tests.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from contact_mapping.testing_db import postgres_unreachable, private_postgres_database
from sandbox_common.meltano_project import env_prefix
from sell_sandbox import tenant_key
from sell_sandbox.client import SellSandboxClient

from tests.conftest import PASSWORD, demo_env, make_token

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano")]

CATEGORIES = json.dumps(["Clients", "Partners"])


def _sell_ids(sell, token: str) -> set[str]:
    return {str(r["id"]) for r in SellSandboxClient(sell.base_url, token).all("contacts")}


def _sell_emails(sell, token: str) -> set[str]:
    contacts = SellSandboxClient(sell.base_url, token).all("contacts")
    return {(c.get("email") or "").lower() for c in contacts} - {""}


def tenant_env(name: str, sell, ews, *, token: str, mailbox: str, ledger_url: str) -> dict:
    """Every setting of the four child plugins of one tenant, as environment variables."""
    endpoint = f"{ews.base_url}/EWS/Exchange.asmx"
    env = {}
    for plugin in (f"tap-exchange-contacts--{name}", f"target-exchange--{name}"):
        prefix = env_prefix(plugin)
        env |= {
            f"{prefix}_SERVICE_ENDPOINT": endpoint,
            f"{prefix}_PRIMARY_SMTP_ADDRESS": mailbox,
            f"{prefix}_USERNAME": mailbox,
            f"{prefix}_PASSWORD": PASSWORD,
            f"{prefix}_SERVER_VERSION": "15.1.2507.6",
        }
    env[f"{env_prefix(f'tap-exchange-contacts--{name}')}_CATEGORIES"] = CATEGORIES
    for plugin in (f"tap-sell--{name}", f"target-sell-contacts--{name}"):
        env |= {
            f"{env_prefix(plugin)}_API_URL": sell.base_url,
            f"{env_prefix(plugin)}_API_TOKEN": token,
        }
    for plugin in (f"target-sell-contacts--{name}", f"target-exchange--{name}"):
        env[f"{env_prefix(plugin)}_LEDGER_URL"] = ledger_url
    return env


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_ledger(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The URL both tenants' targets get: a SQLite file, or a database of its own on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared-ledger.db'}"
        return
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    with private_postgres_database("e2e_ledger") as url:
        yield url


@pytest.mark.spec("S11", "S15.3")
def test_two_tenants_at_once_see_only_their_own_data(
    isolated_project, sandboxes_factory, shared_ledger
):
    """Two workers share one ledger (SPEC §3: SQLite by default, PostgreSQL for several workers);
    the PostgreSQL case also proves the plugins' own venvs carry its driver."""
    tokens = {"acme": make_token("acme"), "globex": make_token("globex")}
    mailboxes = {"acme": "sync@acme.example", "globex": "sync@globex.example"}
    sell, ews = sandboxes_factory(
        [
            "--rate-limit",
            "0",
            "--seed",
            "30",
            *[a for t in tokens.values() for a in ("--token", t)],
        ],
        [
            "--seed",
            "30",
            *[a for m in mailboxes.values() for a in ("--mailbox", f"{m}:{PASSWORD}")],
        ],
    )
    before = {t: _sell_ids(sell, tok) for t, tok in tokens.items()}
    for name, token in tokens.items():
        isolated_project.env |= tenant_env(
            name, sell, ews, token=token, mailbox=mailboxes[name], ledger_url=shared_ledger
        )

    # Create the system database once: two first runs at the same instant would both migrate it.
    isolated_project.run("--environment=prod", "state", "list")

    def run(name: str) -> subprocess.CompletedProcess:
        return isolated_project.run("--environment=prod", "run", f"two-way-sync--{name}")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(run, tokens))

    stats = sell.stats()["by_tenant"]
    for name, token in tokens.items():
        other = "globex" if name == "acme" else "acme"
        after = _sell_ids(sell, token)
        assert after > before[name], f"{name}: nothing reached Sell"
        # Every Exchange contact created in this account came from this tenant's mailbox.
        emails = _sell_emails(sell, token)
        assert not any(e.endswith(mailboxes[other].split("@")[1]) for e in emails)
        assert stats[tenant_key(token)]["total_writes"] > 0
    ews_stats = ews.stats()["by_tenant"]
    assert set(ews_stats) >= set(mailboxes.values())

    states = {
        name: isolated_project.state(f"prod:tap-sell--{name}-to-target-exchange--{name}")
        for name in tokens
    }
    assert all(states.values())
    assert states["acme"] != states["globex"]
    listed = isolated_project.run("--environment=prod", "state", "list").stdout
    for name in tokens:
        assert f"prod:tap-exchange-contacts--{name}-to-target-sell-contacts--{name}" in listed

    engine = sa.create_engine(shared_ledger)
    try:
        with engine.connect() as db:
            rows = db.execute(sa.text("SELECT tenant, exchange_id, sell_id FROM links")).all()
    finally:
        engine.dispose()
    by_tenant = {name: {(e, s) for t, e, s in rows if t == name} for name in tokens}
    assert by_tenant["acme"]
    assert by_tenant["globex"]
    assert not by_tenant["acme"] & by_tenant["globex"]
    assert {t for t, _, _ in rows} == set(tokens)


@pytest.mark.spec("S7.1")
def test_third_two_way_sync_writes_nothing(isolated_project, sandboxes_factory):
    """S7.1: after two runs of two-way-sync with no user edits, a third writes nothing."""
    token, mailbox = make_token("converge"), "user@converge.example"
    sell, ews = sandboxes_factory(
        ["--rate-limit", "0", "--seed", "40", "--token", token],
        ["--seed", "40", "--mailbox", f"{mailbox}:{PASSWORD}"],
    )
    isolated_project.env |= demo_env(sell, ews, token, mailbox)
    for _ in range(2):
        isolated_project.run("--environment=demo", "run", "two-way-sync")
    assert sell.stats()["total_writes"] > 0
    assert ews.stats()["total_writes"] > 0
    sell.reset()
    ews.reset()
    isolated_project.run("--environment=demo", "run", "two-way-sync")
    assert sell.stats()["total_writes"] == 0, sell.stats()["writes"]
    assert ews.stats()["total_writes"] == 0, ews.stats()["writes"]


def test_meltano_el_and_elt_complete(isolated_project, sandboxes_factory):
    token, mailbox = make_token("el"), "user@el.example"
    sell, ews = sandboxes_factory(
        ["--rate-limit", "0", "--seed", "20", "--token", token],
        ["--seed", "20", "--mailbox", f"{mailbox}:{PASSWORD}"],
    )
    isolated_project.env |= demo_env(sell, ews, token, mailbox)
    before = _sell_ids(sell, token)
    isolated_project.run(
        "--environment=demo", "el", "tap-exchange-contacts", "target-sell-contacts"
    )
    assert _sell_ids(sell, token) > before
    ews.reset()
    proc = isolated_project.run("--environment=demo", "elt", "tap-sell", "target-exchange")
    assert "deprecated" in proc.stderr.lower()  # still works for stacks that call it
    assert ews.stats()["total_writes"] > 0
