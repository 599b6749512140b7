"""auth_type ntlm against an EWS sandbox that offers only NTLM (as an on-premises Exchange with
Basic switched off): the tap reads, a wrong password is our clear error, no secret is logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from exchange_mailbox import ExchangeSetupError
from exchange_mailbox.ews import connection
from sandbox_common.process import SandboxProcess, running_sandbox

from .conftest import PRIVATE_FOLDERS, private_contacts, run_tap, tap_config

pytestmark = pytest.mark.subprocess

ADDRESS = "ntlm@example.com"
PASSWORD = "ntlm:Pässword-1"  # a colon and non-ASCII reach the NT hash unchanged
NTLM_TOKEN = "TlRMTVNT"  # base64 of "NTLMSS", the start of every NTLM message


@pytest.fixture(scope="module")
def ews_ntlm() -> Iterator[SandboxProcess]:
    args = ["--seed", "40", "--auth", "ntlm", "--mailbox", f"{ADDRESS}:{PASSWORD}"]
    with running_sandbox("ews-sandbox", args) as sandbox:
        yield sandbox


def ntlm_config(sandbox: SandboxProcess, **extra: Any) -> dict[str, Any]:
    return {**tap_config(sandbox, ADDRESS), "auth_type": "ntlm", "password": PASSWORD, **extra}


def expect_setup_error(config: dict, caplog: pytest.LogCaptureFixture, capsys) -> str:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ExchangeSetupError) as info:
        run_tap(config)
    assert capsys.readouterr().out == ""
    assert info.value.setting == "password"
    for secret in (PASSWORD, config["password"]):
        assert secret not in str(info.value)
        assert secret not in caplog.text
    return str(info.value)


def _in_scope_ids(config: dict) -> set[str]:
    """The ids the tap must emit: private contacts in Clients/Partners or linked to Sell."""
    account = connection.connect({k: v for k, v in config.items() if k != "categories"})
    try:
        return {
            c.id
            for c in private_contacts(account)
            if {"Clients", "Partners"} & set(c.categories or ()) or c.sell_link
        }
    finally:
        connection.disconnect(account)


def test_tap_reads_contacts_over_ntlm(ews_ntlm, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    expected = _in_scope_ids(ntlm_config(ews_ntlm))
    ews_ntlm.reset()

    run = run_tap(ntlm_config(ews_ntlm))

    assert expected
    assert {r["id"] for r in run.records["contacts"]} == expected
    assert {r["path"] for r in run.records["contact_folders"]} == PRIVATE_FOLDERS
    assert set(ews_ntlm.stats()["by_tenant"]) == {ADDRESS}
    assert PASSWORD not in caplog.text


@pytest.mark.spec("S11")
def test_no_ntlm_message_in_debug_logs(ews_ntlm, caplog) -> None:
    """A logged type 2 + type 3 pair is a NetNTLMv2 hash, crackable offline like a password."""
    caplog.set_level(logging.DEBUG)
    run_tap(ntlm_config(ews_ntlm))
    assert "NTLM" in caplog.text  # DEBUG was on (exchangelib logs the auth object)
    assert NTLM_TOKEN not in caplog.text


@pytest.mark.spec("S10.2")
def test_dropped_connections_mid_handshake_are_retried_not_reported_as_bad_credentials() -> None:
    """A read whose NTLM type 3 is dropped must restart the handshake on a new connection: the
    type 3 answers the old connection's challenge, so re-sending it as is gets a 401 (the probe
    then reports bad credentials; later in a run exchangelib backs off for a minute)."""
    address, password = "ntlm-faults@example.com", "pw-ntlm-faults"
    # Seed 36 drops the first authenticated request, i.e. the probe's type 3, then more.
    args = ["--seed", "36", "--auth", "ntlm", "--mailbox", f"{address}:{password}"]
    args += ["--fault-rate", "0.3", "--fault-kinds", "drop_before,drop_after"]
    with running_sandbox("ews-sandbox", args) as ews:
        config = {**tap_config(ews, address), "auth_type": "ntlm", "password": password}
        started = time.monotonic()
        first = run_tap(config)
        elapsed = time.monotonic() - started
        faults = ews.stats()["faults"]
        expected = _in_scope_ids(config)
    assert sum(faults.values()) >= 3
    assert {r["id"] for r in first.records["contacts"]} == expected
    assert elapsed < 30  # retried at once, not after exchangelib's 60 s "401 = throttled" wait


@pytest.mark.spec("S10.3")
def test_wrong_ntlm_password_is_a_clear_error(ews_ntlm, caplog, capsys) -> None:
    message = expect_setup_error(ntlm_config(ews_ntlm, password="wrong-Pa55word"), caplog, capsys)
    assert "rejected the credentials (HTTP 401)" in message
    assert "check username and password" in message


@pytest.mark.spec("S10.3")
def test_basic_where_the_server_offers_only_ntlm_is_a_clear_error(ews_ntlm, caplog, capsys):
    """The right password over Basic is refused: the reads above really went over NTLM."""
    message = expect_setup_error(ntlm_config(ews_ntlm, auth_type="basic"), caplog, capsys)
    assert "rejected the credentials (HTTP 401)" in message
