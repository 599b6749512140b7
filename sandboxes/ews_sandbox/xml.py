"""Namespaces and small lxml helpers shared by every operation (trees built, never templated)."""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
M_NS = "http://schemas.microsoft.com/exchange/services/2006/messages"
T_NS = "http://schemas.microsoft.com/exchange/services/2006/types"
E_NS = "http://schemas.microsoft.com/exchange/services/2006/errors"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# Responses use the s/m/t prefixes Exchange uses, declared once on the body's first child.
BODY_NSMAP = {"m": M_NS, "t": T_NS}

# A hardened parser: no network, no entity expansion (requests come from any client).
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def m(name: str) -> str:
    return f"{{{M_NS}}}{name}"


def t(name: str) -> str:
    return f"{{{T_NS}}}{name}"


def local(el: etree._Element) -> str:
    return etree.QName(el).localname


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrs) if attrs else etree.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def children(el: etree._Element | None, tag: str) -> list[etree._Element]:
    return [] if el is None else el.findall(tag)


def child_text(el: etree._Element | None, tag: str) -> str | None:
    if el is None:
        return None
    found = el.find(tag)
    return None if found is None else (found.text or "")


def elements(el: etree._Element | None) -> list[etree._Element]:
    """Element children only (comments and processing instructions skipped); None has none."""
    return [] if el is None else [c for c in el if isinstance(c.tag, str)]


def format_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> datetime:
    """xs:dateTime as EWS sends it (Z, offsets or naive UTC, optional fractions)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_bool(text: str) -> bool:
    """xs:boolean: exchangelib sends 0/1 for some fields and true/false for others."""
    value = text.strip().lower()
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    msg = f"not an xs:boolean: {text!r}"
    raise ValueError(msg)


def format_bool(value: bool) -> str:
    return "true" if value else "false"
