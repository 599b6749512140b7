"""SOAP envelopes, ResponseMessages and Faults in the shapes Exchange 2016 sends."""

from __future__ import annotations

from lxml import etree

from ews_sandbox.errors import EwsError, SoapFaultError
from ews_sandbox.xml import BODY_NSMAP, E_NS, SOAP_NS, T_NS, m, sub, t

# 15.1 build ⇒ exchangelib treats the server as Exchange2016 (reference §1.1 and §12).
SERVER_VERSION = {
    "MajorVersion": "15",
    "MinorVersion": "1",
    "MajorBuildNumber": "2507",
    "MinorBuildNumber": "6",
    "Version": "V2017_07_11",
}
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'


def envelope(body_child: etree._Element, *, with_header: bool = True) -> bytes:
    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"s": SOAP_NS})
    if with_header:
        header = etree.SubElement(env, f"{{{SOAP_NS}}}Header")
        etree.SubElement(header, f"{{{T_NS}}}ServerVersionInfo", SERVER_VERSION, nsmap={"h": T_NS})
    body = etree.SubElement(env, f"{{{SOAP_NS}}}Body")
    body.append(body_child)
    # exchangelib only parses a 500 answer whose body starts with "<?xml" or "<s:Envelope".
    return XML_DECLARATION + etree.tostring(env, encoding="utf-8")


def response_root(operation: str) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(m(f"{operation}Response"), nsmap=BODY_NSMAP)
    return root, sub(root, m("ResponseMessages"))


def success(messages: etree._Element, operation: str) -> etree._Element:
    el = sub(messages, m(f"{operation}ResponseMessage"), ResponseClass="Success")
    sub(el, m("ResponseCode"), "NoError")
    return el


def error(
    messages: etree._Element, operation: str, err: EwsError, *, empty: str | None = None
) -> etree._Element:
    """An Error ResponseMessage; ``empty`` names a required empty container (``Items``)."""
    el = sub(messages, m(f"{operation}ResponseMessage"), ResponseClass="Error")
    sub(el, m("MessageText"), err.text)
    sub(el, m("ResponseCode"), err.code)
    sub(el, m("DescriptiveLinkKey"), "0")
    if empty:
        sub(el, m(empty))
    return el


def fault(err: SoapFaultError) -> bytes:
    """A SOAP 1.1 Fault carrying the EWS code (and hints such as BackOffMilliseconds)."""
    body_fault = etree.Element(f"{{{SOAP_NS}}}Fault", nsmap={"s": SOAP_NS})
    code = etree.SubElement(body_fault, "faultcode", nsmap={"a": T_NS})
    code.text = f"a:{err.code}"
    faultstring = sub(body_fault, "faultstring", err.text)
    faultstring.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    detail = sub(body_fault, "detail")
    etree.SubElement(detail, f"{{{E_NS}}}ResponseCode", nsmap={"e": E_NS}).text = err.code
    etree.SubElement(detail, f"{{{E_NS}}}Message", nsmap={"e": E_NS}).text = err.text
    if err.values:
        xml = etree.SubElement(detail, t("MessageXml"), nsmap={"t": T_NS})
        for name, value in err.values.items():
            sub(xml, t("Value"), value, Name=name)
    return envelope(body_fault, with_header=False)
