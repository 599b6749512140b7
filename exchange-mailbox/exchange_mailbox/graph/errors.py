"""Graph's error answers as exceptions, and the ones that are bad configuration as S10.3 errors.

Graph answers errors in the OData envelope ``{"error": {"code", "message", "innerError"}}``;
clients must read ``code``, never ``message`` (reference graph-contacts.md §8). A few answers mean
the settings are wrong, not the data, and ``explain`` turns those into ``ExchangeSetupError``
naming the setting (or the application permission) at fault:

- 401 ``InvalidAuthenticationToken``: the token was refused (``access_token``, or the app);
- 403 ``ErrorAccessDenied`` "Access to OData is disabled.": the mailbox is outside the app's
  application access policy (or RBAC for Applications scope);
- 403 ``ErrorAccessDenied`` otherwise: the app lacks the application permission the call needs
  (``Contacts.Read``/``.ReadWrite``, ``MailboxSettings.Read``/``.ReadWrite``);
- 404 ``ErrorInvalidUser`` / ``MailboxNotEnabledForRESTAPI``: no such mailbox in the tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ExchangeSetupError

POLICY_MESSAGE = "access to odata is disabled"
EXPIRED_DELTA_CODES = frozenset(
    {"syncstatenotfound", "resyncrequired", "syncstateinvalid", "invaliddeltatoken"}
)


class GraphError(Exception):
    """A Graph answer with an error status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.request_id = request_id

    @classmethod
    def from_answer(
        cls, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> GraphError:
        error = body.get("error") if isinstance(body, Mapping) else None
        error = error if isinstance(error, Mapping) else {}
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        return cls(
            status,
            str(error.get("code") or f"HTTP{status}"),
            str(error.get("message") or "")[:500],
            retry_after=retry_after_seconds(headers.get("retry-after")),
            request_id=headers.get("request-id"),
        )

    @property
    def busy(self) -> bool:
        """Throttled or unavailable: nothing was done, try again after ``retry_after``."""
        return self.status in (429, 503, 504)

    @property
    def delta_expired(self) -> bool:
        """The delta (sync state) token is no longer known: read the folder afresh."""
        return self.status == 410 or self.code.lower() in EXPIRED_DELTA_CODES

    @property
    def outside_policy(self) -> bool:
        return self.status == 403 and POLICY_MESSAGE in self.message.lower()


class GraphBusyError(GraphError):
    """Graph stayed busy (429/503) longer than setting ``retry_max_wait`` allows (S10.2)."""


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (Graph sends delta-seconds); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def required_permission(family: str, write: bool) -> str:
    """The application permission a call of ``family`` (contacts, categories) needs."""
    base = "MailboxSettings" if family == "categories" else "Contacts"
    return f"{base}.{'ReadWrite' if write else 'Read'}"


def explain(
    exc: GraphError, *, mailbox: str, family: str = "contacts", write: bool = False
) -> ExchangeSetupError | None:
    """The configuration error ``exc`` means, or None when it is about the data."""
    if exc.status == 401:
        return ExchangeSetupError(
            f"Microsoft Graph refused the access token ({exc.code}: {exc.message}): check "
            "'access_token', or 'client_id', 'client_secret' and 'tenant_id'.",
            setting="access_token",
        )
    if exc.outside_policy:
        return ExchangeSetupError(
            f"Mailbox {mailbox} is outside the application access policy of the app "
            f"({exc.code}: {exc.message}): an Exchange admin must add it to the app's scope "
            "(New-ApplicationAccessPolicy / RBAC for Applications), or check "
            "'primary_smtp_address'.",
            setting="primary_smtp_address",
        )
    if exc.status == 403:
        permission = required_permission(family, write)
        return ExchangeSetupError(
            f"The app lacks the application permission {permission} for mailbox {mailbox} "
            f"({exc.code}): grant {permission} to the app registration and give admin consent.",
            setting="client_id",
        )
    if exc.status == 404 and exc.code in ("ErrorInvalidUser", "MailboxNotEnabledForRESTAPI"):
        return ExchangeSetupError(
            f"Microsoft Graph knows no mailbox {mailbox} ({exc.code}): check "
            "'primary_smtp_address'.",
            setting="primary_smtp_address",
        )
    return None
