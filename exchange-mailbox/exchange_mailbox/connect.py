"""The mailbox implementation the settings ask for (``protocol``: ``ews`` or ``graph``, S13)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .interface import Mailbox
from .settings import ExchangeSettings


def open_mailbox(settings: ExchangeSettings | Mapping[str, Any]) -> Mailbox:
    """An unconnected mailbox: it connects on first use and explains bad settings then."""
    settings = (
        settings
        if isinstance(settings, ExchangeSettings)
        else ExchangeSettings.from_config(settings)
    )
    if settings.protocol == "graph":
        from .graph import GraphMailbox  # noqa: PLC0415 - msal is not needed for EWS

        return GraphMailbox(settings)
    from .ews import EwsMailbox  # noqa: PLC0415 - exchangelib is not needed for Graph

    return EwsMailbox(settings)
