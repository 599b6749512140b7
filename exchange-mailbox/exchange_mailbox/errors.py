"""Errors raised while setting up an Exchange connection.

They subclass singer-sdk's ``ConfigValidationError`` so that a tap or target CLI stops with the
message logged and exit code 1 (no traceback), before it reads or writes anything (SPEC S10.3).
Messages name the setting at fault and never carry a secret value.
"""

from __future__ import annotations

from singer_sdk.exceptions import ConfigValidationError


class ExchangeSetupError(ConfigValidationError):
    """A setting is missing or contradicts another, or the server refused us or is unreachable."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message, errors=[message])
        self.setting = setting


class ExchangeScopeError(ExchangeSetupError):
    """The mailbox cannot be synced as configured (e.g. a selected category does not exist)."""
