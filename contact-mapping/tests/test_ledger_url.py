"""The ``ledger_url`` setting: its default, and the one message both targets give when it is bad."""

from __future__ import annotations

import sys

import pytest
from contact_mapping.ledger import Ledger
from contact_mapping.ledger_url import LedgerSetupError, default_ledger_url, open_ledger
from singer_sdk.exceptions import ConfigValidationError

SECRET = "s3cret-Ledger-pw"


def test_unset_or_blank_setting_opens_the_sqlite_file_beside_meltanos_system_dir(tmp_path):
    environ = {"MELTANO_SYS_DIR_ROOT": str(tmp_path / "sys")}
    assert default_ledger_url(environ) == f"sqlite:///{tmp_path / 'sys' / 'contact-sync-ledger.db'}"
    for configured in (None, "", "   "):
        ledger = open_ledger(configured, "acme", environ)
        try:
            assert isinstance(ledger, Ledger)
            assert ledger.url.database == str(tmp_path / "sys" / "contact-sync-ledger.db")
        finally:
            ledger.close()


@pytest.mark.spec("S10.3")
def test_a_missing_driver_names_the_setting_and_the_extra_to_install(monkeypatch):
    # A plugin venv installed without contact-mapping[postgres]: importing psycopg fails.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(LedgerSetupError) as caught:
        open_ledger(f"postgresql+psycopg://sync:{SECRET}@db.example/ledger", "acme")
    message = str(caught.value)
    assert message.startswith("ledger_url: the PostgreSQL driver 'psycopg' is not installed")
    assert "contact-mapping[postgres]" in message
    assert SECRET not in message
    assert caught.value.setting == "ledger_url"
    # The SDK's CLIs turn this into a logged message and exit 1, without a traceback.
    assert isinstance(caught.value, ConfigValidationError)


@pytest.mark.spec("S10.3")
def test_an_unsupported_database_is_refused_when_opened_not_at_the_first_write():
    with pytest.raises(LedgerSetupError, match=r"unsupported ledger database 'mysql' \(use sqlite"):
        open_ledger(f"mysql+pymysql://sync:{SECRET}@db.example/ledger", "acme")


@pytest.mark.spec("S10.3", "S11")
def test_an_unreachable_server_is_reported_without_its_password():
    url = f"postgresql+psycopg://sync:{SECRET}@127.0.0.1:1/ledger?connect_timeout=2"
    with pytest.raises(LedgerSetupError) as caught:
        open_ledger(url, "acme")
    message = str(caught.value)
    assert message.startswith("ledger_url: cannot open the sync ledger (OperationalError")
    assert SECRET not in message


@pytest.mark.spec("S10.3", "S11")
def test_an_unparsable_url_is_not_echoed_back():
    with pytest.raises(LedgerSetupError) as caught:
        open_ledger(f"not a url {SECRET}", "acme")
    message = str(caught.value)
    assert "ledger_url: cannot open the sync ledger" in message
    assert SECRET not in message
