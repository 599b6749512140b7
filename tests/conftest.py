"""Fixtures for the cross-plugin tests: sandboxes started like a user does, and Meltano runs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import exchangelib
import pytest
from graph_sandbox.testing import EWS_ONLY_SETTINGS, graph_settings, plugin_env
from sandbox_common.meltano_project import MeltanoProject
from sandbox_common.process import SandboxProcess, running_sandbox

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "e2e-mailbox-password"  # sandbox credentials made up for the tests
EXCHANGE_PLUGINS = ("TAP_EXCHANGE_CONTACTS", "TARGET_EXCHANGE")
# An app registration of exchange-sandbox (made up for the tests): tenant, client id, secret.
GRAPH_APP = {"tenant": "e2e-tenant", "client_id": "e2e-graph-app", "secret": "S3cret~e2e-app-01"}


def make_token(name: str) -> str:
    """A 64-character Sell token, distinct per name."""
    return hashlib.sha256(f"e2e token {name}".encode()).hexdigest()


def demo_env(
    sell: SandboxProcess, ews: SandboxProcess, token: str, mailbox: str, password: str = PASSWORD
) -> dict:
    """Variables the `demo` environment of meltano.yml reads (plus the ledger in the sys dir)."""
    return {
        "DEMO_SELL_URL": sell.base_url,
        "DEMO_SELL_TOKEN": token,
        "DEMO_EWS_ENDPOINT": f"{ews.base_url}/EWS/Exchange.asmx",
        "DEMO_EWS_MAILBOX": mailbox,
        "DEMO_EWS_PASSWORD": password,
    }


def graph_sandbox_args(app: dict[str, str] = GRAPH_APP) -> list[str]:
    """exchange-sandbox over TLS (its own CA) with ``app`` registered, as Exchange Online."""
    return ["--tls", "--app", f"{app['tenant']}:{app['client_id']}:{app['secret']}"]


def graph_demo_env(exchange: SandboxProcess, app: dict[str, str] = GRAPH_APP) -> dict[str, str]:
    """Both Exchange plugins of the `demo` environment on Microsoft Graph: the app's client
    credentials (msal), the sandbox's TLS, the environment's EWS settings blanked. The mailbox
    stays ``DEMO_EWS_MAILBOX``."""
    settings = graph_settings(exchange, **app)
    env: dict[str, str] = {}
    for prefix in EXCHANGE_PLUGINS:
        env |= plugin_env(prefix, settings, blank=EWS_ONLY_SETTINGS)
    return env


@pytest.fixture
def isolated_project(tmp_path: Path) -> Iterator[MeltanoProject]:
    project = MeltanoProject.isolated(ROOT, tmp_path)
    yield project
    exchangelib.close_connections()


@pytest.fixture
def sandboxes_factory() -> Iterator:
    """Start a Sell and an Exchange sandbox with the given arguments; stopped at teardown.
    ``exchange`` is ``ews-sandbox`` (EWS only) or ``exchange-sandbox`` (EWS and Graph)."""
    started: list = []

    def start(
        sell_args: list[str], ews_args: list[str], exchange: str = "ews-sandbox"
    ) -> tuple[SandboxProcess, SandboxProcess]:
        sell_cm = running_sandbox("sell-sandbox", sell_args)
        ews_cm = running_sandbox(exchange, ews_args)
        started.extend([sell_cm, ews_cm])
        return sell_cm.__enter__(), ews_cm.__enter__()

    yield start
    for cm in reversed(started):
        cm.__exit__(None, None, None)
