"""Contacts between the store (EWS property names) and Graph's JSON (``microsoft.graph.contact``).

One store, two views: every Graph property reads and writes the EWS property Exchange backs it
with, so a contact written over one protocol reads the same over the other. Property names and
types are those of the CSDL excerpt (``../shared/graph-schema/``); nothing else is emitted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ews_sandbox.store import ExtKey, Item
from lxml import html as lxml_html

from graph_sandbox.errors import GraphError

# Graph string property -> EWS element (ContactItemType) holding it.
STRINGS: dict[str, str] = {
    "givenName": "GivenName",
    "middleName": "MiddleName",
    "surname": "Surname",
    "initials": "Initials",
    "nickName": "Nickname",
    "generation": "Generation",
    "displayName": "DisplayName",
    "fileAs": "FileAs",
    "companyName": "CompanyName",
    "jobTitle": "JobTitle",
    "department": "Department",
    "officeLocation": "OfficeLocation",
    "profession": "Profession",
    "manager": "Manager",
    "assistantName": "AssistantName",
    "businessHomePage": "BusinessHomePage",
    "spouseName": "SpouseName",
    "yomiGivenName": "PhoneticFirstName",
    "yomiSurname": "PhoneticLastName",
}
# No EWS element: title is MAPI PidTagDisplayNamePrefix (readable over EWS as tag 0x3A45);
# yomiCompanyName is kept where EWS does not show it.
TITLE_KEY = ExtKey(None, None, None, 0x3A45, "String")
YOMI_COMPANY = "graph:yomiCompanyName"
# MAPI properties Graph v1.0 shows only as extended properties while EWS has an element for them:
# both name one stored value. PidTagBusinessFaxNumber (MS-OXPROPS 0x3A24, PT_UNICODE) is EWS's
# BusinessFax phone; Graph's contact has no fax property.
FAX_KEY = ExtKey(None, None, None, 0x3A24, "String")
ELEMENT_KEYS: dict[ExtKey, tuple[str, str]] = {FAX_KEY: ("PhoneNumbers", "BusinessFax")}


def extended_values(item: Item) -> dict[ExtKey, Any]:
    """The item's extended properties as Graph sees them: its own, plus the element-backed ones."""
    values = dict(item.ext)
    for key, (dictionary, entry) in ELEMENT_KEYS.items():
        value = (item.props.get(dictionary) or {}).get(entry)
        if value:
            values[key] = value
    return values


EMAIL_NAMES = "graph:emailAddressNames"  # EWS keeps only the address of each EmailAddressN
# Graph collection -> (EWS dictionary, its keys in slot order).
SLOTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "businessPhones": ("PhoneNumbers", ("BusinessPhone", "BusinessPhone2")),
    "homePhones": ("PhoneNumbers", ("HomePhone", "HomePhone2")),
    "imAddresses": ("ImAddresses", ("ImAddress1", "ImAddress2", "ImAddress3")),
    "emailAddresses": ("EmailAddresses", ("EmailAddress1", "EmailAddress2", "EmailAddress3")),
}
SINGLE_EMAILS = {
    "primaryEmailAddress": "EmailAddress1",
    "secondaryEmailAddress": "EmailAddress2",
    "tertiaryEmailAddress": "EmailAddress3",
}
ADDRESSES = {"homeAddress": "Home", "businessAddress": "Business", "otherAddress": "Other"}
ADDRESS_PARTS = {
    "street": "Street",
    "city": "City",
    "state": "State",
    "countryOrRegion": "CountryOrRegion",
    "postalCode": "PostalCode",
}
# Caps Graph enforces on writes (reference §0.6).
CAPS = {"emailAddresses": 3, "businessPhones": 2}
READ_ONLY = frozenset({"id", "changeKey", "createdDateTime", "lastModifiedDateTime"})
# The order Graph lists a contact's properties in (its documentation's examples).
ORDER: tuple[str, ...] = (
    "id", "createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "parentFolderId",
    "birthday", "fileAs", "displayName", "givenName", "initials", "middleName", "nickName",
    "surname", "title", "yomiGivenName", "yomiSurname", "yomiCompanyName", "generation",
    "imAddresses", "jobTitle", "companyName", "department", "officeLocation", "profession",
    "businessHomePage", "assistantName", "manager", "homePhones", "mobilePhone", "businessPhones",
    "spouseName", "personalNotes", "children", "emailAddresses", "homeAddress", "businessAddress",
    "otherAddress",
)  # fmt: skip
# In the CSDL but only returned when selected (UNVERIFIED how Graph treats them by default).
SELECT_ONLY: tuple[str, ...] = tuple(SINGLE_EMAILS)
ALL_PROPERTIES = frozenset(ORDER) | frozenset(SELECT_ONLY)


