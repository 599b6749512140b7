"""A tenant's `meltano run`: command, environment (S15.3), S10.3 problem, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from contact_sync_orchestration import meltano_run
from contact_sync_orchestration.registry import Tenant

DEPLOYMENT = meltano_run.Deployment(
    project_root=Path("/srv/contact-sync"),
    meltano_database_uri="postgresql+psycopg://db/meltano",
    ledger_url="postgresql+psycopg://db/ledger",
)


def tenant(tenant_id: str = "acme", **secrets: str) -> Tenant:
    return Tenant(
        tenant_id=tenant_id,
        exchange={
            "primary_smtp_address": f"sync@{tenant_id}.example",
            "auth_type": "ntlm",
            "folder": "Sell",
            "verify_ssl": False,
        },
        categories=["Clients", "Partners"],
        sell={"api_url": "https://api.getbase.com", "exchange_id_field": "Exchange ID"},
        secrets=secrets
        or {"exchange_password": "env:ACME_PASSWORD", "sell_api_token": "env:ACME_TOKEN"},
    )


@pytest.mark.spec("S15.3")
def test_environment_holds_this_tenant_only(tmp_path):
    worker_env = {
        "PATH": "/usr/bin",
        "ACME_PASSWORD": "acme-pw",
        "ACME_TOKEN": "a" * 64,
        "GLOBEX_PASSWORD": "globex-pw",  # another tenant's secret on the same worker
        "AWS_SECRET_ACCESS_KEY": "unrelated",
    }
    env = meltano_run.meltano_env(
        tenant(), DEPLOYMENT, sys_dir=tmp_path / "sys", report_dir=tmp_path, environ=worker_env
    )
    assert env["TAP_EXCHANGE_CONTACTS_PASSWORD"] == env["TARGET_EXCHANGE_PASSWORD"] == "acme-pw"
    assert env["TAP_SELL_API_TOKEN"] == env["TARGET_SELL_CONTACTS_API_TOKEN"] == "a" * 64
    assert env["TAP_EXCHANGE_CONTACTS_CATEGORIES"] == '["Clients", "Partners"]'
    assert env["TARGET_EXCHANGE_FOLDER"] == "Sell"
    assert "TAP_EXCHANGE_CONTACTS_FOLDER" not in env  # target-only setting
    assert env["TARGET_SELL_CONTACTS_EXCHANGE_ID_FIELD"] == "Exchange ID"
    assert "TAP_SELL_EXCHANGE_ID_FIELD" not in env
    assert env["TAP_EXCHANGE_CONTACTS_VERIFY_SSL"] == "false"
    assert env["TARGET_SELL_CONTACTS_TENANT"] == env["TARGET_EXCHANGE_TENANT"] == "acme"
    assert env["MELTANO_DATABASE_URI"] == DEPLOYMENT.meltano_database_uri
    assert env["CONTACT_SYNC_LEDGER_URL"] == DEPLOYMENT.ledger_url
    assert env["PATH"] == "/usr/bin"
    assert "globex-pw" not in env.values()
    assert "AWS_SECRET_ACCESS_KEY" not in env


@pytest.mark.spec("S15.1", "S10.3")
def test_file_references_and_missing_secrets(tmp_path):
    (tmp_path / "token").write_text("t" * 64 + "\n")
    ok = tenant(sell_api_token=f"file:{tmp_path / 'token'}")
    env = meltano_run.meltano_env(ok, DEPLOYMENT, sys_dir=tmp_path, report_dir=tmp_path, environ={})
    assert env["TAP_SELL_API_TOKEN"] == "t" * 64
    missing = tenant(sell_api_token="env:NOT_SET_ANYWHERE")
    with pytest.raises(meltano_run.ConfigurationError, match="NOT_SET_ANYWHERE is not set"):
        meltano_run.meltano_env(
            missing, DEPLOYMENT, sys_dir=tmp_path, report_dir=tmp_path, environ={}
        )


@pytest.mark.spec("S15.3")
def test_one_invocation_with_the_tenants_state_id_suffix():
    argv = meltano_run.meltano_argv(tenant(), DEPLOYMENT, "0193e0c1-aaaa-7bbb-8ccc-000000000001")
    assert argv[:2] == [str(DEPLOYMENT.project_root / ".venv/bin/meltano"), "--environment=prod"]
    assert "--state-id-suffix=acme" in argv
    assert "--run-id=0193e0c1-aaaa-7bbb-8ccc-000000000001" in argv
    assert "--no-install" in argv
    assert argv[-4:] == [
        "tap-exchange-contacts",
        "target-sell-contacts",
        "tap-sell",
        "target-exchange",
    ]
    assert meltano_run.state_ids("acme") == [
        "prod:tap-exchange-contacts-to-target-sell-contacts:acme",
        "prod:tap-sell-to-target-exchange:acme",
    ]


def _event(name: str, text: str) -> str:
    return json.dumps({"stdio": "stderr", "name": name, "event": text, "level": "info"})


@pytest.mark.spec("S10.3")
def test_configuration_problem_is_the_plugins_own_message():
    lines = [
        '{"event": "Running catalog discovery", "level": "info"}',
        _event("tap-exchange-contacts", "tap-exchange-contacts v0.1.0, Meltano SDK v0.54.9"),
        _event("tap-exchange-contacts", "Skipping parse of env var settings..."),
        _event("target-sell-contacts", "target-sell-contacts report (tenant m, 0.0 s)"),
        _event(
            "tap-exchange-contacts",
            "Exchange at 127.0.0.1 rejected the credentials (HTTP 401): check username and"
            " password.",
        ),
        _event("tap-exchange-contacts", "Config validation failed"),
        '{"event": "Extractor failed", "level": "error"}',
    ]
    assert meltano_run.configuration_problem(lines) == (
        "tap-exchange-contacts: Exchange at 127.0.0.1 rejected the credentials (HTTP 401):"
        " check username and password."
    )
    assert meltano_run.configuration_problem(lines[:4] + lines[6:]) is None


def test_reports_are_read_by_target(tmp_path):
    (tmp_path / "exchange-to-sell.json").write_text(json.dumps({"target": "target-sell-contacts"}))
    (tmp_path / "sell-to-exchange.json").write_text("{not json")
    assert meltano_run.read_reports(tmp_path) == {
        "target-sell-contacts": {"target": "target-sell-contacts"}
    }


def test_isolated_sys_dir_links_the_installed_plugins(tmp_path):
    (tmp_path / "project" / ".meltano" / "extractors").mkdir(parents=True)
    sys_dir = meltano_run.isolated_sys_dir(tmp_path / "project", tmp_path / "sys")
    assert (sys_dir / "extractors").resolve() == tmp_path / "project" / ".meltano" / "extractors"
    assert not (sys_dir / "loaders").exists()
    assert meltano_run.psycopg_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert meltano_run.psycopg_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg://u@h/db"
