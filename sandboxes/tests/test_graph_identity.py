"""exchange-sandbox's identity platform and TLS: msal unmodified, audience, expiry, app scope.

SPEC §3 (`exchange-sandbox --app/--app-scope/--tls`), S13.3 (client-credentials through msal).
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import exchangelib
import msal
import pytest
import requests
from ews_sandbox.testing import BUILD
from exchangelib import (
    IMPERSONATION,
    OAUTH2,
    Account,
    Build,
    Configuration,
    Identity,
    OAuth2Credentials,
    Version,
)
from exchangelib.errors import ErrorAccessDenied
from graph_sandbox.testing import (
    CLIENT_ID,
    EWS_SCOPE,
    SECRET,
    TENANT,
    app_token,
    http_session,
    msal_app,
    validated_exchange_sandbox,
)

pytestmark = pytest.mark.subprocess

SCOPED_CLIENT, SCOPED_SECRET = "scoped-client", "scoped-secret"
READER_CLIENT, READER_SECRET = "reader-client", "reader-secret"
ARGS = [
    "--tls", "--seed", "6",
    "--mailbox", "demo@example.com:demo-password", "--mailbox", "bob@example.org:bob-pw",
    "--app", f"{TENANT}:{CLIENT_ID}:{SECRET}",
    "--app", f"{TENANT}:{SCOPED_CLIENT}:{SCOPED_SECRET}",
    "--app-scope", f"{SCOPED_CLIENT}:demo@example.com",
    "--app", f"{TENANT}:{READER_CLIENT}:{READER_SECRET}",
    "--app-permissions", f"{READER_CLIENT}:Contacts.Read",
]  # fmt: skip


def _get(sandbox, path: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return http_session(sandbox).get(f"{sandbox.base_url}/v1.0/{path}", headers=headers, timeout=10)


@pytest.mark.spec("S13.3")
def test_tls_with_its_own_ca_for_127_0_0_1_and_localhost(sandbox):
    assert sandbox.base_url.startswith("https://127.0.0.1:")
    assert Path(sandbox.cafile).read_text().startswith("-----BEGIN CERTIFICATE-----")
    port = sandbox.base_url.rsplit(":", 1)[1]
    context = ssl.create_default_context(cafile=sandbox.cafile)
    for host in ("127.0.0.1", "localhost"):
        url = f"https://{host}:{port}/_sandbox/stats"
        with urllib.request.urlopen(url, context=context, timeout=10) as resp:
            assert resp.status == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{sandbox.base_url}/_sandbox/stats", timeout=10, verify=True)


def test_ca_line_comes_before_ready_and_goes_with_the_sandbox():
    started = subprocess.Popen(
        [str(Path(sys.executable).with_name("exchange-sandbox")), "--port", "0", "--tls"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert started.stdout is not None
        first, second = started.stdout.readline(), started.stdout.readline()
        ca = Path(first[3:].strip())
        context = ssl.create_default_context(cafile=str(ca))
        url = second.split()[1] + "/_sandbox/stats"
        with urllib.request.urlopen(url, context=context, timeout=10) as resp:  # noqa: S310
            assert resp.status == 200
    finally:
        started.terminate()
        started.wait(timeout=10)
    assert first.startswith("ca ")
    assert ca.name == "ca.pem"
    assert second.startswith("ready https://")
    assert not ca.exists(), "the CA files go when the sandbox stops"


@pytest.mark.spec("S13.3")
def test_msal_unmodified_gets_a_token_then_serves_it_from_its_cache(sandbox):
    app = msal_app(sandbox)
    before = sandbox.stats()["touched"].get("identity", {})
    first = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    second = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    assert first["token_type"] == "Bearer"
    assert first["expires_in"] > 0
    assert first["token_source"] == "identity_provider"
    assert second["token_source"] == "cache"
    after = sandbox.stats()["touched"]["identity"]
    posts = "POST /{tenant}/oauth2/v2.0/token"
    assert after[posts] - before.get(posts, 0) == 1
    assert _get(sandbox, "users/demo@example.com/contactFolders", first["access_token"]).ok


def test_msal_with_instance_discovery_pointed_at_the_sandbox(sandbox):
    app = msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=SECRET,
        authority=f"{sandbox.base_url}/{TENANT}",
        instance_discovery=f"{sandbox.base_url}/common/discovery/instance",
        http_client=http_session(sandbox),
    )
    assert "access_token" in app.acquire_token_for_client(
        scopes=["https://graph.microsoft.com/.default"]
    )


@pytest.mark.spec("S10.3")
def test_token_errors_are_entra_errors(sandbox):
    wrong = msal_app(sandbox, secret="not-the-secret").acquire_token_for_client(
        scopes=["https://graph.microsoft.com/.default"]
    )
    assert wrong["error"] == "invalid_client"
    assert wrong["error_codes"] == [7000215]
    assert "not-the-secret" not in str(wrong)
    unknown = msal_app(sandbox, client_id="nobody").acquire_token_for_client(
        scopes=["https://graph.microsoft.com/.default"]
    )
    assert unknown["error"] == "unauthorized_client"
    assert unknown["error_codes"] == [700016]
    bad_scope = msal_app(sandbox).acquire_token_for_client(scopes=["Contacts.Read"])
    assert bad_scope["error"] == "invalid_scope"
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal_app(sandbox, tenant="no-such-tenant")
    discovery = http_session(sandbox).get(
        f"{sandbox.base_url}/no-such-tenant/v2.0/.well-known/openid-configuration", timeout=10
    )
    assert discovery.status_code == 400
    assert discovery.json()["error_codes"] == [90002]


def test_client_secret_basic_as_requests_oauthlib_sends_it(sandbox):
    resp = http_session(sandbox).post(
        f"{sandbox.base_url}/{TENANT}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": EWS_SCOPE},
        auth=(CLIENT_ID, SECRET),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["token_type"] == "Bearer"


@pytest.mark.spec("S13.3")
def test_graph_checks_token_audience_and_expiry(sandbox):
    missing = _get(sandbox, "users/demo@example.com/contacts", None)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert missing.headers["request-id"] == missing.json()["error"]["innerError"]["request-id"]
    garbage = _get(sandbox, "users/demo@example.com/contacts", "not-a-token")
    assert garbage.status_code == 401
    ews_token = app_token(sandbox, scope=EWS_SCOPE)
    wrong_audience = _get(sandbox, "users/demo@example.com/contacts", ews_token)
    assert wrong_audience.status_code == 401
    assert "Invalid audience" in wrong_audience.json()["error"]["message"]
    short_lived = [*ARGS, "--token-lifetime", "2"]
    with validated_exchange_sandbox(short_lived) as quick:
        token = app_token(quick)
        assert _get(quick, "users/demo@example.com/contacts", token).status_code == 200
        time.sleep(2.5)
        expired = _get(quick, "users/demo@example.com/contacts", token)
    assert expired.status_code == 401
    assert expired.json()["error"]["message"] == "Lifetime validation failed, the token is expired."


@pytest.mark.spec("S15.3")
def test_app_scope_keeps_an_app_to_its_mailboxes(sandbox):
    token = app_token(sandbox, client_id=SCOPED_CLIENT, secret=SCOPED_SECRET)
    assert _get(sandbox, "users/demo@example.com/contacts", token).status_code == 200
    denied = _get(sandbox, "users/bob@example.org/contacts", token)
    assert denied.status_code == 403
    assert denied.json()["error"] == {
        "code": "ErrorAccessDenied",
        "message": "Access to OData is disabled.",
        "innerError": denied.json()["error"]["innerError"],
    }
    unknown = _get(sandbox, "users/nobody@example.com/contacts", token)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "ErrorInvalidUser"


@pytest.mark.spec("S10.3")
def test_missing_permission_is_access_denied(sandbox):
    token = app_token(sandbox, client_id=READER_CLIENT, secret=READER_SECRET)
    assert _get(sandbox, "users/demo@example.com/contacts", token).status_code == 200
    categories = _get(sandbox, "users/demo@example.com/outlook/masterCategories", token)
    assert categories.status_code == 403
    assert categories.json()["error"]["code"] == "ErrorAccessDenied"
    write = http_session(sandbox).post(
        f"{sandbox.base_url}/v1.0/users/demo@example.com/contacts",
        json={"givenName": "Nope"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert write.status_code == 403
    assert sandbox.stats()["by_tenant"]["demo@example.com"]["total_writes"] == 0


def test_me_needs_a_delegated_token(sandbox):
    resp = _get(sandbox, "me/contacts", app_token(sandbox))
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == (
        "/me request is only valid with delegated authentication flow."
    )


class SandboxOAuth2Credentials(OAuth2Credentials):
    """exchangelib's client-credentials grant, with the token URL of the sandbox's tenant."""

    base_url = ""

    @property
    def token_url(self):
        return f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token"


def _app_account(sandbox, address: str, client_id: str, secret: str):
    credentials = SandboxOAuth2Credentials(
        client_id=client_id,
        client_secret=secret,
        tenant_id=TENANT,
        identity=Identity(primary_smtp_address=address),
    )
    credentials.base_url = sandbox.base_url
    config = Configuration(
        service_endpoint=f"{sandbox.base_url}/EWS/Exchange.asmx",
        credentials=credentials,
        auth_type=OAUTH2,
        version=Version(build=Build(*BUILD)),
    )
    return Account(address, config=config, autodiscover=False, access_type=IMPERSONATION)


@pytest.mark.spec("S13.3")
def test_the_app_token_authenticates_ews_with_impersonation(sandbox, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sandbox.cafile)
    try:
        ews = _app_account(sandbox, "bob@example.org", CLIENT_ID, SECRET)
        assert ews.contacts.total_count > 0
        scoped = _app_account(sandbox, "bob@example.org", SCOPED_CLIENT, SCOPED_SECRET)
        with pytest.raises(ErrorAccessDenied):
            scoped.contacts.refresh()
        assert _app_account(sandbox, "demo@example.com", SCOPED_CLIENT, SCOPED_SECRET).contacts
    finally:
        exchangelib.close_connections()
    endpoint = f"{sandbox.base_url}/EWS/Exchange.asmx"
    graph_token = app_token(sandbox)
    body = (
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
        'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body>'
        "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"
        '<m:FolderIds><t:DistinguishedFolderId Id="contacts"/></m:FolderIds></m:GetFolder>'
        "</s:Body></s:Envelope>"
    )
    session = http_session(sandbox)
    wrong_audience = session.post(
        endpoint, data=body, headers={"Authorization": f"Bearer {graph_token}"}, timeout=10
    )
    assert wrong_audience.status_code == 401
    no_impersonation = session.post(
        endpoint,
        data=body,
        headers={"Authorization": f"Bearer {app_token(sandbox, scope=EWS_SCOPE)}"},
        timeout=10,
    )
    assert no_impersonation.status_code == 500
    assert b"ExchangeImpersonation SOAP header must be present" in no_impersonation.content
