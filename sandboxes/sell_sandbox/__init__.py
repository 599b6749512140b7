"""A faithful local stand-in for the Zendesk Sell REST API v2 (see sandboxes/README.md)."""

from __future__ import annotations

import hashlib

#: The token served when ``--token`` is not given; documented so ``make demo`` can use it.
DEMO_TOKEN = hashlib.sha256(b"sell-sandbox demo token").hexdigest()


def tenant_key(token: str) -> str:
    """Non-secret name of a token's tenant in ``/_sandbox/stats`` (never log the token itself)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:12]


__all__ = ["DEMO_TOKEN", "tenant_key"]
