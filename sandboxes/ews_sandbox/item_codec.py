"""Reading items out of requests and writing them into responses, by property path and shape.

A *path* names one property the way EWS does (``t:FieldURI``, ``t:IndexedFieldURI`` or
``t:ExtendedFieldURI``); a *shape* is the set of paths a response may carry. Responses never
carry more than the shape asks for, and always in XSD sequence order.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree
from lxml import html as lxml_html

from ews_sandbox.errors import EwsError, SoapFaultError
from ews_sandbox.properties import (
    ADDRESS_PARTS,
    BOOL_FIELDS,
    DATETIME_FIELDS,
    DICT_FIELDS,
    INDEX_KEYS,
    INDEXED_URIS,
    INT_FIELDS,
    ITEM_DEFAULT_SHAPE,
    NOT_IN_FIND_ITEM,
    READ_ONLY_ITEM_FIELDS,
    STRING_LIST_FIELDS,
    element_for_uri,
)
from ews_sandbox.schema_tables import (
    CONTACT_ORDER,
    DICTIONARY_URIS,
    DISTRIBUTION_LIST_ORDER,
    UNINDEXED_FIELD_URIS,
)
from ews_sandbox.store import DISTINGUISHED_PROPERTY_SETS, ExtKey, Item, Mailbox
from ews_sandbox.xml import (
    elements,
    format_bool,
    format_datetime,
    local,
    parse_bool,
    parse_datetime,
    sub,
    t,
)

ORDERS = {"Contact": CONTACT_ORDER, "DistributionList": DISTRIBUTION_LIST_ORDER}
ITEM_CLASSES = {"Contact": "IPM.Contact", "DistributionList": "IPM.DistList"}
COMPUTED_ALWAYS = frozenset(
    {
        "ItemId", "ParentFolderId", "ItemClass", "Sensitivity", "DateTimeReceived", "Size",
        "Importance", "IsSubmitted", "IsDraft", "IsFromMe", "IsResend", "IsUnmodified",
        "DateTimeCreated", "ReminderIsSet", "ReminderMinutesBeforeStart", "HasAttachments",
        "Culture", "EffectiveRights", "LastModifiedName", "LastModifiedTime", "IsAssociated",
        "CompleteName", "ContactSource", "HasPicture", "PostalAddressIndex", "MimeContent",
        "FileAs",
    }
)  # fmt: skip
ALL_PROPERTIES_EXCLUDED = frozenset({"MimeContent"})
COMPLETE_NAME_PARTS = (
    ("Title", None), ("FirstName", "GivenName"), ("MiddleName", "MiddleName"),
    ("LastName", "Surname"), ("Suffix", "Generation"), ("Initials", "Initials"),
    ("FullName", "DisplayName"), ("Nickname", "Nickname"),
)  # fmt: skip


# -- paths ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldPath:
    name: str  # element local name


@dataclass(frozen=True)
class IndexedPath:
    dictionary: str  # EmailAddresses | PhoneNumbers | ImAddresses | PhysicalAddresses
    key: str
    part: str | None = None  # Street/City/... for PhysicalAddresses


@dataclass(frozen=True)
class ExtPath:
    key: ExtKey
    attrs: tuple[tuple[str, str], ...]  # as the client spelled it, echoed back


Path = FieldPath | IndexedPath | ExtPath


def invalid_property(text: str = "The property is not valid for this operation.") -> EwsError:
    return EwsError("ErrorInvalidPropertyRequest", text)


def ext_key(el: etree._Element) -> ExtKey:
    attrs = el.attrib
    ptype = attrs.get("PropertyType")
    if not ptype:
        raise SoapFaultError(
            "ErrorSchemaValidation", "The required attribute 'PropertyType' is missing."
        )
    set_id = attrs.get("PropertySetId")
    if attrs.get("DistinguishedPropertySetId"):
        set_id = DISTINGUISHED_PROPERTY_SETS.get(attrs["DistinguishedPropertySetId"])
    name = attrs.get("PropertyName")
    raw_id = attrs.get("PropertyId")
    raw_tag = attrs.get("PropertyTag")
    try:
        prop_id = int(raw_id) if raw_id is not None else None
        tag = int(raw_tag, 0) if raw_tag is not None else None
    except ValueError as exc:
        raise EwsError("ErrorInvalidExtendedProperty", "The extended property is invalid.") from exc
    named = set_id is not None and ((name is None) != (prop_id is None))
    tagged = tag is not None and set_id is None and name is None and prop_id is None
    if not (named or tagged):
        raise EwsError(
            "ErrorInvalidExtendedProperty",
            "The extended property attribute combination is invalid.",
        )
    return ExtKey(set_id.upper() if set_id else None, name, prop_id, tag, ptype)


def parse_path(el: etree._Element) -> Path:
    kind = local(el)
    if kind == "FieldURI":
        uri = el.get("FieldURI", "")
        if uri not in UNINDEXED_FIELD_URIS:
            raise SoapFaultError(
                "ErrorSchemaValidation",
                f"The request failed schema validation: '{uri}' is not a valid FieldURI.",
            )
        # A valid URI of another item type (calendar:…) simply never has a value on contacts.
        return FieldPath(element_for_uri(uri) or uri)
    if kind == "IndexedFieldURI":
        uri, index = el.get("FieldURI", ""), el.get("FieldIndex", "")
        if uri not in DICTIONARY_URIS:
            raise SoapFaultError(
                "ErrorSchemaValidation",
                f"The request failed schema validation: '{uri}' is not a valid IndexedFieldURI.",
            )
        if uri not in INDEXED_URIS:
            raise invalid_property(f"The indexed property {uri} is not valid.")
        dictionary, part = INDEXED_URIS[uri]
        if index not in INDEX_KEYS[dictionary]:
            raise invalid_property(f"The field index {index} is not valid for {uri}.")
        return IndexedPath(dictionary, index, part)
    if kind == "ExtendedFieldURI":
        return ExtPath(ext_key(el), tuple(sorted(el.attrib.items())))
    raise invalid_property(f"Unexpected property path {kind}.")


# -- shapes --------------------------------------------------------------------------------------
@dataclass
class Shape:
    base: str = "IdOnly"
    fields: set[str] = field(default_factory=set)
    indexed: dict[str, set] = field(default_factory=dict)
    ext: list[ExtPath] = field(default_factory=list)
    body_type: str = "Best"
    _plans: dict[str, list[str]] = field(default_factory=dict)

    def plan(self, kind: str) -> list[str]:
        """Element names this shape emits for ``kind``, in XSD order (cached per kind)."""
        if kind not in self._plans:
            wanted = set(self.fields) | set(self.indexed)
            if self.base == "Default":
                wanted |= ITEM_DEFAULT_SHAPE
            elif self.base == "AllProperties":
                wanted |= set(ORDERS[kind]) - ALL_PROPERTIES_EXCLUDED
            wanted.add("ItemId")
            if self.ext:
                wanted.add("ExtendedProperty")
            self._plans[kind] = [n for n in ORDERS[kind] if n in wanted]
        return self._plans[kind]

    def whole(self, name: str) -> bool:
        return (
            name in self.fields
            or (self.base == "Default" and name in ITEM_DEFAULT_SHAPE)
            or self.base == "AllProperties"
        )


def parse_shape(shape_el: etree._Element | None, *, for_find: bool = False) -> Shape:
    shape = Shape()
    if shape_el is None:
        return shape
    base = shape_el.find(t("BaseShape"))
    shape.base = (base.text or "IdOnly").strip() if base is not None else "IdOnly"
    body_type = shape_el.find(t("BodyType"))
    if body_type is not None and body_type.text:
        shape.body_type = body_type.text.strip()
    additional = shape_el.find(t("AdditionalProperties"))
    for path_el in elements(additional) if additional is not None else []:
        path = parse_path(path_el)
        if isinstance(path, FieldPath):
            if for_find and path.name in NOT_IN_FIND_ITEM:
                raise invalid_property("The property can't be used in FindItem requests.")
            shape.fields.add(path.name)
        elif isinstance(path, IndexedPath):
            wanted = path.key if path.part is None else (path.key, path.part)
            shape.indexed.setdefault(path.dictionary, set()).add(wanted)
        else:
            shape.ext.append(path)
    return shape


# -- reading items from requests -----------------------------------------------------------------
def _schema_error(name: str, text: str | None) -> SoapFaultError:
    return SoapFaultError(
        "ErrorSchemaValidation",
        f"The request failed schema validation: the value '{text}' of element '{name}' is invalid.",
    )


def decode_value(name: str, el: etree._Element) -> Any:
    """Python value of one item property element (raises a schema fault on bad values)."""
    text = el.text or ""
    try:
        if name in BOOL_FIELDS:
            return parse_bool(text)
        if name in INT_FIELDS:
            return int(text)
        if name in DATETIME_FIELDS:
            return parse_datetime(text)
    except ValueError as exc:
        raise _schema_error(name, text) from exc
    if name in STRING_LIST_FIELDS:
        return [s.text or "" for s in el.findall(t("String"))]
    if name == "Body":
        return (el.get("BodyType", "Text"), text)
    if name in DICT_FIELDS:
        return {e.get("Key"): (e.text or "") for e in el.findall(t("Entry"))}
    if name == "PhysicalAddresses":
        out: dict[str, dict[str, str]] = {}
        for entry in el.findall(t("Entry")):
            parts = {local(p): (p.text or "") for p in elements(entry)}
            out[entry.get("Key")] = parts
        return out
    if name == "Members":
        members = []
        for member in el.findall(t("Member")):
            mbox = member.find(t("Mailbox"))
            members.append(
                {local(p): (p.text or "") for p in elements(mbox)} if mbox is not None else {}
            )
        return members
    return text


def decode_ext_value(el: etree._Element, key: ExtKey) -> Any:
    values = el.find(t("Values"))
    if values is not None:
        result: Any = [v.text or "" for v in values.findall(t("Value"))]
        return result if key.is_array else result[0] if result else ""
    value = el.find(t("Value"))
    text = "" if value is None else (value.text or "")
    return [text] if key.is_array else text


def parse_item_element(el: etree._Element) -> tuple[str, dict[str, Any], dict[ExtKey, Any]]:
    """(kind, properties, extended properties) of a ``t:Contact``/``t:DistributionList``."""
    kind = local(el)
    if kind not in ORDERS:
        raise EwsError(
            "ErrorUnsupportedTypeForConversion",
            f"This server stores contacts and distribution lists only, not {kind} items.",
        )
    props: dict[str, Any] = {}
    ext: dict[ExtKey, Any] = {}
    for child in elements(el):
        name = local(child)
        if name == "ExtendedProperty":
            uri = child.find(t("ExtendedFieldURI"))
            if uri is None:
                raise _schema_error(name, None)
            key = ext_key(uri)
            ext[key] = decode_ext_value(child, key)
        elif name == "MimeContent":
            continue  # the sandbox keeps structured properties only
        elif name in READ_ONLY_ITEM_FIELDS:
            raise EwsError("ErrorInvalidPropertySet", f"Set action is invalid for property {name}.")
        else:
            props[name] = decode_value(name, child)
    return kind, props, ext


def default_display_name(props: dict[str, Any]) -> str:
    names = [props.get(k) for k in ("GivenName", "MiddleName", "Surname")]
    joined = " ".join(n for n in names if n)
    if joined:
        return joined
    if props.get("CompanyName"):
        return props["CompanyName"]
    emails = props.get("EmailAddresses") or {}
    return next(iter(emails.values()), "")


def default_file_as(props: dict[str, Any]) -> str:
    """Outlook's default ``LastCommaFirst``, falling back to the company or display name."""
    given, surname = props.get("GivenName"), props.get("Surname")
    if surname and given:
        return f"{surname}, {given}"
    return surname or given or props.get("CompanyName") or props.get("DisplayName") or ""


