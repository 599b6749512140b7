"""What an EWS run on basic or NTLM auth does not import: msal (and its JWT and token code).

Importing msal costs every start of both Exchange plugins about 0.1 CPU-seconds (README table
8b); only client-credentials OAuth2 needs it. Checked in a fresh interpreter, since this test
process may have imported msal already; the oauth2 case shows the check can fail.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.subprocess

CREDENTIALS_THEN_MODULES = """
import sys
from exchange_mailbox.ews import connection
from exchange_mailbox.settings import ExchangeSettings
oauth2 = sys.argv[1] == "oauth2"
secrets = dict(client_id="c", client_secret="s", tenant_id="t") if oauth2 else dict(password="pw")
connection._credentials(ExchangeSettings.from_config(dict(
    primary_smtp_address="u@example.com", service_endpoint="https://ews.example/EWS/Exchange.asmx",
    auth_type=sys.argv[1], **secrets,
)))
print(sorted({m.split(".")[0] for m in sys.modules} & {"msal", "jwt"}))
"""


def loaded_after_credentials(auth_type: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", CREDENTIALS_THEN_MODULES, auth_type],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.mark.parametrize("auth_type", ["basic", "ntlm"])
def test_password_auth_imports_no_msal(auth_type: str) -> None:
    assert loaded_after_credentials(auth_type) == "[]"


def test_client_credentials_import_msal() -> None:
    assert loaded_after_credentials("oauth2") == "['jwt', 'msal']"
