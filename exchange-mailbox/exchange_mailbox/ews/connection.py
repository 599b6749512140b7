"""Settings → an exchangelib ``Account`` on the user's own mailbox, checked before any sync work.

Why each choice:
- ``access_type=DELEGATE`` always: without it exchangelib defaults to IMPERSONATION when the
  credentials sit in the ``Configuration`` (reference §0.10), and the sync must only act as the
  mailbox owner on their own mailbox (SPEC S1.1, S11).
- ``SyncRetryPolicy`` (``retry_policy``) from the very first request: it honours the server's
  ``ErrorServerBusy`` back-off (S10.2), fails on a 401 until the server has once accepted us, and
  bounds the total back-off of a busy spell by setting ``retry_max_wait``, so neither the probe
  nor a run hangs on a server that stays busy.
- A probe request (``GetFolder root``) right away, so bad credentials, an unreachable host, a TLS
  failure or a wrong mailbox surface as one clear ``ExchangeSetupError`` before any record.
- exchangelib caches protocols process-wide by (endpoint, credentials) and would silently reuse
  the retry policy, version and failures of an earlier connection; ``connect`` drops such an entry
  and ``disconnect`` closes the sessions and forgets it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    NTLM,
    OAUTH2,
    UTC,
    Account,
    Build,
    Configuration,
    Credentials,
    OAuth2AuthorizationCodeCredentials,
    Version,
)
from exchangelib.account import Identity
from exchangelib.credentials import BaseCredentials
from exchangelib.errors import (
    AutoDiscoverError,
    CASError,
    ErrorTimeoutExpired,
    MalformedResponseError,
    RateLimitError,
    RedirectError,
    ResponseMessageError,
    TransportError,
    UnauthorizedError,
)
from exchangelib.protocol import Protocol
from oauthlib.oauth2 import OAuth2Error, OAuth2Token

from ..errors import ExchangeSetupError
from ..settings import ExchangeSettings, is_loopback
from . import transport
from .retry_policy import SyncRetryPolicy

log = logging.getLogger(__name__)

_SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "set-cookie"})


class _RedactHeaders(logging.Filter):
    """exchangelib's DEBUG request log carries the Authorization header (Basic = the password)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, Mapping):
            args = dict(record.args)
            for key in ("request_headers", "response_headers"):
                headers = args.get(key)
                if isinstance(headers, Mapping):
                    args[key] = {
                        k: "[redacted]" if str(k).lower() in _SENSITIVE_HEADERS else v
                        for k, v in headers.items()
                    }
            record.args = args
        return True


logging.getLogger("exchangelib.util").addFilter(_RedactHeaders())
# requests-oauthlib and oauthlib log token request bodies (client_secret) and tokens at DEBUG;
# pyspnego logs every NTLM message, and a challenge + response pair is crackable offline.
for _name in ("requests_oauthlib", "oauthlib", "spnego"):
    logging.getLogger(_name).setLevel(max(logging.getLogger(_name).level, logging.INFO))

_AUTH_TYPES = {"basic": BASIC, "ntlm": NTLM, "oauth2": OAUTH2}


def _credentials(settings: ExchangeSettings) -> BaseCredentials:
    if settings.auth_type != "oauth2":
        return Credentials(username=settings.username, password=settings.password)
    if settings.access_token:
        token = OAuth2Token({"access_token": settings.access_token, "token_type": "Bearer"})
        return OAuth2AuthorizationCodeCredentials(access_token=token)
    # App-only tokens need the mailbox named in the request (Exchange Online rejects them
    # otherwise); it is the configured mailbox itself, never another one. The token comes
    # from msal, as for Graph (msal_credentials).
    from ..app_tokens import AppTokens  # noqa: PLC0415 - msal: ~0.1 CPU-s basic/NTLM runs skip
    from .msal_credentials import MsalCredentials  # noqa: PLC0415

    return MsalCredentials(
        AppTokens(settings),
        identity=Identity(primary_smtp_address=settings.primary_smtp_address),
    )


def _version(settings: ExchangeSettings) -> Version | None:
    if not settings.server_version:
        return None
    parts = [*settings.server_version, 0, 0, 0, 0][:4]
    try:
        return Version(build=Build(*parts))
    except ValueError as exc:  # exchangelib knows no API version for that build
        msg = "Setting 'server_version': not an Exchange build exchangelib knows."
        raise ExchangeSetupError(msg, setting="server_version") from exc


def _forget_cached_protocol(config: Configuration) -> None:
    with suppress(KeyError):
        protocol, _ = Protocol[config]
        if not isinstance(protocol, Exception):
            protocol.close()
        del Protocol[config]


def disconnect(account: Account | None) -> None:
    """Close the account's HTTP sessions and drop its protocol from exchangelib's cache."""
    if account is None:
        return
    protocol = account.protocol
    with suppress(Exception):
        protocol.close()
    with suppress(KeyError):
        del Protocol[protocol.config]


def _endpoint_setting(settings: ExchangeSettings, config: Mapping[str, Any] | None) -> str:
    if settings.autodiscover:
        return "autodiscover"
    if config is not None and config.get("server") and not config.get("service_endpoint"):
        return "server"
    return "service_endpoint"