# -- values of items -----------------------------------------------------------------------------
def value_of(item: Item, name: str, mailbox: Mailbox) -> Any:
    """Stored or server-computed value of one property (None when the item has none)."""
    props = item.props
    if name in props:
        return props[name]
    if name not in COMPUTED_ALWAYS:
        return None
    if name in ("DateTimeReceived", "DateTimeCreated"):
        return item.created
    if name == "LastModifiedTime":
        return item.modified
    if name == "LastModifiedName":
        return mailbox.display_name
    if name == "ItemClass":
        return ITEM_CLASSES[item.kind]
    if name in ("Sensitivity", "Importance"):
        return "Normal"
    if name in ("IsSubmitted", "IsDraft", "IsFromMe", "IsResend", "IsUnmodified", "ReminderIsSet",
                "HasAttachments", "IsAssociated", "HasPicture"):  # fmt: skip
        return False
    if name == "ReminderMinutesBeforeStart":
        return 0
    if name == "Culture":
        return "en-US"
    if name == "ContactSource":
        return "Store"
    if name == "Size":
        return 512 + sum(len(str(v)) for v in props.values())
    if name == "PostalAddressIndex":
        return "None" if item.kind == "Contact" else None
    if name == "FileAs":
        return props.get("DisplayName") if item.kind == "DistributionList" else None
    if name == "CompleteName":
        return item.kind == "Contact" or None
    return name  # ItemId, ParentFolderId, EffectiveRights, MimeContent: rendered specially


