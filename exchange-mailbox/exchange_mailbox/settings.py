"""The Exchange connection settings shared by tap-exchange-contacts and target-exchange.

``connection_settings()`` is the singer-sdk schema fragment both plugins extend;
``ExchangeSettings.from_config()`` checks a config against the rules the schema cannot express
(which settings go together, which exclude each other) and names the setting at fault.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from singer_sdk import typing as th

from .errors import ExchangeSetupError

AUTH_TYPES = ("basic", "ntlm", "oauth2")
PROTOCOLS = ("ews", "graph")
DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
DEFAULT_AUTHORITY_URL = "https://login.microsoftonline.com"
SECRET_SETTINGS = ("password", "client_secret", "access_token")
_BUILD_RE = re.compile(r"^\d+(\.\d+){1,3}$")
DEFAULT_RETRY_MAX_WAIT = 300.0
MAX_RETRY_MAX_WAIT = 86_400.0


def connection_settings() -> th.PropertiesList:
    """A fresh schema fragment; plugins add their own properties with ``append`` or by unpacking."""
    return th.PropertiesList(
        th.Property(
            "primary_smtp_address",
            th.StringType,
            required=True,
            title="Mailbox",
            description="Primary SMTP address of the mailbox whose own contacts are synced.",
        ),
        th.Property(
            "username",
            th.StringType,
            description="Login name (UPN, e-mail or DOMAIN\\user) for basic or NTLM auth; "
            "defaults to primary_smtp_address.",
        ),
        th.Property(
            "password", th.StringType, secret=True, description="Password for basic or NTLM auth."
        ),
        th.Property(
            "auth_type",
            th.StringType,
            allowed_values=list(AUTH_TYPES),
            default="basic",
            description="basic, ntlm or oauth2.",
        ),
        th.Property("client_id", th.StringType, description="OAuth2 application (client) id."),
        th.Property(
            "client_secret",
            th.StringType,
            secret=True,
            description="OAuth2 client secret (client-credentials grant).",
        ),
        th.Property("tenant_id", th.StringType, description="OAuth2 directory (tenant) id."),
        th.Property(
            "access_token",
            th.StringType,
            secret=True,
            description="A ready OAuth2 access token (instead of client_id/secret/tenant_id).",
        ),
        th.Property(
            "service_endpoint",
            th.StringType,
            description="Full EWS URL, e.g. https://mail.example.com/EWS/Exchange.asmx.",
        ),
        th.Property(
            "server", th.StringType, description="EWS host name, instead of service_endpoint."
        ),
        th.Property(
            "autodiscover",
            th.BooleanType,
            description="Find the EWS endpoint by autodiscover (the default when neither "
            "service_endpoint nor server is set).",
        ),
        th.Property(
            "server_version",
            th.StringType,
            description="Exchange build, e.g. 15.1.2507.6; skips the version probe.",
        ),
        th.Property(
            "verify_ssl",
            th.BooleanType,
            default=True,
            description="Verify TLS certificates (turn off only for a test server).",
        ),
        th.Property(
            "ca_bundle", th.StringType, description="Path to a PEM CA bundle for a private CA."
        ),
        th.Property(
            "protocol",
            th.StringType,
            allowed_values=list(PROTOCOLS),
            description="ews or graph (Microsoft Graph, for Exchange Online). Default: graph when "
            "auth_type is oauth2 and neither service_endpoint nor server is set, else ews.",
        ),
        th.Property(
            "graph_url",
            th.StringType,
            default=DEFAULT_GRAPH_URL,
            description="Microsoft Graph root URL (a national cloud's, or a stand-in's).",
        ),
        th.Property(
            "authority_url",
            th.StringType,
            default=DEFAULT_AUTHORITY_URL,
            description="Microsoft identity platform URL; tokens come from "
            "<authority_url>/<tenant_id>.",
        ),
        th.Property(
            "retry_max_wait",
            th.NumberType,
            default=DEFAULT_RETRY_MAX_WAIT,
            description=(
                "Longest total back-off (seconds) while Exchange stays busy (ErrorServerBusy, "
                "Graph 429/503, transient errors); after it the run fails without emitting STATE "
                "past unfinished work."
            ),
        ),
    )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def is_loopback(host: str | None) -> bool:
    """True for localhost and loopback IPs: the only hosts where plain http is acceptable."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ExchangeSettings:
    """Validated connection settings; secrets stay out of ``repr``."""

    primary_smtp_address: str
    auth_type: str
    username: str | None
    password: str | None
    client_id: str | None
    client_secret: str | None
    tenant_id: str | None
    access_token: str | None
    service_endpoint: str | None
    autodiscover: bool
    server_version: tuple[int, ...] | None
    verify_ssl: bool
    ca_bundle: str | None
    retry_max_wait: float = DEFAULT_RETRY_MAX_WAIT
    protocol: str = "ews"
    graph_url: str = DEFAULT_GRAPH_URL
    authority_url: str = DEFAULT_AUTHORITY_URL

    def __repr__(self) -> str:
        where = self.graph_url if self.protocol == "graph" else self.service_endpoint
        return (
            f"ExchangeSettings(mailbox={self.primary_smtp_address!r}, protocol={self.protocol!r}, "
            f"auth={self.auth_type!r}, endpoint={where!r}, autodiscover={self.autodiscover})"
        )

    @property
    def verify(self) -> bool | str:
        """What requests' ``verify`` takes: the CA bundle, or whether to verify at all."""
        return self.ca_bundle or self.verify_ssl

    @property
    def client_credentials(self) -> bool:
        """Tokens come from the client-credentials grant (msal), not a ready access_token."""
        return self.auth_type == "oauth2" and self.access_token is None

    @property
    def endpoint_host(self) -> str | None:
        return urlsplit(self.service_endpoint).hostname if self.service_endpoint else None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ExchangeSettings:
        """Check how settings combine; raise ``ExchangeSetupError`` naming the first bad one."""

        def get(name: str) -> Any:
            value = config.get(name)
            return None if _blank(value) else value

        def fail(setting: str, message: str) -> ExchangeSetupError:
            return ExchangeSetupError(f"Setting '{setting}': {message}", setting=setting)

        address = get("primary_smtp_address")
        if address is None:
            raise fail("primary_smtp_address", "is required (the mailbox to sync).")
        address = str(address).strip()
        if address.count("@") != 1 or address.startswith("@") or address.endswith("@"):
            raise fail("primary_smtp_address", "must be an e-mail address like user@example.com.")

        auth_type = str(get("auth_type") or "basic").lower()
        if auth_type not in AUTH_TYPES:
            raise fail("auth_type", f"must be one of {', '.join(AUTH_TYPES)}.")

        username, password = get("username"), get("password")
        client_id, client_secret = get("client_id"), get("client_secret")
        tenant_id, access_token = get("tenant_id"), get("access_token")
        if auth_type in ("basic", "ntlm"):
            if password is None:
                raise fail("password", f"is required with auth_type '{auth_type}'.")
            for name in ("client_id", "client_secret", "tenant_id", "access_token"):
                if get(name) is not None:
                    raise fail(name, f"is only used with auth_type 'oauth2', not '{auth_type}'.")
            username = str(username or address)
        else:
            if password is not None:
                raise fail("password", "is not used with auth_type 'oauth2'; remove it.")
            if access_token is not None and client_secret is not None:
                raise fail(
                    "access_token",
                    "give either access_token or client_id/client_secret/tenant_id, not both.",
                )
            if access_token is None:
                for name in ("client_id", "client_secret", "tenant_id"):
                    if get(name) is None:
                        raise fail(
                            name,
                            "is required with auth_type 'oauth2' unless access_token is given.",
                        )

        endpoint, server = get("service_endpoint"), get("server")
        autodiscover_setting = config.get("autodiscover")
        protocol = str(get("protocol") or "").lower() or (
            "graph" if auth_type == "oauth2" and endpoint is None and server is None else "ews"
        )
        if protocol not in PROTOCOLS:
            raise fail("protocol", f"must be one of {', '.join(PROTOCOLS)}.")
        graph_url = _service_url(get("graph_url") or DEFAULT_GRAPH_URL, "graph_url", fail)
        authority_url = _service_url(
            get("authority_url") or DEFAULT_AUTHORITY_URL, "authority_url", fail, https_only=True
        )
        if protocol == "graph":
            if auth_type != "oauth2":
                raise fail(
                    "auth_type",
                    "must be 'oauth2' with protocol 'graph': Microsoft Graph takes app-only "
                    "tokens (client_id, client_secret, tenant_id) or a ready access_token.",
                )
            for name in ("service_endpoint", "server", "autodiscover", "server_version"):
                if config.get(name) not in (None, "", False):
                    raise fail(
                        name,
                        "is an EWS setting; remove it with protocol 'graph' (use graph_url).",
                    )
        if endpoint is not None and server is not None:
            raise fail("server", "give either service_endpoint or server, not both.")
        if autodiscover_setting and (endpoint is not None or server is not None):
            which = "service_endpoint" if endpoint is not None else "server"
            raise fail("autodiscover", f"cannot be true when {which} is set.")
        if endpoint is None and server is not None:
            server = str(server).strip()
            if "/" in server:
                raise fail("server", "must be a host name only; use service_endpoint for a URL.")
            endpoint = f"https://{server}/EWS/Exchange.asmx"
        if endpoint is not None:
            parts = urlsplit(str(endpoint))
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise fail("service_endpoint", "must be an http(s) URL of the EWS endpoint.")
            if parts.username or parts.password:
                raise fail("service_endpoint", "must not contain credentials.")
            if parts.scheme == "http" and auth_type == "oauth2" and not is_loopback(parts.hostname):
                raise fail(
                    "service_endpoint",
                    "uses plain http; OAuth2 tokens are only sent over https (or to localhost).",
                )
            autodiscover = False
        elif protocol == "graph":
            autodiscover = False
        elif autodiscover_setting is False:
            raise fail(
                "service_endpoint", "is required (or server, or autodiscover: true) to reach EWS."
            )
        else:
            autodiscover = True

        version = get("server_version")
        build: tuple[int, ...] | None = None
        if version is not None:
            if not _BUILD_RE.match(str(version).strip()):
                raise fail("server_version", "must be an Exchange build like 15.1.2507.6.")
            build = tuple(int(p) for p in str(version).strip().split("."))

        verify_ssl = config.get("verify_ssl")
        verify_ssl = True if verify_ssl is None else bool(verify_ssl)
        ca_bundle = get("ca_bundle")
        if ca_bundle is not None:
            if not verify_ssl:
                raise fail("ca_bundle", "cannot be used with verify_ssl: false.")
            if not Path(str(ca_bundle)).is_file():
                raise fail("ca_bundle", "is not a readable file.")
            ca_bundle = str(ca_bundle)

        raw_wait = config.get("retry_max_wait")
        try:
            retry_max_wait = float(DEFAULT_RETRY_MAX_WAIT if raw_wait is None else raw_wait)
        except (TypeError, ValueError):
            retry_max_wait = -1.0
        if not 0 < retry_max_wait <= MAX_RETRY_MAX_WAIT:
            raise fail("retry_max_wait", "seconds between 0 and 86400, e.g. 300.")

        return cls(
            primary_smtp_address=address,
            auth_type=auth_type,
            username=username if auth_type != "oauth2" else None,
            password=password,
            client_id=client_id,
            client_secret=client_secret,
            tenant_id=tenant_id,
            access_token=access_token,
            service_endpoint=endpoint,
            autodiscover=autodiscover,
            server_version=build,
            verify_ssl=verify_ssl,
            ca_bundle=ca_bundle,
            retry_max_wait=retry_max_wait,
            protocol=protocol,
            graph_url=graph_url,
            authority_url=authority_url,
        )


def _service_url(value: Any, setting: str, fail: Any, *, https_only: bool = False) -> str:
    """A root URL without credentials, query or trailing slash; http only to a loopback host
    (tokens never travel in clear), https only for the authority (msal refuses anything else)."""
    parts = urlsplit(str(value).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(setting, "must be an https URL such as https://graph.microsoft.com.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise fail(setting, "must be a plain URL without credentials, query or fragment.")
    if parts.scheme == "http" and (https_only or not is_loopback(parts.hostname)):
        raise fail(setting, "must use https (tokens are never sent over plain http).")
    return str(value).strip().rstrip("/")