def _credential_settings(settings: ExchangeSettings) -> tuple[str, str]:
    if settings.auth_type != "oauth2":
        return "password", "username and password"
    if settings.access_token:
        return "access_token", "access_token"
    return "client_secret", "client_id, client_secret and tenant_id"


def explain(exc: BaseException, settings: ExchangeSettings, where: str) -> ExchangeSetupError:
    """Turn a connection-time failure into a message naming the setting; never echo a secret."""
    host = settings.endpoint_host or settings.primary_smtp_address.split("@")[-1]
    secret_setting, secret_names = _credential_settings(settings)
    if isinstance(exc, UnauthorizedError):
        return ExchangeSetupError(
            f"Exchange at {host} rejected the credentials (HTTP 401): check {secret_names}.",
            setting=secret_setting,
        )
    if isinstance(exc, OAuth2Error):
        return ExchangeSetupError(
            f"The OAuth2 token request failed ({exc.error}): check {secret_names}.",
            setting=secret_setting,
        )
    text = str(exc)
    tls_failure = isinstance(exc, requests.exceptions.SSLError) or (
        isinstance(exc, TransportError)
        and not isinstance(exc, ResponseMessageError)
        and ("SSL" in text or "certificate" in text.lower())
    )
    if tls_failure:
        reason = "certificate verify failed" if "verify failed" in text else "TLS handshake failed"
        return ExchangeSetupError(
            f"TLS failure talking to {host} ({reason}): give the server's CA in 'ca_bundle' "
            "(or, for a test server only, set 'verify_ssl' to false).",
            setting="ca_bundle",
        )
    if isinstance(exc, AutoDiscoverError):
        return ExchangeSetupError(
            f"Autodiscover found no EWS endpoint for {settings.primary_smtp_address}: "
            "set 'service_endpoint' or 'server'.",
            setting="autodiscover",
        )
    if isinstance(
        exc, ErrorTimeoutExpired | requests.exceptions.ConnectionError | requests.exceptions.Timeout
    ):
        return ExchangeSetupError(
            f"Cannot reach the Exchange server at {host}: check '{where}' "
            "(connection refused, timed out or name not resolved).",
            setting=where,
        )
    if isinstance(exc, RedirectError | CASError | MalformedResponseError):
        return ExchangeSetupError(
            f"{host} does not answer like an EWS endpoint ({type(exc).__name__}): check '{where}'.",
            setting=where,
        )
    if isinstance(exc, ResponseMessageError):
        return ExchangeSetupError(
            f"Mailbox {settings.primary_smtp_address} is not accessible with these credentials "
            f"({type(exc).__name__}): check 'primary_smtp_address'.",
            setting="primary_smtp_address",
        )
    return ExchangeSetupError(
        f"Could not connect to Exchange at {host} ({type(exc).__name__}): check '{where}'.",
        setting=where,
    )


def connect(
    config: Mapping[str, Any] | ExchangeSettings,
    *,
    probe: bool = True,
) -> Account:
    """Build the account and, with ``probe``, prove it works with one ``GetFolder root``.

    A server that stays busy (or a back-off longer than ``retry_max_wait``) raises
    ``RateLimitError``: transient, so it is not turned into a setup error.
    """
    raw = None if isinstance(config, ExchangeSettings) else config
    settings = (
        config if isinstance(config, ExchangeSettings) else ExchangeSettings.from_config(config)
    )
    where = _endpoint_setting(settings, raw)

    verify: bool | str = settings.ca_bundle or settings.verify_ssl
    transport.register(settings.service_endpoint or "", verify)
    if verify is False:
        log.warning("TLS certificate verification is OFF for %s (verify_ssl: false)", where)
    if (
        settings.auth_type == "oauth2"
        and settings.service_endpoint
        and settings.service_endpoint.startswith("http://")
        and is_loopback(settings.endpoint_host)
    ):
        # oauthlib refuses plain http; settings only allow it for a loopback test server.
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    plain_http = (settings.service_endpoint or "").startswith("http://")
    if settings.auth_type == "basic" and plain_http and not is_loopback(settings.endpoint_host):
        log.warning("Basic auth over plain http sends the password unencrypted (%s)", where)

    credentials = _credentials(settings)
    configuration = Configuration(
        credentials=credentials,
        service_endpoint=settings.service_endpoint,
        auth_type=_AUTH_TYPES[settings.auth_type],
        version=_version(settings),
        retry_policy=SyncRetryPolicy(settings.retry_max_wait),
    )
    account: Account | None = None
    try:
        if settings.autodiscover:
            account = Account(
                settings.primary_smtp_address,
                credentials=credentials,
                config=configuration,
                autodiscover=True,
                access_type=DELEGATE,
                default_timezone=UTC,
            )
        else:
            _forget_cached_protocol(configuration)
            account = Account(
                settings.primary_smtp_address,
                config=configuration,
                autodiscover=False,
                access_type=DELEGATE,
                default_timezone=UTC,
            )
        if probe:
            _ = account.root
    except RateLimitError:
        disconnect(account)
        raise
    except ExchangeSetupError:
        raise
    except (
        TransportError,
        UnauthorizedError,
        OAuth2Error,
        AutoDiscoverError,
        requests.exceptions.RequestException,
    ) as exc:
        disconnect(account)
        raise explain(exc, settings, where) from None
    return account