def values_for(item: Item, path: Path, mailbox: Mailbox) -> list[Any]:
    """All values a restriction or sort sees for ``path`` (multi-valued fields give several)."""
    if isinstance(path, ExtPath):
        value = item.ext.get(path.key)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]
    if isinstance(path, IndexedPath):
        entries = item.props.get(path.dictionary) or {}
        value = entries.get(path.key)
        if value is None:
            return []
        if path.part is not None:
            value = value.get(path.part)
        elif isinstance(value, dict):
            return [v for v in value.values() if v]
        return [] if value is None else [value]
    if path.name == "ItemId":
        return [item.id]
    if path.name == "ParentFolderId":
        return [item.folder.id]
    value = value_of(item, path.name, mailbox)
    if value is None:
        return []
    if path.name == "Body":
        return [value[1]]
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [v for v in value.values() if v]
    if path.name in ("CompleteName", "EffectiveRights", "MimeContent"):
        return []
    return [value]


def path_kind(path: Path) -> str:
    """Value kind used to compare constants: datetime, bool, int, float or str."""
    if isinstance(path, ExtPath):
        ptype = path.key.type.removesuffix("Array")
        return {
            "SystemTime": "datetime",
            "Boolean": "bool",
            "Integer": "int",
            "Short": "int",
            "Long": "int",
            "Double": "float",
            "Float": "float",
        }.get(ptype, "str")
    if isinstance(path, FieldPath):
        if path.name in DATETIME_FIELDS:
            return "datetime"
        if path.name in BOOL_FIELDS:
            return "bool"
        if path.name in INT_FIELDS:
            return "int"
    return "str"


