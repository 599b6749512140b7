"""auth_type ntlm against an EWS sandbox that offers only NTLM (Basic switched off, as on many
on-premises servers): the target writes, a wrong password is our clear error without secrets."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from exchange_mailbox.errors import ExchangeSetupError
from exchange_mailbox.ews.connection import connect, disconnect
from exchange_mailbox.ews.folders import private_contact_folders
from exchangelib import Contact
from sandbox_common.process import SandboxProcess, running_sandbox

from .conftest import Env, person

pytestmark = pytest.mark.subprocess

MAILBOX = "ntlm-target@example.com"
PASSWORD = "ntlm:Pässword-2"  # a colon and non-ASCII reach the NT hash unchanged


@pytest.fixture(scope="module")
def ews_ntlm() -> Iterator[SandboxProcess]:
    args = ["--auth", "ntlm", "--mailbox", f"{MAILBOX}:{PASSWORD}"]
    with running_sandbox("ews-sandbox", args) as sandbox:
        yield sandbox


@pytest.fixture
def env(ews_ntlm, tmp_path) -> Env:
    return Env(ews_ntlm, MAILBOX, tmp_path)


def names(env: Env) -> set[str]:
    account = connect(env.config(auth_type="ntlm", password=PASSWORD))
    try:
        return {
            item.display_name
            for folder in private_contact_folders(account)
            for item in folder.folder.all().only("display_name")
            if isinstance(item, Contact)
        }
    finally:
        disconnect(account)


def test_target_writes_over_ntlm(env, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    report = env.run({"contacts": [person(1), person(2)]}, auth_type="ntlm", password=PASSWORD)

    assert report["streams"]["contacts"]["created"] == 2
    assert {"First1 Last1", "First2 Last2"} <= names(env)
    assert set(env.ews.stats()["by_tenant"]) == {MAILBOX}
    assert PASSWORD not in caplog.text


@pytest.mark.spec("S10.3", "S11")
def test_wrong_ntlm_password_is_a_clear_error(env, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ExchangeSetupError) as info:
        env.run({"contacts": [person(3)]}, auth_type="ntlm", password="wrong-Pa55word")

    assert info.value.setting == "password"
    assert "rejected the credentials (HTTP 401)" in str(info.value)
    for secret in (PASSWORD, "wrong-Pa55word"):
        assert secret not in str(info.value)
        assert secret not in caplog.text
    assert "First3 Last3" not in names(env)
