"""exchange_mailbox.settings: every bad combination names its setting, never a secret."""

from __future__ import annotations

import pytest
from exchange_mailbox.errors import ExchangeSetupError
from exchange_mailbox.settings import ExchangeSettings, connection_settings
from singer_sdk.exceptions import ConfigValidationError

SECRETS = {"password": "pw-S3cret!", "client_secret": "cs-S3cret!", "access_token": "tok-S3cret!"}
BASE = {
    "primary_smtp_address": "ada@example.com",
    "password": SECRETS["password"],
    "service_endpoint": "https://mail.example.com/EWS/Exchange.asmx",
}


@pytest.mark.spec("S11")
def test_schema_fragment_lists_spec_settings_and_flags_secrets() -> None:
    schema = connection_settings().to_dict()
    props = schema["properties"]
    assert list(props) == [
        "primary_smtp_address",
        "username",
        "password",
        "auth_type",
        "client_id",
        "client_secret",
        "tenant_id",
        "access_token",
        "service_endpoint",
        "server",
        "autodiscover",
        "server_version",
        "verify_ssl",
        "ca_bundle",
        "protocol",
        "graph_url",
        "authority_url",
        "retry_max_wait",
    ]
    secret = {name for name, p in props.items() if p.get("secret")}
    assert secret == {"password", "client_secret", "access_token"}
    assert schema["required"] == ["primary_smtp_address"]
    assert props["auth_type"]["enum"] == ["basic", "ntlm", "oauth2"]
    assert props["retry_max_wait"]["default"] == 300.0


def test_minimal_basic_settings_default_username_and_endpoint() -> None:
    s = ExchangeSettings.from_config(BASE)
    assert s.username == "ada@example.com"
    assert s.auth_type == "basic"
    assert not s.autodiscover
    assert s.verify_ssl is True
    assert SECRETS["password"] not in repr(s)


def test_server_becomes_https_endpoint_and_nothing_means_autodiscover() -> None:
    s = ExchangeSettings.from_config(
        {**BASE, "service_endpoint": None, "server": "mail.example.com"}
    )
    assert s.service_endpoint == "https://mail.example.com/EWS/Exchange.asmx"
    s = ExchangeSettings.from_config({**BASE, "service_endpoint": None})
    assert s.autodiscover
    assert s.service_endpoint is None


def test_oauth2_with_token_or_client_credentials() -> None:
    token = {**BASE, "auth_type": "oauth2", "password": None, "access_token": "t"}
    assert ExchangeSettings.from_config(token).access_token == "t"
    client = {
        **BASE,
        "auth_type": "oauth2",
        "password": None,
        "client_id": "c",
        "client_secret": "s",
        "tenant_id": "t",
    }
    assert ExchangeSettings.from_config(client).client_id == "c"


@pytest.mark.spec("S10.2")
def test_retry_max_wait_defaults_to_300_and_takes_numbers() -> None:
    assert ExchangeSettings.from_config(BASE).retry_max_wait == 300.0
    assert ExchangeSettings.from_config({**BASE, "retry_max_wait": 2.5}).retry_max_wait == 2.5
    assert ExchangeSettings.from_config({**BASE, "retry_max_wait": "60"}).retry_max_wait == 60.0
    assert ExchangeSettings.from_config({**BASE, "retry_max_wait": 86400}).retry_max_wait == 86400


def test_server_version_is_parsed() -> None:
    s = ExchangeSettings.from_config({**BASE, "server_version": "15.1.2507.6"})
    assert s.server_version == (15, 1, 2507, 6)


OAUTH = {**BASE, "auth_type": "oauth2", "password": None}
BAD = [
    ({**BASE, "primary_smtp_address": None}, "primary_smtp_address"),
    ({**BASE, "primary_smtp_address": "not-an-address"}, "primary_smtp_address"),
    ({**BASE, "auth_type": "kerberos"}, "auth_type"),
    ({**BASE, "password": None}, "password"),
    ({**BASE, "password": "  "}, "password"),
    ({**BASE, "client_secret": SECRETS["client_secret"]}, "client_secret"),
    ({**BASE, "access_token": SECRETS["access_token"]}, "access_token"),
    ({**OAUTH, "password": SECRETS["password"], "access_token": "t"}, "password"),
    ({**OAUTH}, "client_id"),
    ({**OAUTH, "client_id": "c", "tenant_id": "t"}, "client_secret"),
    ({**OAUTH, "client_id": "c", "client_secret": SECRETS["client_secret"]}, "tenant_id"),
    (
        {
            **OAUTH,
            "access_token": SECRETS["access_token"],
            "client_secret": SECRETS["client_secret"],
        },
        "access_token",
    ),
    ({**BASE, "server": "mail.example.com"}, "server"),
    ({**BASE, "autodiscover": True}, "autodiscover"),
    ({**BASE, "service_endpoint": None, "server": "x", "autodiscover": True}, "autodiscover"),
    ({**BASE, "service_endpoint": None, "autodiscover": False}, "service_endpoint"),
    ({**BASE, "service_endpoint": None, "server": "https://mail.example.com"}, "server"),
    ({**BASE, "service_endpoint": "mail.example.com/EWS"}, "service_endpoint"),
    ({**BASE, "service_endpoint": "https://u:p@mail.example.com/EWS"}, "service_endpoint"),
    (
        {**OAUTH, "access_token": "t", "service_endpoint": "http://mail.example.com/EWS/x"},
        "service_endpoint",
    ),
    ({**BASE, "server_version": "fifteen"}, "server_version"),
    ({**BASE, "ca_bundle": "/nonexistent/ca.pem"}, "ca_bundle"),
    ({**BASE, "ca_bundle": __file__, "verify_ssl": False}, "ca_bundle"),
    ({**BASE, "retry_max_wait": 0}, "retry_max_wait"),
    ({**BASE, "retry_max_wait": -5}, "retry_max_wait"),
    ({**BASE, "retry_max_wait": 86401}, "retry_max_wait"),
    ({**BASE, "retry_max_wait": "five minutes"}, "retry_max_wait"),
    ({**BASE, "retry_max_wait": float("nan")}, "retry_max_wait"),
]


