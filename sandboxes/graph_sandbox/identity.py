"""The part of the Microsoft identity platform a client-credentials app needs (reference §9).

``POST /{tenant}/oauth2/v2.0/token`` (secret in the body, as msal sends it, or HTTP Basic, as
requests-oauthlib sends it), the OpenID configuration msal reads in its constructor, the
instance discovery document msal asks for when ``instance_discovery`` names this server, and the
signing keys.
Access tokens are RS256 JWTs with Entra's app-only claims (``aud``, ``roles``, ``appid``, ``tid``,
``exp``), so the audience and expiry checks are real ones. Secrets and tokens are never logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

GRAPH_AUDIENCE = "https://graph.microsoft.com"
EWS_AUDIENCE = "https://outlook.office365.com"
# Resource identifiers a scope may name (URI or app id), mapped to the token audience.
RESOURCES = {
    "https://graph.microsoft.com": GRAPH_AUDIENCE,
    "00000003-0000-0000-c000-000000000000": GRAPH_AUDIENCE,
    "https://outlook.office365.com": EWS_AUDIENCE,
    "https://outlook.office.com": EWS_AUDIENCE,
    "00000002-0000-0ff1-ce00-000000000000": EWS_AUDIENCE,
}
# Application permissions by the API they belong to (they become the token's ``roles``).
GRAPH_PERMISSIONS = frozenset(
    {"Contacts.Read", "Contacts.ReadWrite", "MailboxSettings.Read", "MailboxSettings.ReadWrite"}
)
EWS_PERMISSIONS = frozenset({"full_access_as_app"})
DEFAULT_PERMISSIONS = frozenset(
    {"Contacts.ReadWrite", "MailboxSettings.ReadWrite", "full_access_as_app"}
)
_NAMESPACE = uuid.UUID("0c2d1c38-5a7e-4a55-8f3e-6a7d4f1e2b90")


def object_id(kind: str, name: str) -> str:
    """A stable GUID for a tenant, service principal or user named ``name``."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{name.lower()}"))


@dataclass
class App:
    """One app registration (``--app``), its granted permissions and its mailbox scope."""

    tenant: str
    client_id: str
    secret: str = field(repr=False)
    permissions: frozenset[str] = DEFAULT_PERMISSIONS
    mailboxes: frozenset[str] | None = None  # ``--app-scope``: None = every mailbox

    def may_reach(self, address: str) -> bool:
        return self.mailboxes is None or address.lower() in self.mailboxes


class TokenRejectedError(Exception):
    """Why a bearer token does not authenticate (the message Graph puts in its 401)."""