# -- writing items into responses ----------------------------------------------------------------
def _body_text(value: tuple[str, str], wanted: str) -> tuple[str, str]:
    stored_type, text = value
    if wanted in ("Best", stored_type) or not text:
        return (stored_type, text)
    if wanted == "Text":
        return ("Text", lxml_html.fromstring(text).text_content())
    page = etree.Element("html")
    etree.SubElement(page, "body").text = text
    return ("HTML", etree.tostring(page, encoding="unicode", method="html"))


def _vcard(item: Item) -> bytes:
    """A small vCard 3.0, what Exchange hands out as a contact's MimeContent."""

    def esc(value: str) -> str:
        return (
            value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")
        )

    p = item.props
    lines = ["BEGIN:VCARD", "VERSION:3.0"]
    lines.append(f"N:{esc(p.get('Surname', ''))};{esc(p.get('GivenName', ''))};;;")
    lines.append(f"FN:{esc(p.get('DisplayName', ''))}")
    if p.get("CompanyName"):
        lines.append(f"ORG:{esc(p['CompanyName'])}")
    if p.get("JobTitle"):
        lines.append(f"TITLE:{esc(p['JobTitle'])}")
    for address in (p.get("EmailAddresses") or {}).values():
        lines.append(f"EMAIL;TYPE=INTERNET:{esc(address)}")
    for label, number in (p.get("PhoneNumbers") or {}).items():
        lines.append(f"TEL;TYPE={label.upper()}:{esc(number)}")
    if p.get("Categories"):
        lines.append("CATEGORIES:" + ",".join(esc(c) for c in p["Categories"]))
    lines.append(f"REV:{format_datetime(item.modified)}")
    lines.append("END:VCARD")
    return ("\r\n".join(lines) + "\r\n").encode()


