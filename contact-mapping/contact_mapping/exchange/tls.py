"""Per-endpoint TLS verification for exchangelib.

exchangelib picks its requests adapter from a class attribute shared by every connection in the
process (``BaseProtocol.HTTP_ADAPTER_CLS``), so "turn verification off" or "use this CA bundle"
cannot be set per account. This adapter looks the policy up by URL prefix instead: only the
endpoints a plugin registered get a non-default ``verify``; everything else keeps requests'
defaults (system CAs, ``REQUESTS_CA_BUNDLE``).
"""

from __future__ import annotations

import threading

import requests.adapters
from exchangelib.protocol import BaseProtocol

_lock = threading.Lock()
_policies: dict[str, bool | str] = {}


class EndpointTLSAdapter(requests.adapters.HTTPAdapter):
    """Applies the registered ``verify`` value (False or a CA bundle path) for the request's URL."""

    def send(self, request, *args, **kwargs):  # type: ignore[override]
        # requests calls send(request, stream=, timeout=, verify=, cert=, proxies=) by keyword.
        kwargs["verify"] = policy_for(request.url or "", default=kwargs.get("verify", True))
        return super().send(request, *args, **kwargs)


def policy_for(url: str, *, default: bool | str = True) -> bool | str:
    """Longest registered prefix wins; the empty prefix (autodiscover) matches everything."""
    with _lock:
        matches = [p for p in _policies if url.startswith(p)]
        return _policies[max(matches, key=len)] if matches else default


def register(prefix: str, verify: bool | str) -> None:
    """Use ``verify`` for every URL starting with ``prefix`` (``""`` = every Exchange URL)."""
    with _lock:
        if verify is True:
            _policies.pop(prefix, None)
            return
        _policies[prefix] = verify
        current = BaseProtocol.HTTP_ADAPTER_CLS
        if current is not EndpointTLSAdapter:
            if current is not requests.adapters.HTTPAdapter:
                msg = (
                    f"exchangelib already uses a custom HTTP adapter ({current.__name__}); "
                    "verify_ssl / ca_bundle cannot be applied on top of it"
                )
                raise RuntimeError(msg)
            BaseProtocol.HTTP_ADAPTER_CLS = EndpointTLSAdapter