def _aad_error(status: int, error: str, code: int, description: str) -> web.Response:
    """Entra's OAuth error body (reference §9), with its trace and correlation ids."""
    now = datetime.now(UTC)
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    text = (
        f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} "
        f"Timestamp: {stamp}"
    )
    body = {
        "error": error,
        "error_description": text,
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return web.json_response(body, status=status)


class IdentityPlatform:
    """Apps, token minting and checking, and the identity platform's HTTP endpoints."""

    def __init__(self, apps: list[App], *, lifetime: int = 3599) -> None:
        self.apps = {(a.tenant.lower(), a.client_id.lower()): a for a in apps}
        self.tenants = {a.tenant.lower(): a.tenant for a in apps}
        self.lifetime = lifetime
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = str(uuid.uuid4())
        self.issued = 0

    # -- tokens ------------------------------------------------------------------------------
    def issue(self, app: App, audience: str) -> str:
        now = int(time.time())
        api = GRAPH_PERMISSIONS if audience == GRAPH_AUDIENCE else EWS_PERMISSIONS
        claims = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{object_id('tenant', app.tenant)}/",
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "appid": app.client_id,
            "appidacr": "1",
            "idtyp": "app",
            "oid": object_id("sp", app.client_id),
            "sub": object_id("sp", app.client_id),
            "roles": sorted(app.permissions & api),
            "tid": object_id("tenant", app.tenant),
            "ver": "1.0",
            "xms_tnt": app.tenant,
        }
        self.issued += 1
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})

    def verify(self, token: str, audience: str) -> tuple[App, set[str]]:
        """The app a token was issued to and its roles; TokenRejectedError says why not."""
        if not token:
            raise TokenRejectedError("Access token is empty.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejectedError(
                "IDX14100: JWT is not well formed, there are no dots (.)."
                if "." not in token
                else "CompactToken parsing failed with error code: 80049217"
            ) from exc
        if header.get("kid") != self._kid:
            raise TokenRejectedError("Access token validation failure.")
        try:
            claims = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejectedError("Access token validation failure.") from exc
        if claims.get("exp", 0) <= time.time():
            raise TokenRejectedError("Lifetime validation failed, the token is expired.")
        if claims.get("aud") != audience:
            raise TokenRejectedError("Access token validation failure. Invalid audience.")
        app = self.apps.get((str(claims.get("xms_tnt", "")).lower(), claims["appid"].lower()))
        if app is None:
            raise TokenRejectedError("Access token validation failure.")
        return app, set(claims.get("roles") or [])

    # -- endpoints ------------------------------------------------------------------------------
    def routes(self, app: web.Application, count: Any) -> None:
        """Add the endpoints; ``count(operation)`` records each call for the stats."""

        async def openid_configuration(request: web.Request) -> web.Response:
            count("GET /{tenant}/v2.0/.well-known/openid-configuration")
            tenant = self.tenants.get(request.match_info["tenant"].lower())
            if tenant is None:
                return _tenant_not_found(request.match_info["tenant"])
            base = _base(request)
            issuer_id = object_id("tenant", tenant)
            return web.json_response(
                {
                    "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
                    "token_endpoint_auth_methods_supported": [
                        "client_secret_post",
                        "private_key_jwt",
                        "client_secret_basic",
                    ],
                    "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
                    "response_modes_supported": ["query", "fragment", "form_post"],
                    "subject_types_supported": ["pairwise"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "response_types_supported": [
                        "code",
                        "id_token",
                        "code id_token",
                        "id_token token",
                    ],
                    "scopes_supported": ["openid", "profile", "email", "offline_access"],
                    "issuer": f"{base}/{issuer_id}/v2.0",
                    "request_uri_parameter_supported": False,
                    "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
                    "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
                    "http_logout_supported": True,
                    "frontchannel_logout_supported": True,
                    "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
                    "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver"],
                    "tenant_region_scope": "EU",
                    "cloud_instance_name": "microsoftonline.com",
                    "cloud_graph_host_name": "graph.windows.net",
                    "msgraph_host": "graph.microsoft.com",
                }
            )

        async def instance_discovery(request: web.Request) -> web.Response:
            count("GET /common/discovery/instance")
            endpoint = request.query.get("authorization_endpoint", "")
            parts = urlsplit(endpoint)
            segments = [s for s in parts.path.split("/") if s]
            host = request.host
            # msal names the authority by host name alone (no port) in this parameter.
            if (parts.hostname or "") != (request.url.host or "").lower() or not segments:
                return _aad_error(
                    400,
                    "invalid_instance",
                    50049,
                    "Unknown or invalid instance.",
                )
            return web.json_response(
                {
                    "tenant_discovery_endpoint": f"{_base(request)}/{segments[0]}/v2.0/.well-known/"
                    "openid-configuration",
                    "api-version": "1.1",
                    "metadata": [
                        {"preferred_network": host, "preferred_cache": host, "aliases": [host]}
                    ],
                }
            )

        async def keys(request: web.Request) -> web.Response:
            count("GET /{tenant}/discovery/v2.0/keys")
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
            jwk.update({"kid": self._kid, "use": "sig"})
            return web.json_response({"keys": [jwk]})

        async def token(request: web.Request) -> web.Response:
            count("POST /{tenant}/oauth2/v2.0/token")
            return await self._token(request)

        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration)
        app.router.add_get("/common/discovery/instance", instance_discovery)
        app.router.add_get("/{tenant}/discovery/v2.0/keys", keys)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", token)

    async def _token(self, request: web.Request) -> web.Response:
        tenant_segment = request.match_info["tenant"]
        tenant = self.tenants.get(tenant_segment.lower())
        if tenant is None:
            return _tenant_not_found(tenant_segment)
        form = await request.post()
        grant = str(form.get("grant_type", ""))
        if grant != "client_credentials":
            return _aad_error(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant}'.",
            )
        client_id, secret = str(form.get("client_id", "")), form.get("client_secret")
        basic = _basic_credentials(request.headers.get("Authorization", ""))
        if basic is not None:
            client_id, secret = basic
        if form.get("client_assertion"):
            return _aad_error(
                400,
                "invalid_request",
                900144,
                "The sandbox accepts client secrets only, not certificate assertions.",
            )
        if not client_id:
            return _aad_error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            )
        app = self.apps.get((tenant.lower(), client_id.lower()))
        if app is None:
            return _aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant}'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant.",
            )
        if not secret:
            return _aad_error(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        if not hmac.compare_digest(str(secret).encode(), app.secret.encode()):
            return _aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
            )
        scopes = str(form.get("scope", "")).split()
        if not scopes:
            return _aad_error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            )
        audiences = set()
        for scope in scopes:
            resource, _, permission = scope.rpartition("/")
            if permission != ".default" or not resource:
                return _aad_error(
                    400,
                    "invalid_scope",
                    1002012,
                    f"The provided value for scope {scope} is not valid. Client credential flows "
                    "must have a scope value with /.default suffixed to the resource identifier "
                    "(application ID URI).",
                )
            audience = RESOURCES.get(resource.rstrip("/").lower())
            if audience is None:
                return _aad_error(
                    400,
                    "invalid_resource",
                    500011,
                    f"The resource principal named {resource} was not found in the tenant named "
                    f"{tenant}. This can happen if the application has not been installed by the "
                    "administrator of the tenant or consented to by any user in the tenant.",
                )
            audiences.add(audience)
        if len(audiences) != 1:
            return _aad_error(
                400,
                "invalid_scope",
                70011,
                "The provided request must include a 'scope' input parameter. The provided value "
                "for the input parameter 'scope' is not valid: scopes of one resource only.",
            )
        access_token = self.issue(app, audiences.pop())
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.lifetime,
                "ext_expires_in": self.lifetime,
                "access_token": access_token,
            }
        )


def _tenant_not_found(tenant: str) -> web.Response:
    return _aad_error(
        400,
        "invalid_tenant",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud.",
    )


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """client_secret_basic (RFC 6749 §2.3.1: form-urlencoded id and secret)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (unquote(user), unquote(password)) if sep else None


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"