def _render(
    parent: etree._Element, name: str, value: Any, item: Item, *, shape: Shape, mailbox: Mailbox
) -> None:
    if name == "ParentFolderId":
        sub(parent, t(name), Id=item.folder.id, ChangeKey=mailbox.change_key(item.folder))
    elif name == "MimeContent":
        sub(parent, t(name), base64.b64encode(_vcard(item)).decode(), CharacterSet="UTF-8")
    elif name == "EffectiveRights":
        rights = sub(parent, t(name))
        for right, allowed in (("CreateAssociated", False), ("CreateContents", False),
                               ("CreateHierarchy", False), ("Delete", True), ("Modify", True),
                               ("Read", True), ("ViewPrivateItems", True)):  # fmt: skip
            sub(rights, t(right), format_bool(allowed))
    elif name == "CompleteName":
        complete = etree.Element(t(name))
        for part, source in COMPLETE_NAME_PARTS:
            text = item.props.get(source) if source else None
            if text:
                sub(complete, t(part), text)
        if len(complete):
            parent.append(complete)
    elif name == "Body":
        body_type, text = _body_text(value, shape.body_type)
        sub(parent, t(name), text, BodyType=body_type)
    elif name in STRING_LIST_FIELDS:
        if value:
            array = sub(parent, t(name))
            for text in value:
                sub(array, t("String"), text)
    elif name in DICT_FIELDS or name == "PhysicalAddresses":
        _render_dictionary(parent, name, value, shape)
    elif name == "Members":
        members = sub(parent, t(name))
        for index, member in enumerate(value):
            member_el = sub(members, t("Member"), Key=f"{item.serial}-{index}")
            mbox = sub(member_el, t("Mailbox"))
            for part in ("Name", "EmailAddress", "RoutingType", "MailboxType"):
                if member.get(part):
                    sub(mbox, t(part), member[part])
            sub(member_el, t("Status"), "Normal")
    elif isinstance(value, bool):
        sub(parent, t(name), format_bool(value))
    elif isinstance(value, datetime):
        sub(parent, t(name), format_datetime(value))
    else:
        sub(parent, t(name), str(value))


def _render_dictionary(parent: etree._Element, name: str, value: dict, shape: Shape) -> None:
    whole = shape.whole(name)
    wanted = shape.indexed.get(name, set())
    entries = []
    for key in INDEX_KEYS[name]:
        if key not in value:
            continue
        if name == "PhysicalAddresses":
            parts = [
                (p, value[key][p])
                for p in ADDRESS_PARTS
                if p in value[key] and (whole or (key, p) in wanted)
            ]
            if parts:
                entries.append((key, parts))
        elif whole or key in wanted:
            entries.append((key, value[key]))
    if not entries:
        return
    dictionary = sub(parent, t(name))
    for key, content in entries:
        entry = sub(dictionary, t("Entry"), Key=key)
        if name == "PhysicalAddresses":
            for part, text in content:
                sub(entry, t(part), text)
        else:
            entry.text = content


def render_item(parent: etree._Element, item: Item, shape: Shape, mailbox: Mailbox) -> None:
    el = sub(parent, t(item.kind))
    for name in shape.plan(item.kind):
        if name == "ItemId":
            sub(el, t("ItemId"), Id=item.id, ChangeKey=mailbox.change_key(item))
        elif name == "ExtendedProperty":
            for path in shape.ext:
                if path.key in item.ext:
                    render_ext(el, path, item.ext[path.key])
        else:
            value = value_of(item, name, mailbox)
            if value is not None:
                _render(el, name, value, item, shape=shape, mailbox=mailbox)


def render_ext(parent: etree._Element, path: ExtPath, value: Any) -> None:
    prop = sub(parent, t("ExtendedProperty"))
    sub(prop, t("ExtendedFieldURI"), **dict(path.attrs))
    if isinstance(value, list):
        values = sub(prop, t("Values"))
        for text in value:
            sub(values, t("Value"), text)
    else:
        sub(prop, t("Value"), value)


def render_item_id(parent: etree._Element, item: Item, mailbox: Mailbox) -> None:
    el = sub(parent, t(item.kind))
    sub(el, t("ItemId"), Id=item.id, ChangeKey=mailbox.change_key(item))