def graph_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _email_names(item: Item) -> dict[str, str]:
    return item.props.get(EMAIL_NAMES) or {}


def _email(item: Item, slot: str) -> dict[str, str] | None:
    address = (item.props.get("EmailAddresses") or {}).get(slot)
    if not address:
        return None
    return {"name": _email_names(item).get(slot) or address, "address": address}


def _notes(item: Item) -> str | None:
    body = item.props.get("Body")
    if not body:
        return None
    body_type, text = body
    if body_type == "HTML" and text:
        return lxml_html.fromstring(text).text_content()
    return text


def property_value(item: Item, name: str, *, folder_id: str) -> Any:
    """The JSON value of one contact property (``id`` and ``@odata.etag`` are added by callers)."""
    props = item.props
    if name in STRINGS:
        return props.get(STRINGS[name])
    if name in SLOTS:
        dictionary, keys = SLOTS[name]
        if name == "emailAddresses":
            return [e for e in (_email(item, k) for k in keys) if e]
        entries = props.get(dictionary) or {}
        return [entries[k] for k in keys if entries.get(k)]
    if name in SINGLE_EMAILS:
        return _email(item, SINGLE_EMAILS[name])
    if name in ADDRESSES:
        stored = (props.get("PhysicalAddresses") or {}).get(ADDRESSES[name]) or {}
        return {g: stored[e] for g, e in ADDRESS_PARTS.items() if stored.get(e)}
    if name == "createdDateTime":
        return graph_datetime(item.created)
    if name == "lastModifiedDateTime":
        return graph_datetime(item.modified)
    if name == "categories":
        return list(props.get("Categories") or [])
    if name == "parentFolderId":
        return folder_id
    if name == "birthday":
        birthday = props.get("Birthday")
        return graph_datetime(birthday) if birthday else None
    if name == "title":
        return item.ext.get(TITLE_KEY)
    if name == "yomiCompanyName":
        return props.get(YOMI_COMPANY)
    if name == "mobilePhone":
        return (props.get("PhoneNumbers") or {}).get("MobilePhone")
    if name == "personalNotes":
        return _notes(item)
    if name == "children":
        return list(props.get("Children") or [])
    msg = f"unknown contact property {name}"
    raise KeyError(msg)


# -- writes ----------------------------------------------------------------------------------
def _type_error(value: Any, edm: str) -> GraphError:
    literal = "null" if value is None else str(value)
    return GraphError(
        400,
        "RequestBodyRead",
        f"Cannot convert the literal '{literal}' to the expected type '{edm}'.",
    )


def _unknown_property(name: str, type_name: str) -> GraphError:
    return GraphError(
        400,
        "RequestBodyRead",
        f"The property '{name}' does not exist on type '{type_name}'. Make sure to only use "
        "property names that are defined by the type or mark the type as open type.",
    )


