"""App-only bearer tokens over EWS, as Exchange Online takes them (``full_access_as_app``).

The token must have the EWS audience (``https://outlook.office365.com``) and the
``full_access_as_app`` role; the mailbox is the one the ``t:ExchangeImpersonation`` header names
(``t:ConnectingSID`` with ``PrimarySmtpAddress``, ``SmtpAddress`` or ``PrincipalName``), as
exchangelib sends it for ``OAuth2Credentials(identity=…)``. Without that header Exchange Online
answers "ExchangeImpersonation SOAP header must be present for this type of OAuth token." (message
seen in OfficeDev/ews-managed-api#245 and ecederstrand/exchangelib#735; the response code is
UNVERIFIED). A mailbox outside the app's ``--app-scope`` is ``ErrorAccessDenied`` (UNVERIFIED).
"""

from __future__ import annotations

from ews_sandbox.errors import SoapFaultError
from ews_sandbox.store import Mailbox
from ews_sandbox.xml import SOAP_NS, T_NS
from lxml import etree

from graph_sandbox.identity import EWS_AUDIENCE, IdentityPlatform, TokenRejectedError

_IDENTITY_FIELDS = ("PrimarySmtpAddress", "SmtpAddress", "PrincipalName")


def app_bearer(identity: IdentityPlatform, mailboxes: dict[str, Mailbox]):
    """The ``SandboxState.app_bearer`` hook: (token, SOAP envelope) → the mailbox acted on."""

    def resolve(token: str, envelope: etree._Element | None) -> Mailbox | None:
        try:
            app, roles = identity.verify(token, EWS_AUDIENCE)
        except TokenRejectedError:
            return None  # 401, as for any unknown bearer token
        if "full_access_as_app" not in roles:
            raise SoapFaultError(
                "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        header = envelope.find(f"{{{SOAP_NS}}}Header") if envelope is not None else None
        sid = None if header is None else header.find(
            f"{{{T_NS}}}ExchangeImpersonation/{{{T_NS}}}ConnectingSID"
        )  # fmt: skip
        address = None
        if sid is not None:
            address = next(
                (sid.findtext(f"{{{T_NS}}}{name}") for name in _IDENTITY_FIELDS
                 if sid.findtext(f"{{{T_NS}}}{name}")),
                None,
            )  # fmt: skip
        if not address:
            raise SoapFaultError(
                "ErrorInvalidExchangeImpersonationHeaderData",
                "ExchangeImpersonation SOAP header must be present for this type of OAuth token.",
            )
        mailbox = mailboxes.get(address.strip().lower())
        if mailbox is None:
            raise SoapFaultError(
                "ErrorNonExistentMailbox",
                f"The SMTP address {address} has no mailbox associated with it.",
            )
        if not app.may_reach(mailbox.address):
            raise SoapFaultError(
                "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        return mailbox

    return resolve
