"""The tenant registry and its CLI (S15.1): tenants come and go, secrets only by reference."""

from __future__ import annotations

import json

import pytest
from contact_sync_orchestration.cli import run
from contact_sync_orchestration.registry import Registry, RegistryError, Tenant

pytestmark = pytest.mark.spec("S15.1")


def add_args(url: str, tenant_id: str = "acme", *extra: str) -> list[str]:
    return [
        "--registry-url",
        url,
        "add",
        tenant_id,
        "--mailbox",
        f"sync@{tenant_id}.example",
        "--exchange",
        "service_endpoint=https://mail.example/EWS/Exchange.asmx",
        "--exchange",
        "verify_ssl=false",
        "--categories",
        "Clients, Partners",
        "--sell",
        "api_url=https://api.getbase.com",
        "--secret",
        "exchange_password=env:ACME_EXCHANGE_PASSWORD",
        "--secret",
        "sell_api_token=file:/run/secrets/acme-sell-token",
        *extra,
    ]


def test_add_show_list_pause_resume_remove(registry_url, capsys):
    assert run(add_args(registry_url)) == 0
    assert run(["--registry-url", registry_url, "show", "acme"]) == 0
    shown = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert shown["exchange"] == {
        "primary_smtp_address": "sync@acme.example",
        "service_endpoint": "https://mail.example/EWS/Exchange.asmx",
        "verify_ssl": False,
    }
    assert shown["categories"] == ["Clients", "Partners"]
    assert shown["secrets"]["sell_api_token"] == "file:/run/secrets/acme-sell-token"

    registry = Registry(registry_url)
    try:
        assert [t.tenant_id for t in registry.due()] == ["acme"]
        assert run(["--registry-url", registry_url, "pause", "acme"]) == 0
        assert list(registry.due()) == []
        registry.mark_attention("acme", "tap-exchange-contacts: password rejected")
        assert run(["--registry-url", registry_url, "resume", "acme"]) == 0
        assert registry.get("acme").attention is None  # resuming clears the attention mark
        assert [t.tenant_id for t in registry.due()] == ["acme"]
        assert run(["--registry-url", registry_url, "list"]) == 0
        assert "acme\tactive\tsync@acme.example" in capsys.readouterr().out
        assert run(["--registry-url", registry_url, "remove", "acme"]) == 0
        assert registry.all() == []
    finally:
        registry.close()


def test_a_literal_secret_is_refused_and_never_echoed(registry_url, capsys):
    secret = "hunter2-the-real-password"
    args = add_args(registry_url)
    args[args.index("exchange_password=env:ACME_EXCHANGE_PASSWORD")] = f"exchange_password={secret}"
    assert run(args) == 1
    err = capsys.readouterr().err
    assert "must be a reference" in err
    assert secret not in err
    registry = Registry(registry_url)
    try:
        assert registry.all() == []
    finally:
        registry.close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tenant_id": "Bad Name"}, "tenant id"),
        ({"exchange": {"primary_smtp_address": "a@b.c", "pasword": "x"}}, "unknown exchange"),
        ({"categories": []}, "categories"),
        ({"secrets": {"exchange_password": "env:X"}}, "sell_api_token is required"),
        ({"sell": {}}, "api_url is required"),
    ],
)
def test_bad_definitions_are_refused(change, message):
    tenant = Tenant(
        tenant_id="acme",
        exchange={"primary_smtp_address": "sync@acme.example"},
        categories=["Clients"],
        sell={"api_url": "https://api.getbase.com"},
        secrets={"sell_api_token": "env:ACME_SELL_TOKEN"},
    )
    with pytest.raises(RegistryError, match=message):
        Tenant(**{**tenant.__dict__, **change}).validate()


def test_adding_twice_needs_replace(registry_url, capsys):
    assert run(add_args(registry_url)) == 0
    assert run(add_args(registry_url)) == 1
    assert "exists" in capsys.readouterr().err
    assert run(add_args(registry_url, "acme", "--replace", "--paused")) == 0
    registry = Registry(registry_url)
    try:
        assert registry.get("acme").paused
    finally:
        registry.close()
