"""Fixtures for the cross-plugin tests: sandboxes started like a user does, and Meltano runs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import exchangelib
import pytest
from sandbox_common.meltano_project import MeltanoProject
from sandbox_common.process import SandboxProcess, running_sandbox

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "e2e-mailbox-password"  # sandbox credentials made up for the tests


def make_token(name: str) -> str:
    """A 64-character Sell token, distinct per name."""
    return hashlib.sha256(f"e2e token {name}".encode()).hexdigest()


def demo_env(sell: SandboxProcess, ews: SandboxProcess, token: str, mailbox: str) -> dict:
    """Variables the `demo` environment of meltano.yml reads (plus the ledger in the sys dir)."""
    return {
        "DEMO_SELL_URL": sell.base_url,
        "DEMO_SELL_TOKEN": token,
        "DEMO_EWS_ENDPOINT": f"{ews.base_url}/EWS/Exchange.asmx",
        "DEMO_EWS_MAILBOX": mailbox,
        "DEMO_EWS_PASSWORD": PASSWORD,
    }


@pytest.fixture
def isolated_project(tmp_path: Path) -> Iterator[MeltanoProject]:
    project = MeltanoProject.isolated(ROOT, tmp_path)
    yield project
    exchangelib.close_connections()


@pytest.fixture
def sandboxes_factory() -> Iterator:
    """Start a Sell and an EWS sandbox with the given arguments; stopped at teardown."""
    started: list = []

    def start(sell_args: list[str], ews_args: list[str]) -> tuple[SandboxProcess, SandboxProcess]:
        sell_cm = running_sandbox("sell-sandbox", sell_args)
        ews_cm = running_sandbox("ews-sandbox", ews_args)
        started.extend([sell_cm, ews_cm])
        return sell_cm.__enter__(), ews_cm.__enter__()

    yield start
    for cm in reversed(started):
        cm.__exit__(None, None, None)
