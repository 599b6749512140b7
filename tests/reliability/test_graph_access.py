"""S10.3 over Microsoft Graph through `meltano run`: an app that cannot do what the run needs
stops it before any write, with a message naming what to fix.

One exchange-sandbox (TLS, the identity platform) registers several apps the way a tenant admin
may have left them: with a wrong secret, with the tap's read permissions only, without the
mailbox-settings permission (the master category list), or scoped by an application access policy
to another mailbox. Both Sell and the mailbox hold records, so a run that went on would write.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_common.meltano_project import MeltanoProject
from sandbox_common.process import SandboxProcess, running_sandbox

from tests.conftest import PASSWORD, ROOT, demo_env, graph_demo_env, make_token

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("meltano"), pytest.mark.spec("S10.3")]

TENANT = "access-tenant"
MAILBOX, OTHER = "sync@access.example", "boss@access.example"
SECRET = "S3cret~access-app-0123"
APPS = {  # client id: application permissions (None: the sandbox's default, all of them)
    "full-app": None,
    "reader-app": "Contacts.Read,MailboxSettings.Read",  # enough for the tap alone
    "contacts-app": "Contacts.ReadWrite",  # no MailboxSettings: no master category list
    "scoped-app": None,  # an application access policy limits it to OTHER
}
TO_EXCHANGE = ("tap-sell", "target-exchange")
TO_SELL = ("tap-exchange-contacts", "target-sell-contacts")


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[tuple[SandboxProcess, SandboxProcess, str]]:
    token = make_token("graph-access")
    exchange_args = ["--tls", "--seed", "5"]
    for address in (MAILBOX, OTHER):
        exchange_args += ["--mailbox", f"{address}:{PASSWORD}"]
    for client_id, permissions in APPS.items():
        exchange_args += ["--app", f"{TENANT}:{client_id}:{SECRET}"]
        if permissions:
            exchange_args += ["--app-permissions", f"{client_id}:{permissions}"]
    exchange_args += ["--app-scope", f"scoped-app:{OTHER}"]
    with (
        running_sandbox(
            "sell-sandbox", ["--rate-limit", "0", "--seed", "5", "--token", token]
        ) as sell,
        running_sandbox("exchange-sandbox", exchange_args) as exchange,
    ):
        yield sell, exchange, token


def _app(client_id: str, secret: str = SECRET) -> dict[str, str]:
    return {"tenant": TENANT, "client_id": client_id, "secret": secret}


@pytest.mark.parametrize(
    ("app", "blocks", "named"),
    [
        pytest.param(_app("full-app", "wrong~secret"), TO_EXCHANGE, ["client_secret"], id="secret"),
        pytest.param(_app("full-app", "wrong~secret"), TO_SELL, ["client_secret"], id="secret-tap"),
        pytest.param(_app("reader-app"), TO_EXCHANGE, ["Contacts.ReadWrite"], id="read-only"),
        pytest.param(
            _app("contacts-app"), TO_EXCHANGE, ["MailboxSettings.ReadWrite"], id="no-settings"
        ),
        pytest.param(_app("scoped-app"), TO_SELL, [MAILBOX, "access policy"], id="outside-policy"),
    ],
)
def test_an_app_that_cannot_do_the_run_stops_it_before_any_write(
    sandboxes, tmp_path: Path, app: dict[str, str], blocks: tuple[str, str], named: list[str]
) -> None:
    sell, exchange, token = sandboxes
    sell.reset()
    exchange.reset()
    project = MeltanoProject.isolated(
        ROOT,
        tmp_path,
        env={
            **demo_env(sell, exchange, token, MAILBOX),
            **graph_demo_env(exchange, app),
            "TAP_EXCHANGE_CONTACTS_CATEGORIES": '["Clients"]',
            "TARGET_SELL_CONTACTS_REPORT_PATH": str(tmp_path / "exchange-to-sell.json"),
            "TARGET_EXCHANGE_REPORT_PATH": str(tmp_path / "sell-to-exchange.json"),
        },
    )

    proc = project.run("--environment=demo", "run", *blocks, check=False)

    assert proc.returncode != 0, proc.stderr[-3000:]
    for name in named:
        assert name in proc.stderr, proc.stderr[-3000:]
    assert app["secret"] not in proc.stdout + proc.stderr
    assert sell.stats()["total_writes"] == 0, sell.stats()["writes"]
    assert exchange.stats()["total_writes"] == 0, exchange.stats()["writes"]
    assert exchange.stats()["touched"].get("identity")  # msal asked the token endpoint
    assert project.state(f"demo:{blocks[0]}-to-{blocks[1]}") == {}
