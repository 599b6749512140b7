"""EWS ``auth_type: oauth2`` with client credentials, its tokens from msal (``app_tokens``).

exchangelib's own ``OAuth2Credentials`` fetches the token with requests-oauthlib from a fixed
``login.microsoftonline.com`` URL; this subclass hands exchangelib the token msal got from
``<authority_url>/<tenant_id>``, the very path the Graph implementation uses (SPEC S13.3), so
one token path is tested for both protocols. exchangelib asks ``session_params`` for a token
whenever it opens a session, and calls ``refresh`` when the server says the token expired; msal
answers from its cache until shortly before expiry. The credentials carry the mailbox as
``identity``, so exchangelib names it in the ``ExchangeImpersonation`` header, which Exchange
Online requires with an app-only token (it is the configured mailbox itself, never another).
"""

from __future__ import annotations

import time
from typing import Any

from exchangelib import OAuth2Credentials
from exchangelib.account import Identity
from oauthlib.oauth2 import OAuth2Token

from ..app_tokens import EWS_SCOPE, AppTokens


class MsalCredentials(OAuth2Credentials):
    """Client-credentials tokens for EWS from msal."""

    access_token: OAuth2Token | None  # exchangelib's property: None makes it ask again

    def __init__(self, tokens: AppTokens, *, identity: Identity) -> None:
        settings = tokens.settings
        super().__init__(
            client_id=settings.client_id,
            client_secret=None,  # requests-oauthlib must never fetch or refresh on its own
            tenant_id=settings.tenant_id,
            identity=identity,
        )
        self.tokens = tokens

    @property
    def token_url(self) -> str:
        return f"{self.tokens.authority}/oauth2/v2.0/token"

    def session_params(self) -> dict[str, Any]:
        token, lifetime = self.tokens.token_and_lifetime(EWS_SCOPE)
        # requests-oauthlib refuses a token past expires_at (exchangelib then calls refresh).
        self.access_token = OAuth2Token(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_at": time.time() + max((lifetime or 3600) - 60, 30),
            }
        )
        return {"token": self.access_token}

    def refresh(self, session: Any) -> None:
        self.access_token = None  # the next session asks msal again

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.client_id!r}, '********')"
