"""S1.2 / S10.3: clear errors naming the setting, before any output, with no secret anywhere."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys

import pytest
from exchange_mailbox import ExchangeScopeError, ExchangeSetupError
from exchange_mailbox.ews import master_categories
from exchange_mailbox.ews.category_list import CategoryList
from singer_sdk.exceptions import ConfigValidationError

from .conftest import MAILBOXES, account_for, run_tap, tap_config

pytestmark = pytest.mark.subprocess

ADDRESS = "errors@example.com"


def expect_error(config: dict, caplog: pytest.LogCaptureFixture, capsys) -> ExchangeSetupError:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ExchangeSetupError) as info:
        run_tap(config)
    assert isinstance(info.value, ConfigValidationError)  # the CLI logs it and exits 1
    assert capsys.readouterr().out == ""
    for secret in MAILBOXES.values():
        assert secret not in str(info.value)
        assert secret not in caplog.text
    return info.value


@pytest.mark.spec("S1.2")
def test_selected_category_that_does_not_exist_is_named(ews, caplog, capsys) -> None:
    err = expect_error(
        tap_config(ews, ADDRESS, categories=["Clients", "Prospects"]), caplog, capsys
    )
    assert isinstance(err, ExchangeScopeError)
    assert err.setting == "categories"
    assert "'Prospects'" in str(err)
    assert "'Clients'" not in str(err).split("Existing")[0]


@pytest.mark.spec("S10.3")
def test_missing_categories_setting(ews, caplog, capsys) -> None:
    err = expect_error(tap_config(ews, ADDRESS, categories=[]), caplog, capsys)
    assert err.setting == "categories"


@pytest.mark.spec("S10.3", "S11")
def test_bad_password(ews, caplog, capsys) -> None:
    err = expect_error(tap_config(ews, ADDRESS, password="wrong-Pa55word"), caplog, capsys)
    assert err.setting == "password"
    assert "wrong-Pa55word" not in caplog.text


@pytest.mark.spec("S10.3")
def test_unreachable_server(caplog, capsys) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {
        "primary_smtp_address": ADDRESS,
        "password": MAILBOXES[ADDRESS],
        "service_endpoint": f"http://127.0.0.1:{port}/EWS/Exchange.asmx",
        "server_version": "15.1.2507.6",
        "categories": ["Clients"],
    }
    err = expect_error(config, caplog, capsys)
    assert err.setting == "service_endpoint"


@pytest.mark.spec("S10.3")
def test_contradictory_settings(ews, caplog, capsys) -> None:
    config = tap_config(ews, ADDRESS, server="mail.example.com")
    err = expect_error(config, caplog, capsys)
    assert err.setting == "server"


@pytest.mark.spec("S1.2")
def test_mailbox_without_categories(ews, caplog, capsys) -> None:
    account = account_for(ews, "errors@example.com")
    saved = master_categories.load(account)
    master_categories.save(account, CategoryList.empty(), exists=True)
    try:
        err = expect_error(tap_config(ews, ADDRESS, categories=["Clinets"]), caplog, capsys)
        assert err.setting == "categories"
        assert "no categories" in str(err)
        assert "'Clinets'" in str(err)
    finally:
        master_categories.save(account, saved, exists=True)
    assert {c.name for c in master_categories.load(account).categories()} >= {"Clients"}


@pytest.mark.spec("S10.3")
def test_cli_exits_1_with_the_message_and_no_traceback(ews, tmp_path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tap_config(ews, ADDRESS, categories=["Nope"])))
    done = subprocess.run(
        [sys.executable, "-m", "tap_exchange_contacts", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert "'Nope'" in done.stderr
    assert "Traceback" not in done.stderr
    assert MAILBOXES[ADDRESS] not in done.stderr


@pytest.mark.spec("S11")
def test_about_lists_settings_with_secrets_marked() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tap_exchange_contacts", "--about", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    about = json.loads(done.stdout)
    props = about["settings"]["properties"]
    for name in (
        "primary_smtp_address",
        "auth_type",
        "service_endpoint",
        "categories",
        "start_date",
    ):
        assert name in props
    assert {n for n, p in props.items() if p.get("secret")} >= {
        "password",
        "client_secret",
        "access_token",
    }
