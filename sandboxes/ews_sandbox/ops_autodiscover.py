"""SOAP Autodiscover (``/autodiscover/autodiscover.svc``): GetUserSettings, as exchangelib asks it.

exchangelib 5.6 (``autodiscover/discovery.py``) tries ``https://<domain>/autodiscover/
autodiscover.svc``, then ``https://autodiscover.<domain>/…``, then an http redirect and a DNS
SRV record. At each URL it first POSTs without credentials to learn the auth scheme from the
401's ``WWW-Authenticate`` (the server's job, in ``server.py``), then POSTs a
``GetUserSettingsRequestMessage`` for the user with every setting it knows by name.

The answer follows the shape Exchange sends (exchangelib's own test fixtures, recorded from
Exchange Online): ``ServerVersionInfo`` in the Autodiscover namespace, ``Response`` with
``ErrorCode`` ``NoError`` and one ``UserResponse`` per user. A user the server holds gets the
settings this server has, each a ``StringSetting``; requested settings it does not implement are
left out, as Microsoft documents ("if a requested setting is not implemented on the Exchange
server, no element is returned"). A user it does not hold gets ``InvalidUser`` with
"Invalid user '<address>'." (exchangelib's tests against Exchange Online see that code and text).

The EWS URL returned is ``https://<the host the client reached>/EWS/Exchange.asmx``: one server
publishes both, as a single-server deployment does. ``EwsSupportedSchemas`` lists the request
versions of an Exchange 2016 server (UNVERIFIED: the exact list a real 15.1 server returns);
exchangelib takes the newest, Exchange2016, matching the EWS answers' ``ServerVersionInfo``.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from ews_sandbox.soap import SERVER_VERSION, XML_DECLARATION
from ews_sandbox.state import SandboxState
from ews_sandbox.xml import SOAP_NS

PATH = "/autodiscover/autodiscover.svc"
A_NS = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
WSA_NS = "http://www.w3.org/2005/08/addressing"
SUPPORTED_SCHEMAS = (
    "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, "
    "Exchange2013, Exchange2013_SP1, Exchange2015, Exchange2016"
)
CAS_VERSION = "{MajorVersion}.{MinorVersion:0>2}.{MajorBuildNumber:0>4}.{MinorBuildNumber:0>3}"


class AutodiscoverRequestError(ValueError):
    """The body is not a GetUserSettings request this server understands."""


def autodiscover_hosts(addresses: Iterable[str]) -> list[str]:
    """The names autodiscover tries for these addresses' domains: ``<domain>`` (step 1) and
    ``autodiscover.<domain>`` (step 2); ``--tls`` certifies them too."""
    domains = dict.fromkeys(a.rsplit("@", 1)[-1].lower() for a in addresses)
    return [name for d in domains for name in (d, f"autodiscover.{d}")]


def _a(local: str) -> str:
    return f"{{{A_NS}}}{local}"


def parse_request(raw: bytes) -> tuple[list[str], list[str]]:
    """The users and the setting names of a ``GetUserSettingsRequestMessage``."""
    try:
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise AutodiscoverRequestError("The request is not well-formed XML.") from exc
    request = root.find(f"{{{SOAP_NS}}}Body/{_a('GetUserSettingsRequestMessage')}/{_a('Request')}")
    if request is None:
        raise AutodiscoverRequestError("The request holds no GetUserSettings request.")
    users = [
        (el.text or "").strip()
        for el in request.iterfind(f"{_a('Users')}/{_a('User')}/{_a('Mailbox')}")
    ]
    settings = [
        (el.text or "").strip()
        for el in request.iterfind(f"{_a('RequestedSettings')}/{_a('Setting')}")
    ]
    if not users or not all(users):
        raise AutodiscoverRequestError("The request names no user.")
    if not settings:
        raise AutodiscoverRequestError("The request asks for no setting.")
    return users, settings


def user_settings(state: SandboxState, address: str, host: str) -> dict[str, str] | None:
    """The settings this server has for ``address`` (None: not a user of this server)."""
    mailbox = state.mailboxes.get(address.lower())
    if mailbox is None:
        return None
    ews_url = f"https://{host}/EWS/Exchange.asmx"
    return {
        "UserDisplayName": mailbox.display_name,
        "AutoDiscoverSMTPAddress": mailbox.address,
        "InternalEwsUrl": ews_url,
        "ExternalEwsUrl": ews_url,
        "CasVersion": CAS_VERSION.format(**SERVER_VERSION),
        "EwsSupportedSchemas": SUPPORTED_SCHEMAS,
    }


def _text(parent: etree._Element, local: str, text: str | None) -> etree._Element:
    el = etree.SubElement(parent, _a(local))
    el.text = text
    return el


def _envelope(response: etree._Element) -> bytes:
    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"s": SOAP_NS, "a": WSA_NS})
    header = etree.SubElement(env, f"{{{SOAP_NS}}}Header")
    info = etree.SubElement(header, _a("ServerVersionInfo"), nsmap={"h": A_NS, "i": XSI_NS})
    for key in ("MajorVersion", "MinorVersion", "MajorBuildNumber", "MinorBuildNumber"):
        _text(info, key, SERVER_VERSION[key])
    _text(info, "Version", "Exchange2015")  # what a 15.x Autodiscover names itself
    body = etree.SubElement(env, f"{{{SOAP_NS}}}Body")
    message = etree.SubElement(
        body, _a("GetUserSettingsResponseMessage"), nsmap={None: A_NS, "i": XSI_NS}
    )
    message.append(response)
    return XML_DECLARATION + etree.tostring(env, encoding="utf-8")


def request_error(message: str) -> bytes:
    """The whole request refused (``Response/ErrorCode`` InvalidRequest, no user answers)."""
    response = etree.Element(_a("Response"))
    _text(response, "ErrorCode", "InvalidRequest")
    _text(response, "ErrorMessage", message)
    return _envelope(response)


def get_user_settings(state: SandboxState, raw: bytes, host: str) -> bytes:
    """The answer to an authenticated GetUserSettings request."""
    users, wanted = parse_request(raw)
    response = etree.Element(_a("Response"))
    _text(response, "ErrorCode", "NoError")
    _text(response, "ErrorMessage", None)
    answers = etree.SubElement(response, _a("UserResponses"))
    for address in users:
        answer = etree.SubElement(answers, _a("UserResponse"))
        found = user_settings(state, address, host)
        if found is None:
            _text(answer, "ErrorCode", "InvalidUser")
            _text(answer, "ErrorMessage", f"Invalid user '{address}'.")
            etree.SubElement(answer, _a("RedirectTarget"), {f"{{{XSI_NS}}}nil": "true"})
            etree.SubElement(answer, _a("UserSettingErrors"))
            etree.SubElement(answer, _a("UserSettings"))
            continue
        _text(answer, "ErrorCode", "NoError")
        _text(answer, "ErrorMessage", "No error.")
        etree.SubElement(answer, _a("RedirectTarget"), {f"{{{XSI_NS}}}nil": "true"})
        etree.SubElement(answer, _a("UserSettingErrors"))
        settings = etree.SubElement(answer, _a("UserSettings"))
        for name in wanted:
            if name not in found:
                continue
            setting = etree.SubElement(
                settings, _a("UserSetting"), {f"{{{XSI_NS}}}type": "StringSetting"}
            )
            _text(setting, "Name", name)
            _text(setting, "Value", found[name])
    return _envelope(response)
