"""A requests session whose TLS policy is the one the settings give (``ca_bundle``, ``verify_ssl``).

requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` from the environment override a
session's ``verify`` whenever a request does not pass ``verify`` itself (reference
graph-contacts.md §0.8), so a user's ``ca_bundle`` would silently lose to the environment. This
session passes its own policy with every request; everything else of the environment (proxies,
``NO_PROXY``) still applies. With ``verify`` True the environment's CA bundle is used as usual.
"""

from __future__ import annotations

from typing import Any

import requests


class PinnedVerifySession(requests.Session):
    """``verify`` of the session wins over the environment's CA bundle variables."""

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        if self.verify is not True:
            kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


def https_session(verify: bool | str) -> requests.Session:
    session = PinnedVerifySession()
    session.verify = verify
    return session