def _string(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _type_error(value, "Edm.String")


def _strings(name: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _type_error(value, "Collection(Edm.String)")
    out = []
    for entry in value:
        if not isinstance(entry, str):
            raise _type_error(entry, "Edm.String")
        out.append(entry)
    return out


def _datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _type_error(value, "Edm.DateTimeOffset")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _type_error(value, "Edm.DateTimeOffset") from exc
    if parsed.tzinfo is None:
        raise _type_error(value, "Edm.DateTimeOffset")
    return parsed.astimezone(UTC)


def _complex(value: Any, parts: tuple[str, ...], type_name: str) -> dict[str, str | None] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _type_error(value, type_name)
    out: dict[str, str | None] = {}
    for key, part in value.items():
        if key.startswith("@odata."):
            continue
        if key not in parts:
            raise _unknown_property(key, type_name)
        out[key] = _string(part)
    return out


def _emails(value: Any) -> list[tuple[str, str | None]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _type_error(value, "Collection(microsoft.graph.emailAddress)")
    out = []
    for entry in value:
        parsed = _complex(entry, ("address", "name"), "microsoft.graph.emailAddress") or {}
        if parsed.get("address"):
            out.append((parsed["address"] or "", parsed.get("name")))
    return out


class ContactChanges:
    """Store changes one POST/PATCH body asks for; ``changed`` uses UpdateItem's keys."""

    def __init__(self) -> None:
        self.props: dict[str, Any] = {}  # EWS name -> new value (None: remove)
        self.dicts: dict[tuple[str, str], Any] = {}  # (dictionary, key) -> value (None: remove)
        self.ext: dict[ExtKey, str | None] = {}
        self.email_names: dict[str, str | None] = {}
        self.changed: set[str] = set()

    def set_prop(self, name: str, value: Any) -> None:
        self.props[name] = value
        self.changed.add(name)

    def set_entry(self, dictionary: str, key: str, value: Any) -> None:
        self.dicts[(dictionary, key)] = value
        self.changed.update((f"{dictionary}:{key}", dictionary))

    def apply(self, props: dict[str, Any], ext: dict[ExtKey, Any]) -> None:
        for name, value in self.props.items():
            if value in (None, [], ""):
                props.pop(name, None)
            else:
                props[name] = value
        for (dictionary, key), value in self.dicts.items():
            entries = dict(props.get(dictionary) or {})
            if value in (None, "", {}):
                entries.pop(key, None)
            else:
                entries[key] = value
            if entries:
                props[dictionary] = entries
            else:
                props.pop(dictionary, None)
        if self.email_names:
            names = dict(props.get(EMAIL_NAMES) or {})
            for slot, name in self.email_names.items():
                if name:
                    names[slot] = name
                else:
                    names.pop(slot, None)
            props[EMAIL_NAMES] = names
        for key, value in self.ext.items():
            if value is None:
                ext.pop(key, None)
            else:
                ext[key] = value


def parse_contact_body(
    body: Any, *, current: Item | None, parse_ext: Any, folder_id: str | None = None
) -> ContactChanges:
    """Validate a POST/PATCH body against the contact type and turn it into store changes.

    ``parse_ext`` turns a ``singleValueExtendedProperties`` entry's id into an ExtKey.
    """
    if not isinstance(body, dict):
        raise GraphError(400, "RequestBodyRead", "The request body must be a JSON object.")
    changes = ContactChanges()
    for name, value in body.items():
        if name.startswith("@odata.") or "@odata." in name:
            continue  # annotations such as "@odata.type" (msgraph-sdk sends it)
        if name in READ_ONLY:
            raise GraphError(
                400,
                "ErrorInvalidProperty",
                f"The property '{name}' is read-only and cannot be set.",
            )
        if name == "parentFolderId":
            if value != folder_id:
                raise GraphError(
                    400,
                    "ErrorInvalidProperty",
                    "parentFolderId cannot be changed here (the sandbox does not move contacts "
                    "through PATCH).",
                )
            continue
        if name in STRINGS:
            changes.set_prop(STRINGS[name], _string(value))
        elif name == "title":
            changes.ext[TITLE_KEY] = _string(value) or None
            changes.changed.add(f"ext:{TITLE_KEY}")
        elif name == "yomiCompanyName":
            changes.set_prop(YOMI_COMPANY, _string(value))
        elif name == "categories":
            changes.set_prop("Categories", _strings(name, value))
        elif name == "children":
            changes.set_prop("Children", _strings(name, value))
        elif name == "birthday":
            changes.set_prop("Birthday", _datetime(value))
        elif name == "personalNotes":
            text = _string(value)
            changes.set_prop("Body", ("Text", text) if text else None)
        elif name == "mobilePhone":
            changes.set_entry("PhoneNumbers", "MobilePhone", _string(value))
        elif name == "emailAddresses":
            emails = _emails(value)
            if len(emails) > CAPS[name]:
                raise _cap_error(name, CAPS[name])
            _, slots = SLOTS[name]
            for index, slot in enumerate(slots):
                address, display = emails[index] if index < len(emails) else (None, None)
                changes.set_entry("EmailAddresses", slot, address)
                changes.email_names[slot] = display if display != address else None
        elif name in SINGLE_EMAILS:
            slot = SINGLE_EMAILS[name]
            parsed = _complex(value, ("address", "name"), "microsoft.graph.emailAddress") or {}
            changes.set_entry("EmailAddresses", slot, parsed.get("address"))
            display = parsed.get("name")
            changes.email_names[slot] = display if display != parsed.get("address") else None
        elif name in SLOTS:
            values = _strings(name, value)
            dictionary, slots = SLOTS[name]
            if len(values) > CAPS.get(name, len(slots)):
                raise _cap_error(name, CAPS.get(name, len(slots)))
            if len(values) > len(slots):
                raise _cap_error(name, len(slots))
            for index, slot in enumerate(slots):
                changes.set_entry(dictionary, slot, values[index] if index < len(values) else None)
        elif name in ADDRESSES:
            parsed = _complex(value, tuple(ADDRESS_PARTS), "microsoft.graph.physicalAddress")
            key = ADDRESSES[name]
            if parsed is None:
                changes.set_entry("PhysicalAddresses", key, None)
                continue
            stored = dict(
                ((current.props if current else {}).get("PhysicalAddresses") or {}).get(key) or {}
            )
            for part, text in parsed.items():
                if text:
                    stored[ADDRESS_PARTS[part]] = text
                else:
                    stored.pop(ADDRESS_PARTS[part], None)
                changes.changed.add(f"PhysicalAddresses:{key}:{ADDRESS_PARTS[part]}")
            changes.set_entry("PhysicalAddresses", key, stored or None)
        elif name == "singleValueExtendedProperties":
            if not isinstance(value, list):
                raise _type_error(
                    value, "Collection(microsoft.graph.singleValueLegacyExtendedProperty)"
                )
            for entry in value:
                if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                    raise GraphError(
                        400, "ErrorInvalidProperty", "An extended property needs an 'id'."
                    )
                unknown = set(entry) - {"id", "value"} - {k for k in entry if k.startswith("@")}
                if unknown:
                    raise _unknown_property(
                        sorted(unknown)[0], "microsoft.graph.singleValueLegacyExtendedProperty"
                    )
                key = parse_ext(entry["id"])
                if key in ELEMENT_KEYS:
                    changes.set_entry(*ELEMENT_KEYS[key], _string(entry.get("value")))
                    continue
                changes.ext[key] = _string(entry.get("value"))
                changes.changed.add(f"ext:{key}")
        elif name in ("multiValueExtendedProperties", "extensions", "photo"):
            raise GraphError(
                400, "ErrorInvalidRequest", f"The sandbox does not store {name} on contacts."
            )
        else:
            raise _unknown_property(name, "microsoft.graph.contact")
    return changes


def _cap_error(name: str, cap: int) -> GraphError:
    """UNVERIFIED code (reference §0.6 reports the message only)."""
    return GraphError(
        400,
        "ErrorInvalidArgument",
        f"The number of items in '{name}' exceeds the max allowed value of {cap}.",
    )
