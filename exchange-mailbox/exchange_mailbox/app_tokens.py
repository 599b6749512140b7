"""App-only access tokens for both protocols: msal's client-credentials grant, or a ready token.

One token path for Microsoft Graph and for EWS with ``auth_type: oauth2`` (SPEC S13.3): msal's
``ConfidentialClientApplication`` against ``<authority_url>/<tenant_id>``, asked for one
resource's ``/.default`` scope. Why each choice (reference graph-contacts.md §9):

- ``instance_discovery=False``: msal would otherwise ask login.microsoftonline.com to validate any
  authority host it does not know (a national cloud's, a stand-in's); the URL is the user's own.
- The HTTP session msal uses is ours (``https_session``): the ``ca_bundle`` given is the one used,
  even when ``REQUESTS_CA_BUNDLE`` is set in the environment (requests would prefer it, §0.8).
- msal keeps tokens in its in-memory cache and fetches a new one shortly before expiry, so a long
  run never sends an expired token; a ready ``access_token`` is used as given.
- Errors become ``ExchangeSetupError`` naming the setting at fault (S10.3); neither the secret nor
  a token ever reaches a message or a log (S11): msal redacts them from its own debug log, and
  ``token_claims`` reads only the permission names (``roles``) of a token.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit

import jwt
import msal
import requests

from .errors import ExchangeSetupError
from .https import https_session
from .settings import ExchangeSettings

log = logging.getLogger(__name__)

EWS_SCOPE = "https://outlook.office365.com/.default"
GRAPH_RESOURCE = "https://graph.microsoft.com"
# Microsoft Graph hosts of the national clouds: their tokens name their own resource.
_GRAPH_HOSTS = frozenset(
    {
        "graph.microsoft.com",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
    }
)


def graph_scope(graph_url: str) -> str:
    """``<Graph resource>/.default``. A Graph host of Microsoft's names its own resource; any
    other host (a proxy, a stand-in) serves the global service's tokens."""
    host = (urlsplit(graph_url).hostname or "").lower()
    resource = f"https://{host}" if host in _GRAPH_HOSTS else GRAPH_RESOURCE
    return f"{resource}/.default"


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT access token, unverified (only the service verifies them); {} when the
    token is not a JWT (Microsoft tells clients to treat tokens as opaque, so this is a hint)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


# Entra error codes (``error_codes`` / "AADSTSnnnn") → the setting at fault.
_CODE_SETTINGS = {
    7000215: "client_secret",  # invalid client secret
    7000222: "client_secret",  # expired client secret
    700016: "client_id",  # application not found in the directory
    90002: "tenant_id",  # tenant not found
    900023: "tenant_id",  # tenant id malformed
}
_ERROR_SETTINGS = {
    "invalid_client": "client_secret",
    "unauthorized_client": "client_id",
    "invalid_tenant": "tenant_id",
    "invalid_request": "tenant_id",
}


class AppTokens:
    """Tokens for one mailbox's settings, by scope; thread-safe, built on first use."""

    def __init__(self, settings: ExchangeSettings) -> None:
        if settings.auth_type != "oauth2":
            msg = "AppTokens needs auth_type 'oauth2'"
            raise ValueError(msg)
        self.settings = settings
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never shows the secret
        return f"AppTokens(client_id={self.settings.client_id!r})"

    @property
    def authority(self) -> str:
        return f"{self.settings.authority_url}/{self.settings.tenant_id}"

    def _client(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            try:
                # msal reads the authority's OpenID configuration here (network I/O).
                self._app = msal.ConfidentialClientApplication(
                    self.settings.client_id,
                    client_credential=self.settings.client_secret,
                    authority=self.authority,
                    instance_discovery=False,
                    http_client=https_session(self.settings.verify),
                )
            except requests.exceptions.SSLError:
                raise self._tls_error() from None
            except requests.exceptions.RequestException:
                raise ExchangeSetupError(
                    f"Cannot reach the identity platform at {self.settings.authority_url}: "
                    "check 'authority_url'.",
                    setting="authority_url",
                ) from None
            except ValueError:
                # msal: "Unable to get authority configuration for <url>" (a 4xx on discovery).
                raise ExchangeSetupError(
                    f"The identity platform at {self.settings.authority_url} knows no tenant "
                    f"'{self.settings.tenant_id}': check 'tenant_id' (and 'authority_url').",
                    setting="tenant_id",
                ) from None
        return self._app

    def _tls_error(self) -> ExchangeSetupError:
        return ExchangeSetupError(
            f"TLS failure talking to {self.settings.authority_url} (certificate verify failed): "
            "give the server's CA in 'ca_bundle' (or, for a test server only, set 'verify_ssl' "
            "to false).",
            setting="ca_bundle",
        )

    def token(self, scope: str) -> str:
        """A valid access token for ``scope`` (``<resource>/.default``)."""
        return self.token_and_lifetime(scope)[0]

    def token_and_lifetime(self, scope: str) -> tuple[str, float | None]:
        """The token and the seconds it stays valid (None for a ready ``access_token``)."""
        if self.settings.access_token is not None:
            return self.settings.access_token, None
        with self._lock:
            app = self._client()
            try:
                result = app.acquire_token_for_client(scopes=[scope])
            except requests.exceptions.SSLError:
                raise self._tls_error() from None
            except requests.exceptions.RequestException:
                raise ExchangeSetupError(
                    f"Cannot reach the token endpoint at {self.authority}: check 'authority_url'.",
                    setting="authority_url",
                ) from None
        if "access_token" in result:
            try:
                lifetime = float(result.get("expires_in") or 0) or None
            except (TypeError, ValueError):
                lifetime = None
            return str(result["access_token"]), lifetime
        raise self._token_error(result, scope)

    def _token_error(self, result: dict[str, Any], scope: str) -> ExchangeSetupError:
        codes = [c for c in result.get("error_codes") or () if isinstance(c, int)]
        error = str(result.get("error") or "unknown_error")
        setting = next((_CODE_SETTINGS[c] for c in codes if c in _CODE_SETTINGS), None)
        setting = setting or _ERROR_SETTINGS.get(error, "client_secret")
        code = f"AADSTS{codes[0]}" if codes else error
        hints = {
            "client_secret": "the client secret is wrong or expired: check 'client_secret'",
            "client_id": "no such application in the tenant: check 'client_id' (and 'tenant_id')",
            "tenant_id": "check 'tenant_id' (and 'authority_url')",
        }
        return ExchangeSetupError(
            f"The identity platform refused a token for {scope} ({error}, {code}): "
            f"{hints.get(setting, 'check ' + repr(setting))}.",
            setting=setting,
        )

    def roles(self, scope: str) -> set[str] | None:
        """The application permissions a token carries (``roles``), or None when unknown."""
        claims = token_claims(self.token(scope))
        roles = claims.get("roles")
        return {str(r) for r in roles} if isinstance(roles, list) else None


# msal logs every token-cache event at DEBUG (secrets redacted by msal itself); keep it quieter.
logging.getLogger("msal").setLevel(max(logging.getLogger("msal").level, logging.INFO))