@pytest.mark.spec("S10.3", "S11")
@pytest.mark.parametrize(("config", "setting"), BAD)
def test_bad_settings_name_the_setting_and_hide_secrets(config: dict, setting: str) -> None:
    with pytest.raises(ExchangeSetupError) as info:
        ExchangeSettings.from_config(config)
    err = info.value
    assert err.setting == setting
    assert f"'{setting}'" in str(err)
    assert isinstance(err, ConfigValidationError)
    assert err.errors == [str(err)]
    for secret in SECRETS.values():
        assert secret not in str(err)


@pytest.mark.spec("S11")
def test_oauth2_over_plain_http_is_allowed_for_loopback_only() -> None:
    cfg = {**OAUTH, "access_token": "t", "service_endpoint": "http://127.0.0.1:8080/EWS/x.asmx"}
    assert ExchangeSettings.from_config(cfg).endpoint_host == "127.0.0.1"


APP = {
    "primary_smtp_address": "ada@example.com",
    "auth_type": "oauth2",
    "client_id": "c",
    "client_secret": SECRETS["client_secret"],
    "tenant_id": "t",
}


@pytest.mark.spec("S13.1")
def test_protocol_defaults_to_graph_for_oauth2_without_an_ews_endpoint() -> None:
    graph = ExchangeSettings.from_config(APP)
    assert graph.protocol == "graph"
    assert graph.graph_url == "https://graph.microsoft.com"
    assert graph.authority_url == "https://login.microsoftonline.com"
    assert not graph.autodiscover
    ews = ExchangeSettings.from_config({**APP, "server": "mail.example.com"})
    assert ews.protocol == "ews"
    assert ExchangeSettings.from_config(BASE).protocol == "ews"
    explicit = ExchangeSettings.from_config({**APP, "protocol": "ews", "autodiscover": True})
    assert explicit.protocol == "ews"
    assert SECRETS["client_secret"] not in repr(graph)
    assert "graph" in repr(graph)


@pytest.mark.spec("S10.3")
@pytest.mark.parametrize(
    ("extra", "setting"),
    [
        ({"protocol": "smtp"}, "protocol"),
        (
            {
                "protocol": "graph",
                "auth_type": "basic",
                "password": "pw",
                "client_id": None,
                "client_secret": None,
                "tenant_id": None,
            },
            "auth_type",
        ),
        (
            {"protocol": "graph", "service_endpoint": "https://x/EWS/Exchange.asmx"},
            "service_endpoint",
        ),
        ({"protocol": "graph", "server_version": "15.1.2507.6"}, "server_version"),
        ({"graph_url": "http://graph.example.com"}, "graph_url"),
        ({"graph_url": "https://user:pw@graph.example.com"}, "graph_url"),
        ({"graph_url": "graph.microsoft.com"}, "graph_url"),
        ({"authority_url": "http://127.0.0.1:9"}, "authority_url"),
    ],
)
def test_bad_graph_settings_name_the_setting(extra: dict, setting: str) -> None:
    with pytest.raises(ExchangeSetupError) as caught:
        ExchangeSettings.from_config({**APP, **extra})
    assert caught.value.setting == setting
    assert f"'{setting}'" in str(caught.value)


def test_graph_urls_lose_their_trailing_slash_and_loopback_http_is_allowed() -> None:
    s = ExchangeSettings.from_config(
        {**APP, "graph_url": "http://127.0.0.1:8080/", "authority_url": "https://login.example/"}
    )
    assert (s.graph_url, s.authority_url) == ("http://127.0.0.1:8080", "https://login.example")
